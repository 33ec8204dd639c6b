checkpoint init_population:
    output:
        f"{OUT}/ga/gen0/population.tsv",
    log:
        f"{OUT}/logs/init_population/gen0.log",
    params:
        spec=GA_SPEC,
        seed=TRAIN_SEED,
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/ga.py init --spec {params.spec:q} --train-seed {params.seed} "
        "--out {output} > {log} 2>&1"


rule train:
    input:
        f"{PREPARED}/meta.json",
    output:
        result=f"{OUT}/runs/{{run}}/result.json",
        model=f"{OUT}/runs/{{run}}/model.pt",
        metrics=f"{OUT}/runs/{{run}}/metrics.tsv",
        schedule=f"{OUT}/runs/{{run}}/schedule.tsv",
    log:
        f"{OUT}/logs/train/{{run}}.log",
    params:
        data=PREPARED,
        settings=run_settings(),
    threads: 4
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/train.py --data {params.data} --out $(dirname {output.result}) "
        "--genome {wildcards.run} {params.settings} --threads {threads} > {log} 2>&1"


rule collect_fitness:
    input:
        fitness_inputs,
    output:
        f"{OUT}/ga/gen{{g}}/fitness.tsv",
    log:
        f"{OUT}/logs/collect_fitness/gen{{g}}.log",
    params:
        population=f"{OUT}/ga/gen{{g}}/population.tsv",
        runs=f"{OUT}/runs",
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/ga.py collect --population {params.population} --runs {params.runs} "
        "--out {output} > {log} 2>&1"


checkpoint next_generation:
    input:
        previous_fitness,
    output:
        f"{OUT}/ga/gen{{g}}/population.tsv",
    wildcard_constraints:
        g=r"[1-9]\d*",
    log:
        f"{OUT}/logs/next_generation/gen{{g}}.log",
    params:
        spec=GA_SPEC,
        seed=TRAIN_SEED,
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/ga.py next --spec {params.spec:q} --train-seed {params.seed} "
        "--fitness {input} --gen {wildcards.g} --out {output} > {log} 2>&1"


rule best:
    input:
        fitness_tables(),
    output:
        f"{OUT}/ga/best.tsv",
    log:
        f"{OUT}/logs/best/best.log",
    conda:
        "../../envs/ga.yaml"
    shell:
        "python {SCRIPTS}/ga.py best --fitness {input} --out {output} > {log} 2>&1"
