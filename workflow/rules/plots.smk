rule plot_ga_progress:
    input:
        fitness=get_fitness_tables(),
    output:
        report(
            plot_file("ga_progress"),
            caption="../report/ga_progress.rst",
            category="1. GA search",
            labels={"figure": "fitness per generation"},
        ),
    log:
        log_file("plot_ga_progress", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} ga-progress --fitness {input.fitness:q} --out {output:q} > {log:q} 2>&1"


rule plot_search_space:
    input:
        fitness=get_fitness_tables(),
    output:
        report(
            plot_file("search_space"),
            caption="../report/search_space.rst",
            category="1. GA search",
            labels={"figure": "search space"},
        ),
    log:
        log_file("plot_search_space", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} search-space --fitness {input.fitness:q} --out {output:q} > {log:q} 2>&1"


rule plot_training_curves:
    input:
        fitness=get_fitness_tables(),
        plan=f"{OUT}/final/plan.tsv",
        metrics=get_curve_metrics,
    output:
        report(
            plot_file("training_curves"),
            caption="../report/training_curves.rst",
            category="2. Training",
            labels={"figure": "curves with and without GA"},
        ),
    log:
        log_file("plot_training_curves", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        top_k=config["plots"]["top_k"],
    shell:
        "python {params.script:q} training-curves "
        "--fitness {input.fitness:q} --plan {input.plan:q} --metrics {input.metrics:q} --top-k {params.top_k:q} --out {output:q} > {log:q} 2>&1"


rule plot_schedules:
    input:
        fitness=get_fitness_tables(),
        plan=f"{OUT}/final/plan.tsv",
        schedules=get_curve_schedules,
    output:
        report(
            plot_file("schedules"),
            caption="../report/schedules.rst",
            category="2. Training",
            labels={"figure": "lr and momentum schedules"},
        ),
    log:
        log_file("plot_schedules", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} schedules "
        "--fitness {input.fitness:q} --plan {input.plan:q} --schedules {input.schedules:q} --out {output:q} > {log:q} 2>&1"


rule plot_lr_find:
    input:
        tsv=f"{OUT}/lr_find/lr_find.tsv",
        suggestion=f"{OUT}/lr_find/suggestion.json",
    output:
        report(
            plot_file("lr_find"),
            caption="../report/lr_find.rst",
            category="2. Training",
            labels={"figure": "LR finder"},
        ),
    log:
        log_file("plot_lr_find", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
    shell:
        "python {params.script:q} lr-find "
        "--tsv {input.tsv:q} --suggestion {input.suggestion:q} --out {output:q} > {log:q} 2>&1"


rule plot_final_comparison:
    input:
        plan=f"{OUT}/final/plan.tsv",
        tests=get_final_tests,
        comparison=f"{OUT}/final/comparison.tsv",
    output:
        report(
            plot_file("final_comparison"),
            caption="../report/final_comparison.rst",
            category="3. Final comparison (test set)",
            labels={"figure": "GA best vs baseline"},
        ),
    log:
        log_file("plot_final_comparison", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        caption=get_final_caption,  # read by the report's caption
    shell:
        "python {params.script:q} final-comparison "
        "--plan {input.plan:q} --tests {input.tests:q} --comparison {input.comparison:q} --out {output:q} > {log:q} 2>&1"


rule plot_confusion_matrix:
    input:
        predictions=f"{OUT}/final/predictions.tsv",
        meta=PREPARED_META,
    output:
        report(
            plot_file("confusion_matrix"),
            caption="../report/confusion_matrix.rst",
            category="3. Final comparison (test set)",
            labels={"figure": "confusion matrix"},
        ),
    log:
        log_file("plot_confusion_matrix", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        classes=get_class_names,  # read by the report's caption
    shell:
        "python {params.script:q} confusion-matrix "
        "--predictions {input.predictions:q} --meta {input.meta:q} --out {output:q} > {log:q} 2>&1"


rule plot_ga_vs_random:
    input:
        fitness=get_fitness_tables(),
        random=f"{RANDOM_DIR}/fitness.tsv",
    output:
        report(
            plot_file("ga_vs_random"),
            caption="../report/ga_vs_random.rst",
            category="1. GA search",
            labels={"figure": "GA vs random search"},
        ),
    log:
        log_file("plot_ga_vs_random", "plot"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/plot.yaml"
    params:
        script=script("plots.py"),
        caption=get_random_caption,  # read by the report's caption
    shell:
        "python {params.script:q} ga-vs-random --fitness {input.fitness:q} --random {input.random:q} "
        "--out {output:q} > {log:q} 2>&1"
