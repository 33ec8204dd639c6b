rule train:
    """One training run, named by its genome and seed: a GA individual, the baseline or a final seed."""
    input:
        data=PREPARED,
        elites=get_early_stop_elites,
    output:
        result=run_file("{run}", "result"),
        model=run_file("{run}", "model"),
        metrics=run_file("{run}", "metrics"),
        schedule=run_file("{run}", "schedule"),
    log:
        log_file("train", "{run}"),
    conda:
        "../../envs/train.yaml"
    params:
        script=script("train.py"),
        data=get_folder("data"),
        out=get_folder("result"),
        settings=get_train_settings(),
        stop=get_early_stop_settings(),
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} --genome {wildcards.run:q} "
        "{params.settings} {params.stop} --stop-against {input.elites:q} > {log:q} 2>&1"
