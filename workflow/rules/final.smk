checkpoint lr_find:
    input:
        data=f"{PREPARED}/meta.json",
    output:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    log:
        f"{OUT}/logs/lr_find/lr_find.log",
    conda:
        "../../envs/train.yaml"
    params:
        script=script("lr_find.py"),
        data=get_folder("data"),
        out=get_folder("tsv"),
        settings=run_settings(),
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
    output:
        f"{OUT}/final/plan.tsv",
    log:
        f"{OUT}/logs/plan/plan.log",
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
        "--out {output:q} > {log:q} 2>&1"


rule baseline:
    input:
        baseline_result,


rule evaluate:
    input:
        data=f"{PREPARED}/meta.json",
        result=f"{OUT}/runs/{{run}}/result.json",
        model=f"{OUT}/runs/{{run}}/model.pt",
    output:
        metrics=f"{OUT}/runs/{{run}}/test.json",
        predictions=f"{OUT}/runs/{{run}}/test_predictions.tsv",
    log:
        f"{OUT}/logs/evaluate/{{run}}.log",
    conda:
        "../../envs/train.yaml"
    params:
        script=script("evaluate.py"),
        data=get_folder("data"),
        out=get_folder("metrics"),
    shell:
        "python {params.script:q} test --data {params.data:q} --run {params.out:q} "
        "> {log:q} 2>&1"


rule compare:
    input:
        tests=final_tests,
        predictions=best_predictions,
        results=all_results,
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
        f"{OUT}/logs/compare/compare.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("evaluate.py"),
        plan=f"{OUT}/final/plan.tsv",
        runs=f"{OUT}/runs",
    shell:
        "python {params.script:q} compare --plan {params.plan:q} --runs {params.runs:q} "
        "--out {output.comparison:q} --out-predictions {output.predictions:q} "
        "--results {input.results:q} --out-verdict {output.verdict:q} > {log:q} 2>&1"
