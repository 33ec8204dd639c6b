rule random_search:
    """The control: random search with the GA's number of trainings, and its best over the final seeds."""
    input:
        f"{RANDOM_DIR}/fitness.tsv",
        f"{RANDOM_DIR}/best.tsv",
        plot_file("ga_vs_random"),
        f"{OUT}/final/comparison.tsv",


checkpoint random_population:
    input:
        generation_file(0, "population"),
    output:
        f"{RANDOM_DIR}/population.tsv",
    log:
        log_file("random_population", "random"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
        spec=GA_SPEC,
        seed=TRAIN_SEED,
    shell:
        "python {params.script:q} random --spec {params.spec:q} --train-seed {params.seed:q} "
        "--population {input:q} --out {output:q} > {log:q} 2>&1"


rule collect_random:
    input:
        population=f"{RANDOM_DIR}/population.tsv",
        results=get_random_results,
    output:
        report(
            f"{RANDOM_DIR}/fitness.tsv",
            caption="../report/random_search.rst",
            category="1. GA search",
            labels={"table": "random search (control)"},
        ),
    log:
        log_file("collect_random", "random"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} collect --population {input.population:q} --results {input.results:q} "
        "--out {output:q} > {log:q} 2>&1"


rule best_random:
    input:
        f"{RANDOM_DIR}/fitness.tsv",
    output:
        f"{RANDOM_DIR}/best.tsv",
    log:
        log_file("best_random", "random"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} best --random --fitness {input:q} --out {output:q} > {log:q} 2>&1"
