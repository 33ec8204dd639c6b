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
        "python {params.script} download --dataset {wildcards.dataset} --root {output} > {log} 2>&1"


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
        "python {params.script} synthetic --root {output} --train {params.n_train} "
        "--test {params.n_test} --seed {params.seed} --noise {params.noise} > {log} 2>&1"


rule prepare_data:
    input:
        raw_data(),
    output:
        arrays=multiext(
            f"{PREPARED}/", "train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"
        ),
        meta=f"{PREPARED}/meta.json",
    log:
        f"{OUT}/logs/prepare_data/{DATASET}.log",
    localrule: True  # light: runs beside Snakemake, not as a cluster job
    conda:
        "../../envs/train.yaml"
    params:
        script=script("data.py"),
        dataset=DATASET,
    shell:
        "python {params.script} prepare --data-dir {input} --out $(dirname {output.meta}) "
        "--dataset {params.dataset} > {log} 2>&1"
