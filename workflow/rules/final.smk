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
        settings=run_settings(),
        start=config["lr_find"]["start_lr"],
        end=config["lr_find"]["end_lr"],
        steps=config["lr_find"]["steps"],
        wd=config["baseline"]["wd"],
        mom=config["baseline"]["mom"],
        seed=TRAIN_SEED,
    shell:
        "python {params.script} --data $(dirname {input.data}) --out $(dirname {output.tsv}) "
        "{params.settings} --wd {params.wd} --mom {params.mom} --seed {params.seed} "
        "--start-lr {params.start} --end-lr {params.end} --steps {params.steps} "
        "--threads {threads} > {log} 2>&1"


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
        "python {params.script} plan --best {input.best} --suggestion {input.suggestion} "
        "--baseline {params.baseline:q} --train-seed {params.seed} --final-seeds {params.seeds} "
        "--out {output} > {log} 2>&1"


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
    shell:
        "python {params.script} test --data $(dirname {input.data}) --run $(dirname {output.metrics}) "
        "--threads {threads} > {log} 2>&1"


rule compare:
    input:
        final_tests,
        best_predictions,
    output:
        comparison=report(
            f"{OUT}/final/comparison.tsv",
            caption="../report/comparison.rst",
            category="3. Final comparison (test set)",
            labels={"table": "GA best vs baseline"},
        ),
        predictions=f"{OUT}/final/predictions.tsv",
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
        "python {params.script} compare --plan {params.plan} --runs {params.runs} "
        "--out {output.comparison} --out-predictions {output.predictions} > {log} 2>&1"
