checkpoint lr_find:
    input:
        f"{PREPARED}/meta.json",
    output:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    log:
        f"{OUT}/logs/lr_find/lr_find.log",
    params:
        data=PREPARED,
        settings=run_settings(),
        start=config["lr_find"]["start_lr"],
        end=config["lr_find"]["end_lr"],
        steps=config["lr_find"]["steps"],
        wd=config["baseline"]["wd"],
        mom=config["baseline"]["mom"],
        seed=TRAIN_SEED,
    threads: 4
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/lr_find.py --data {params.data} --out $(dirname {output.tsv}) "
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
    params:
        baseline=json.dumps(config["baseline"], sort_keys=True),
        seed=TRAIN_SEED,
        seeds=config["final"]["seeds"],
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/ga.py plan --best {input.best} --suggestion {input.suggestion} "
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
    params:
        data=PREPARED,
    threads: 2
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/evaluate.py test --data {params.data} --run $(dirname {output.metrics}) "
        "--threads {threads} > {log} 2>&1"


rule compare:
    input:
        final_tests,
        best_predictions,
    output:
        comparison=f"{OUT}/final/comparison.tsv",
        predictions=f"{OUT}/final/predictions.tsv",
    log:
        f"{OUT}/logs/compare/compare.log",
    params:
        plan=f"{OUT}/final/plan.tsv",
        runs=f"{OUT}/runs",
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/evaluate.py compare --plan {params.plan} --runs {params.runs} "
        "--out {output.comparison} --out-predictions {output.predictions} > {log} 2>&1"
