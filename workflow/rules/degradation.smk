rule degradation:
    input:
        f"{OUT}/degradation/table.tsv",
        plot_file("degradation"),


rule train_degradation:
    input:
        data=PREPARED,
    output:
        result=degradation_file(DEGRADATION_RUN, "result.json"),
        metrics=degradation_file(DEGRADATION_RUN, "metrics.tsv"),
    log:
        log_file("train_degradation", DEGRADATION_RUN),
    wildcard_constraints:
        kind="plain|resnet",
        depth=r"\d+",
        seed=r"\d+",
    conda:
        "../../envs/train.yaml"
    params:
        script=script("train.py"),
        data=get_folder("data"),
        out=get_folder("result"),
        settings=get_degradation_settings,
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} "
        "{params.settings} > {log:q} 2>&1"


rule degradation_table:
    input:
        [degradation_file(run, "metrics.tsv") for run in DEGRADATION_RUNS],
    output:
        report(
            f"{OUT}/degradation/table.tsv",
            caption="../report/degradation_table.rst",
            category="4. Degradation (paper Fig. 6)",
            labels={"table": "final test error"},
        ),
    log:
        log_file("degradation_table", "table"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} degradation-table --metrics {input:q} --out {output:q} > {log:q} 2>&1"


rule plot_degradation:
    input:
        [degradation_file(run, "metrics.tsv") for run in DEGRADATION_RUNS],
    output:
        report(
            plot_file("degradation"),
            caption="../report/degradation.rst",
            category="4. Degradation (paper Fig. 6)",
            labels={"figure": "plain vs residual"},
        ),
    log:
        log_file("plot_degradation", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} degradation --metrics {input:q} --out {output:q} > {log:q} 2>&1"
