rule degradation:
    input:
        f"{OUT}/degradation/table.tsv",
        f"{OUT}/plots/degradation.png",


rule train_degradation:
    input:
        data=f"{PREPARED}/meta.json",
    output:
        result=f"{OUT}/degradation/runs/{{arch}}_seed{{seed}}/result.json",
        metrics=f"{OUT}/degradation/runs/{{arch}}_seed{{seed}}/metrics.tsv",
    log:
        f"{OUT}/logs/train_degradation/{{arch}}_seed{{seed}}.log",
    wildcard_constraints:
        arch=r"(plain|resnet)\d+",
        seed=r"-?\d+",
    conda:
        "../../envs/train.yaml"
    params:
        script=script("train.py"),
        data=get_folder("data"),
        out=get_folder("result"),
        settings=degradation_args,
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} "
        "{params.settings} > {log:q} 2>&1"


rule degradation_table:
    input:
        expand(f"{OUT}/degradation/runs/{{run}}/metrics.tsv", run=DEGRADATION_RUNS),
    output:
        report(
            f"{OUT}/degradation/table.tsv",
            caption="../report/degradation_table.rst",
            category="4. Degradation (paper Fig. 6)",
            labels={"table": "final test error"},
        ),
    log:
        f"{OUT}/logs/degradation_table/table.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} degradation-table --metrics {input:q} --out {output:q} > {log:q} 2>&1"


rule plot_degradation:
    input:
        expand(f"{OUT}/degradation/runs/{{run}}/metrics.tsv", run=DEGRADATION_RUNS),
    output:
        report(
            f"{OUT}/plots/degradation.png",
            caption="../report/degradation.rst",
            category="4. Degradation (paper Fig. 6)",
            labels={"figure": "plain vs residual"},
        ),
    log:
        f"{OUT}/logs/plot_degradation/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} degradation --metrics {input:q} --out {output:q} > {log:q} 2>&1"
