checkpoint lr_find:
    """The LR range test behind the baseline "without GA" (baseline.lr auto)."""
    input:
        data=PREPARED,
    output:
        tsv=update(f"{OUT}/lr_find/lr_find.tsv"),
        suggestion=update(f"{OUT}/lr_find/suggestion.json"),
    log:
        log_file("lr_find", "lr_find"),
    conda:
        "../../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,
        gpu_model=get_gpu_model(),
        mem_mb=16000,
        runtime=30,
    params:
        script=get_script("lr_find.py"),
        data=get_folder("data"),
        out=get_folder("tsv"),
        settings=get_lr_find_flags(),
        options=get_lr_find_options(),
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} {params.settings} {params.options} "
        "> {log:q} 2>&1"


checkpoint plan:
    """The baseline and the final retraining of every search's best."""
    input:
        best=search_file("best"),
        suggestion=f"{OUT}/lr_find/suggestion.json",
        meta=PREPARED_META,
    output:
        update(final_file("plan.tsv")),
    log:
        log_file("plan", "plan"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
        settings=SEARCH_SETTINGS,
        baseline=json.dumps(config["baseline"], sort_keys=True),
        seed=TRAIN_SEED,
        seeds=config["final"]["seeds"],
    shell:
        "python {params.script:q} plan --spec {params.spec:q} --settings {params.settings:q} --meta {input.meta:q} "
        "--best {input.best:q} --suggestion {input.suggestion:q} --baseline {params.baseline:q} "
        "--train-seed {params.seed:q} --final-seeds {params.seeds:q} --out {output:q} > {log:q} 2>&1"


rule baseline:
    input:
        get_baseline_result,


rule evaluate:
    """One run's weights on the test set."""
    input:
        data=PREPARED,
        result=run_file("{run}", "result"),
        model=run_file("{run}", "model"),
    output:
        metrics=update(run_file("{run}", "test")),
        predictions=update(run_file("{run}", "predictions")),
    log:
        log_file("evaluate", "{run}"),
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
        gpu_model=get_gpu_model(),
        mem_mb=8000,
        runtime=15,
    params:
        script=get_script("evaluate.py"),
        data=get_folder("data"),
        options=get_evaluate_options(),
    shell:
        "python {params.script:q} --data {params.data:q} --result {input.result:q} --model {input.model:q} "
        "--out {output.metrics:q} --out-predictions {output.predictions:q} {params.options} > {log:q} 2>&1"


rule compare:
    """The methods and the baseline on the test set, and the verdict (verdict.py)."""
    input:
        plan=final_file("plan.tsv"),
        tests=get_final_tests,
        predictions=get_reference_predictions,
        results=get_all_results,
        meta=PREPARED_META,
        test_labels=prepared("test_y.npy"),
        suggestion=f"{OUT}/lr_find/suggestion.json",
    output:
        comparison=update(
            report(
                final_file("comparison.tsv"),
                caption="../report/comparison.rst",
                category="3. Final comparison (test set)",
                labels={"table": "every method and the baseline"},
            )
        ),
        differences=update(
            report(
                final_file("differences.tsv"),
                caption="../report/differences.rst",
                category="3. Final comparison (test set)",
                labels={"table": "differences with intervals"},
            )
        ),
        predictions=update(final_file("predictions.tsv")),
        verdict=update(final_file("verdict.txt")),
    log:
        log_file("compare", "compare"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("verdict.py"),
        spec=SEARCH_CONFIG,
        baseline=json.dumps(config["baseline"], sort_keys=True),
    shell:
        "python {params.script:q} --spec {params.spec:q} --plan {input.plan:q} --tests {input.tests:q} "
        "--results {input.results:q} --meta {input.meta:q} --test-labels {input.test_labels:q} "
        "--suggestion {input.suggestion:q} "
        "--baseline {params.baseline:q} "
        "--best-predictions {input.predictions:q} --out-comparison {output.comparison:q} "
        "--out-differences {output.differences:q} --out-predictions {output.predictions:q} "
        "--out-verdict {output.verdict:q} > {log:q} 2>&1"


rule environments:
    input:
        get_all_results,
    output:
        update(
            report(
                f"{OUT}/environments.tsv",
                caption="../report/environments.rst",
                category="5. Environments",
                labels={"table": "what produced the numbers"},
            )
        ),
    log:
        log_file("environments", "environments"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} environments --spec {params.spec:q} --results {input:q} --out {output:q} > {log:q} 2>&1"
