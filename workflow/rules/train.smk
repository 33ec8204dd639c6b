rule train:
    """One training run, named by its identity (identity.py): a search's individual, the baseline, a
    final seed or a degradation run."""
    input:
        data=PREPARED,
        elites=get_stop_against,
    output:
        result=update(run_file("{run}", "result")),
        model=update(run_file("{run}", "model")),
        metrics=update(run_file("{run}", "metrics")),
        schedule=update(run_file("{run}", "schedule")),
    log:
        log_file("train", "{run}"),
    conda:
        "../../envs/train.yaml"
    threads: 4
    resources:
        gpu=1,  # one training job per GPU: --resources gpu=<GPUs> runs that many at once
        gpu_model=get_gpu_model(),  # on SLURM: --gpus=<model>:1 where RESNET_GA_GPU_MODEL is set
        mem_mb=16000,
        runtime=120,  # minutes; a ResNet-50 run of 15 epochs took ~1 min on an H100 (docs/cluster.md)
    params:
        script=get_script("train.py"),
        data=get_folder("data"),
        out=get_folder("result"),
        settings=get_run_flags,
        stop=get_stop_flags,
        options=get_run_options(),
    shell:
        "python {params.script:q} --data {params.data:q} --out {params.out:q} --genome {wildcards.run:q} "
        "{params.settings} {params.stop} {params.options} --stop-against {input.elites:q} > {log:q} 2>&1"
