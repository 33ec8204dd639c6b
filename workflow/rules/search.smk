checkpoint init_population:
    """Round 0 of a repeat: one initial population, shared by every method."""
    input:
        meta=PREPARED_META,
    output:
        update(round_file("{repeat}", None, 0, "population")),
    log:
        log_file("init_population", "rep{repeat}"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
        settings=SEARCH_SETTINGS,
        seed=get_search_seed,
    shell:
        "python {params.script:q} init --spec {params.spec:q} --settings {params.settings:q} --meta {input.meta:q} "
        "--train-seed {params.seed:q} --repeat {wildcards.repeat:q} --out {output:q} > {log:q} 2>&1"


rule collect_fitness:
    """A round's table joined with its runs' results."""
    input:
        population=get_table_population,
        results=get_table_results,
    output:
        update(f"{OUT}/search/{{table}}/fitness.tsv"),
    log:
        log_file("collect_fitness", "{table}"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} collect --spec {params.spec:q} --population {input.population:q} "
        "--results {input.results:q} --out {output:q} > {log:q} 2>&1"


checkpoint propose:
    """Round k of a method: the elites so far, then the strategy's new genomes (strategies/)."""
    input:
        meta=PREPARED_META,
        history=get_history,
    output:
        update(round_file("{repeat}", "{method}", "{k}", "population")),
    log:
        log_file("propose", "rep{repeat}_{method}_round{k}"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
        settings=SEARCH_SETTINGS,
        seed=get_search_seed,
    shell:
        "python {params.script:q} propose --spec {params.spec:q} --settings {params.settings:q} "
        "--meta {input.meta:q} --train-seed {params.seed:q} --method {wildcards.method:q} "
        "--repeat {wildcards.repeat:q} --round {wildcards.k:q} --history {input.history:q} --out {output:q} > {log:q} 2>&1"


rule summarize:
    """Every individual of every search, a summary per round, and each search's best."""
    input:
        fitness=get_fitness_tables(),
        results=get_search_results,
    output:
        individuals=update(
            report(
                search_file("individuals"),
                caption="../report/individuals.rst",
                category="1. Search",
                labels={"table": "every individual"},
            )
        ),
        summary=update(
            report(
                search_file("summary"),
                caption="../report/summary.rst",
                category="1. Search",
                labels={"table": "per round"},
            )
        ),
        best=update(search_file("best")),
    log:
        log_file("summarize", "summarize"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=get_script("search.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} summarize --spec {params.spec:q} --fitness {input.fitness:q} --results {input.results:q} "
        "--out-individuals {output.individuals:q} --out-summary {output.summary:q} --out-best {output.best:q} "
        "> {log:q} 2>&1"
