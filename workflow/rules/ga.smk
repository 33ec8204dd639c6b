checkpoint init_population:
    output:
        f"{OUT}/ga/gen0/population.tsv",
    log:
        f"{OUT}/logs/init_population/gen0.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
        spec=GA_SPEC,
        seed=TRAIN_SEED,
    shell:
        "python {params.script:q} init --spec {params.spec:q} --train-seed {params.seed:q} "
        "--out {output:q} > {log:q} 2>&1"


rule train:
    input:
        data=f"{PREPARED}/meta.json",
    output:
        result=f"{OUT}/runs/{{run}}/result.json",
        model=f"{OUT}/runs/{{run}}/model.pt",
        metrics=f"{OUT}/runs/{{run}}/metrics.tsv",
        schedule=f"{OUT}/runs/{{run}}/schedule.tsv",
    log:
        f"{OUT}/logs/train/{{run}}.log",
    conda:
        "../../envs/train.yaml"
    params:
        script=script("train.py"),
        data=get_folder("data"),
        out=get_folder("result"),
        settings=run_settings(),
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} "
        "--genome {wildcards.run:q} {params.settings} > {log:q} 2>&1"


rule collect_fitness:
    input:
        fitness_inputs,
    output:
        f"{OUT}/ga/gen{{g}}/fitness.tsv",
    log:
        f"{OUT}/logs/collect_fitness/gen{{g}}.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
        population=f"{OUT}/ga/gen{{g}}/population.tsv",
        runs=f"{OUT}/runs",
    shell:
        "python {params.script:q} collect --population {params.population:q} --runs {params.runs:q} "
        "--out {output:q} > {log:q} 2>&1"


checkpoint next_generation:
    input:
        fitness=previous_fitness,
        history=earlier_fitness,
    output:
        f"{OUT}/ga/gen{{g}}/population.tsv",
    log:
        f"{OUT}/logs/next_generation/gen{{g}}.log",
    wildcard_constraints:
        g=r"[1-9]\d*",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
        spec=GA_SPEC,
        seed=TRAIN_SEED,
    shell:
        "python {params.script:q} next --spec {params.spec:q} --train-seed {params.seed:q} "
        "--fitness {input.fitness:q} --history {input.history:q} --gen {wildcards.g:q} --out {output:q} > {log:q} 2>&1"


rule best:
    input:
        fitness_tables(),
    output:
        f"{OUT}/ga/best.tsv",
    log:
        f"{OUT}/logs/best/best.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} best --fitness {input:q} --out {output:q} > {log:q} 2>&1"
