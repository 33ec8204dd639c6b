rule download_data:
    output:
        update(directory(f"{OUT}/data/raw/{{dataset}}")),
    log:
        log_file("download_data", "{dataset}"),
    wildcard_constraints:
        dataset="cifar10|cifar100",
    localrule: True  # compute nodes are often offline
    conda:
        "../../envs/train.yaml"
    params:
        script=get_script("data.py"),
    shell:
        "python {params.script:q} download --dataset {wildcards.dataset:q} --root {output:q} > {log:q} 2>&1"


rule synthetic_data:
    output:
        update(directory(f"{OUT}/data/raw/synthetic")),
    log:
        log_file("synthetic_data", "synthetic"),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/train.yaml"
    params:
        script=get_script("data.py"),
        n_train=config["data"]["synthetic"]["train"],
        n_test=config["data"]["synthetic"]["test"],
        seed=config["data"]["synthetic"]["seed"],
        noise=config["data"]["synthetic"]["noise"],
    shell:
        "python {params.script:q} synthetic --root {output:q} --train {params.n_train:q} "
        "--test {params.n_test:q} --seed {params.seed:q} --noise {params.noise:q} > {log:q} 2>&1"


checkpoint prepare_data:
    input:
        get_raw_data(),
    output:
        arrays=[update(prepared(name)) for name in layout.PREPARED_FILES[:-1]],
        meta=update(PREPARED_META),
    log:
        log_file("prepare_data", DATASET),
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/train.yaml"
    params:
        script=get_script("data.py"),
        out=get_folder("meta"),
        dataset=DATASET,
        md5_flag="" if config["data"]["verify_md5"] else "--no-md5",
        image_size=config["data"]["image_size"],
        fit=get_data_fit(),
    shell:
        "python {params.script:q} prepare --data-dir {input:q} --out {params.out:q} --dataset {params.dataset:q} "
        "{params.md5_flag} --image-size {params.image_size:q} {params.fit} > {log:q} 2>&1"
