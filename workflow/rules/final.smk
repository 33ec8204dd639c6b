checkpoint lr_find:
    input:
        data=PREPARED,
    output:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    log:
        log_file("lr_find", "lr_find"),
    conda:
        "../../envs/train.yaml"
    params:
        script=script("lr_find.py"),
        data=get_folder("data"),
        out=get_folder("tsv"),
        settings=get_train_settings(),
        start=config["lr_find"]["start_lr"],
        end=config["lr_find"]["end_lr"],
        steps=config["lr_find"]["steps"],
        wd=config["baseline"]["wd"],
        mom=config["baseline"]["mom"],
        seed=TRAIN_SEED,
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} "
        "{params.settings} --wd {params.wd:q} --mom {params.mom:q} --seed {params.seed:q} "
        "--start-lr {params.start:q} --end-lr {params.end:q} --steps {params.steps:q} "
        "> {log:q} 2>&1"


checkpoint plan:
    input:
        best=f"{OUT}/ga/best.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
        random=get_random_best,
    output:
        f"{OUT}/final/plan.tsv",
    log:
        log_file("plan", "plan"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
        baseline=json.dumps(config["baseline"], sort_keys=True),
        seed=TRAIN_SEED,
        seeds=config["final"]["seeds"],
    shell:
        "python {params.script:q} plan --best {input.best:q} --suggestion {input.suggestion:q} "
        "--baseline {params.baseline:q} --train-seed {params.seed:q} --final-seeds {params.seeds:q} "
        "--random-best {input.random:q} --out {output:q} > {log:q} 2>&1"


rule baseline:
    input:
        get_baseline_result,


rule evaluate:
    input:
        data=PREPARED,
        result=run_file("{run}", "result"),
        model=run_file("{run}", "model"),
    output:
        metrics=run_file("{run}", "test"),
        predictions=run_file("{run}", "predictions"),
    log:
        log_file("evaluate", "{run}"),
    conda:
        "../../envs/train.yaml"
    params:
        script=script("evaluate.py"),
        data=get_folder("data"),
    shell:
        "python {params.script:q} test --data {params.data:q} --result {input.result:q} --model {input.model:q} "
        "--out {output.metrics:q} --out-predictions {output.predictions:q} > {log:q} 2>&1"


rule compare:
    input:
        tests=get_final_tests,
        predictions=get_best_predictions,
        results=get_all_results,
        plan=f"{OUT}/final/plan.tsv",
    output:
        comparison=report(
            f"{OUT}/final/comparison.tsv",
            caption="../report/comparison.rst",
            category="3. Final comparison (test set)",
            labels={"table": "GA best vs baseline"},
        ),
        predictions=f"{OUT}/final/predictions.tsv",
        verdict=f"{OUT}/final/verdict.txt",
    log:
        log_file("compare", "compare"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("evaluate.py"),
    shell:
        "python {params.script:q} compare --plan {input.plan:q} --tests {input.tests:q} "
        "--best-predictions {input.predictions:q} --out {output.comparison:q} "
        "--out-predictions {output.predictions:q} --results {input.results:q} "
        "--out-verdict {output.verdict:q} > {log:q} 2>&1"


rule environments:
    input:
        get_all_results,
    output:
        report(
            f"{OUT}/environments.tsv",
            caption="../report/environments.rst",
            category="5. Environments",
            labels={"table": "what produced the numbers"},
        ),
    log:
        log_file("environments", "environments"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} environments --results {input:q} --out {output:q} > {log:q} 2>&1"
