rule summarize:
    input:
        fitness_tables(),
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
        f"{OUT}/logs/summarize/summarize.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} summarize --fitness {input:q} --out-individuals {output.individuals:q} "
        "--out-summary {output.summary:q} > {log:q} 2>&1"


rule environments:
    input:
        all_results,
    output:
        report(
            f"{OUT}/environments.tsv",
            caption="../report/environments.rst",
            category="5. Environments",
            labels={"table": "what produced the numbers"},
        ),
    log:
        f"{OUT}/logs/environments/environments.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/ga.yaml"
    params:
        script=script("ga.py"),
    shell:
        "python {params.script:q} environments --results {input:q} --out {output:q} > {log:q} 2>&1"


rule plot_progress:
    input:
        fitness_tables(),
    output:
        report(
            f"{OUT}/plots/ga_progress.png",
            caption="../report/ga_progress.rst",
            category="1. GA search",
            labels={"figure": "fitness per generation"},
        ),
    log:
        f"{OUT}/logs/plot_progress/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} progress --fitness {input:q} --out {output:q} > {log:q} 2>&1"


rule plot_search_space:
    input:
        fitness_tables(),
    output:
        report(
            f"{OUT}/plots/search_space.png",
            caption="../report/search_space.rst",
            category="1. GA search",
            labels={"figure": "search space"},
        ),
    log:
        f"{OUT}/logs/plot_search_space/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} search-space --fitness {input:q} --out {output:q} > {log:q} 2>&1"


rule plot_curves:
    input:
        fitness=fitness_tables(),
        plan=f"{OUT}/final/plan.tsv",
        runs=curve_inputs,
    output:
        curves=report(
            f"{OUT}/plots/training_curves.png",
            caption="../report/training_curves.rst",
            category="2. Training",
            labels={"figure": "curves with and without GA"},
        ),
        schedules=report(
            f"{OUT}/plots/schedules.png",
            caption="../report/schedules.rst",
            category="2. Training",
            labels={"figure": "lr and momentum schedules"},
        ),
    log:
        f"{OUT}/logs/plot_curves/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        runs=f"{OUT}/runs",
        top_k=config["plots"]["top_k"],
    shell:
        "(python {params.script:q} curves --fitness {input.fitness:q} --plan {input.plan:q} --runs {params.runs:q} "
        "--top-k {params.top_k:q} --out {output.curves:q} && "
        "python {params.script:q} schedules --fitness {input.fitness:q} --plan {input.plan:q} "
        "--runs {params.runs:q} --out {output.schedules:q}) > {log:q} 2>&1"


rule plot_lr_find:
    input:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    output:
        report(
            f"{OUT}/plots/lr_find.png",
            caption="../report/lr_find.rst",
            category="2. Training",
            labels={"figure": "LR finder"},
        ),
    log:
        f"{OUT}/logs/plot_lr_find/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} lr-find --tsv {input.tsv:q} --suggestion {input.suggestion:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_final:
    input:
        comparison=f"{OUT}/final/comparison.tsv",
        plan=f"{OUT}/final/plan.tsv",
        predictions=f"{OUT}/final/predictions.tsv",
        meta=f"{PREPARED}/meta.json",
    output:
        final=report(
            f"{OUT}/plots/final_comparison.png",
            caption="../report/final_comparison.rst",
            category="3. Final comparison (test set)",
            labels={"figure": "GA best vs baseline"},
        ),
        confusion=report(
            f"{OUT}/plots/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="3. Final comparison (test set)",
            labels={"figure": "confusion matrix"},
        ),
    log:
        f"{OUT}/logs/plot_final/plot.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        runs=f"{OUT}/runs",
        summary=final_caption,
    shell:
        "(python {params.script:q} final --plan {input.plan:q} --runs {params.runs:q} "
        "--comparison {input.comparison:q} --out {output.final:q} && "
        "python {params.script:q} confusion --predictions {input.predictions:q} --meta {input.meta:q} "
        "--out {output.confusion:q}) > {log:q} 2>&1"
