checkpoint init_population:
    output:
        generation_file(0, "population"),
    log:
        log_file("init_population", "gen0"),
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


rule collect_fitness:
    input:
        population=get_generation_population,
        results=get_generation_results,
    output:
        generation_file("{g}", "fitness"),
    log:
        log_file("collect_fitness", "gen{g}"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} collect --population {input.population:q} --results {input.results:q} "
        "--out {output:q} > {log:q} 2>&1"


checkpoint next_generation:
    input:
        fitness=get_previous_fitness,
        history=get_earlier_fitness,
    output:
        generation_file("{g}", "population"),
    log:
        log_file("next_generation", "gen{g}"),
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
        get_fitness_tables(),
    output:
        f"{OUT}/ga/best.tsv",
    log:
        log_file("best", "best"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} best --fitness {input:q} --out {output:q} > {log:q} 2>&1"


rule summarize:
    input:
        get_fitness_tables(),
    output:
        individuals=report(
            f"{OUT}/ga/individuals.tsv",
            caption="../report/individuals.rst",
            category="1. GA search",
            labels={"table": "every individual"},
        ),
        summary=report(
            f"{OUT}/ga/summary.tsv",
            caption="../report/summary.rst",
            category="1. GA search",
            labels={"table": "per generation"},
        ),
    log:
        log_file("summarize", "summarize"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} summarize --fitness {input:q} --out-individuals {output.individuals:q} "
        "--out-summary {output.summary:q} > {log:q} 2>&1"
