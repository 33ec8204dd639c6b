rule download_data:
    output:
        directory(f"{OUT}/data/raw/{{dataset}}"),
    wildcard_constraints:
        dataset="cifar10|cifar100",
    log:
        f"{OUT}/logs/download_data/{{dataset}}.log",
    localrule: True  # compute nodes are often offline
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/data.py download --dataset {wildcards.dataset} --root {output} > {log} 2>&1"


rule synthetic_data:
    output:
        directory(f"{OUT}/data/raw/synthetic"),
    log:
        f"{OUT}/logs/synthetic_data/synthetic.log",
    params:
        n_train=config["data"]["synthetic"]["train"],
        n_test=config["data"]["synthetic"]["test"],
        seed=config["data"]["synthetic"]["seed"],
        noise=config["data"]["synthetic"]["noise"],
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/data.py synthetic --root {output} --train {params.n_train} "
        "--test {params.n_test} --seed {params.seed} --noise {params.noise} > {log} 2>&1"


rule prepare_data:
    input:
        raw_data(),
    output:
        multiext(f"{PREPARED}/", "train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json"),
    log:
        f"{OUT}/logs/prepare_data/{DATASET}.log",
    params:
        out=PREPARED,
        dataset=DATASET,
    conda:
        "../../envs/train.yaml"
    shell:
        "python {SCRIPTS}/data.py prepare --data-dir {input} --out {params.out} "
        "--dataset {params.dataset} > {log} 2>&1"
