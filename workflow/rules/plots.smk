rule plot_search_progress:
    input:
        individuals=search_file("individuals"),
    output:
        update(
            report(
                plot_file("search_progress"),
                caption="../report/search_progress.rst",
                category="1. Search",
                labels={"figure": "best so far per method"},
            )
        ),
    log:
        log_file("plot_search_progress", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} search-progress --spec {params.spec:q} --individuals {input.individuals:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_ga_progress:
    input:
        individuals=search_file("individuals"),
    output:
        update(
            report(
                plot_file("ga_progress"),
                caption="../report/ga_progress.rst",
                category="1. Search",
                labels={"figure": "fitness per generation"},
            )
        ),
    log:
        log_file("plot_ga_progress", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} ga-progress --spec {params.spec:q} --individuals {input.individuals:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_search_space:
    input:
        individuals=search_file("individuals"),
    output:
        update(
            report(
                plot_file("search_space"),
                caption="../report/search_space.rst",
                category="1. Search",
                labels={"figure": "every gene against fitness"},
            )
        ),
    log:
        log_file("plot_search_space", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} search-space --spec {params.spec:q} --individuals {input.individuals:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_training_curves:
    input:
        individuals=search_file("individuals"),
        plan=final_file("plan.tsv"),
        metrics=get_curve_metrics,
        results=get_curve_results,
    output:
        update(
            report(
                plot_file("training_curves"),
                caption="../report/training_curves.rst",
                category="2. Training",
                labels={"figure": "curves with and without the search"},
            )
        ),
    log:
        log_file("plot_training_curves", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
        top_k=config["plots"]["top_k"],
    shell:
        "python {params.script:q} training-curves --spec {params.spec:q} --individuals {input.individuals:q} --plan {input.plan:q} --metrics {input.metrics:q} --results {input.results:q} --top-k {params.top_k:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_schedules:
    input:
        individuals=search_file("individuals"),
        plan=final_file("plan.tsv"),
        schedules=get_curve_schedules,
        results=get_curve_results,
    output:
        update(
            report(
                plot_file("schedules"),
                caption="../report/schedules.rst",
                category="2. Training",
                labels={"figure": "lr and momentum schedules"},
            )
        ),
    log:
        log_file("plot_schedules", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} schedules --spec {params.spec:q} --individuals {input.individuals:q} --plan {input.plan:q} --schedules {input.schedules:q} "
        "--results {input.results:q} --out {output:q} > {log:q} 2>&1"


rule plot_lr_find:
    input:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    output:
        update(
            report(
                plot_file("lr_find"),
                caption="../report/lr_find.rst",
                category="2. Training",
                labels={"figure": "LR finder"},
            )
        ),
    log:
        log_file("plot_lr_find", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
    shell:
        "python {params.script:q} lr-find --spec {params.spec:q} --tsv {input.tsv:q} --suggestion {input.suggestion:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_final_comparison:
    input:
        comparison=final_file("comparison.tsv"),
        plan=final_file("plan.tsv"),
        tests=get_final_tests,
        verdict=final_file("verdict.txt"),
    output:
        update(
            report(
                plot_file("final_comparison"),
                caption="../report/final_comparison.rst",
                category="3. Final comparison (test set)",
                labels={"figure": "every method and the baseline"},
            )
        ),
    log:
        log_file("plot_final_comparison", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
        caption=get_verdict_caption,  # read by the report's caption
    shell:
        "python {params.script:q} final-comparison --spec {params.spec:q} --comparison {input.comparison:q} --plan {input.plan:q} --tests {input.tests:q} --verdict {input.verdict:q} "
        "--out {output:q} > {log:q} 2>&1"


rule plot_confusion_matrix:
    input:
        predictions=final_file("predictions.tsv"),
        meta=PREPARED_META,
    output:
        update(
            report(
                plot_file("confusion_matrix"),
                caption="../report/confusion_matrix.rst",
                category="3. Final comparison (test set)",
                labels={"figure": "confusion matrix"},
            )
        ),
    log:
        log_file("plot_confusion_matrix", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=get_script("plots.py"),
        spec=SEARCH_CONFIG,
        classes=get_class_names,  # read by the report's caption
    shell:
        "python {params.script:q} confusion-matrix --spec {params.spec:q} --predictions {input.predictions:q} --meta {input.meta:q} "
        "--out {output:q} > {log:q} 2>&1"
