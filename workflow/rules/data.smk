rule download_data:
    output:
        directory(f"{OUT}/data/raw/{{dataset}}"),
    log:
        f"{OUT}/logs/download_data/{{dataset}}.log",
    wildcard_constraints:
        dataset="cifar10|cifar100",
    localrule: True  # compute nodes are often offline
    conda:
        "../../envs/train.yaml"
    params:
        script=script("data.py"),
    shell:
        "python {params.script:q} download --dataset {wildcards.dataset:q} --root {output:q} > {log:q} 2>&1"


rule synthetic_data:
    output:
        directory(f"{OUT}/data/raw/synthetic"),
    log:
        f"{OUT}/logs/synthetic_data/synthetic.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/train.yaml"
    params:
        script=script("data.py"),
        n_train=config["data"]["synthetic"]["train"],
        n_test=config["data"]["synthetic"]["test"],
        seed=config["data"]["synthetic"]["seed"],
        noise=config["data"]["synthetic"]["noise"],
    shell:
        "python {params.script:q} synthetic --root {output:q} --train {params.n_train:q} "
        "--test {params.n_test:q} --seed {params.seed:q} --noise {params.noise:q} > {log:q} 2>&1"


rule prepare_data:
    input:
        get_raw_data(),
    output:
        prepared=PREPARED,
    log:
        f"{OUT}/logs/prepare_data/{DATASET}.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/train.yaml"
    params:
        script=script("data.py"),
        out=get_folder("prepared"),
        dataset=DATASET,
        md5_flag="" if config["data"]["verify_md5"] else "--no-md5",
        image_size=config["data"]["image_size"],
    shell:
        "python {params.script:q} prepare --data-dir {input:q} --out {params.out:q} "
        "--dataset {params.dataset:q} {params.md5_flag} --image-size {params.image_size:q} > {log:q} 2>&1"
