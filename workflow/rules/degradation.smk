rule degradation:
    input:
        f"{OUT}/degradation/table.tsv",
        plot_file("degradation"),


rule degradation_table:
    input:
        metrics=get_degradation_metrics,
        results=get_degradation_results,
    output:
        update(
            report(
                f"{OUT}/degradation/table.tsv",
                caption="../report/degradation_table.rst",
                category="4. Degradation (paper Fig. 6)",
                labels={"table": "final test error"},
            )
        ),
    log:
        log_file("degradation_table", "table"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} degradation-table --spec {params.spec:q} --metrics {input.metrics:q} "
        "--results {input.results:q} --out {output:q} > {log:q} 2>&1"


rule plot_degradation:
    input:
        metrics=get_degradation_metrics,
        results=get_degradation_results,
    output:
        update(
            report(
                plot_file("degradation"),
                caption="../report/degradation.rst",
                category="4. Degradation (paper Fig. 6)",
                labels={"figure": "plain vs residual"},
            )
        ),
    log:
        log_file("plot_degradation", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} degradation --spec {params.spec:q} --metrics {input.metrics:q} "
        "--results {input.results:q} --out {output:q} > {log:q} 2>&1"
