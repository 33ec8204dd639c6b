import json
import shlex
import sys
from pathlib import Path

SCRIPTS = Path(workflow.basedir).parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import ga  # noqa: E402  (torch-free: parsing the workflow stays fast)
from config_check import ConfigError, check_config  # noqa: E402

try:  # the schema (defaults filled in) and every other check; one line naming the key
    check_config(config)
except ConfigError as e:
    sys.exit(f"error: {e}")

OUT = config["outdir"]  # normalised by check_config
DATASET = config["data"]["dataset"]
PREPARED = f"{OUT}/data/prepared/{DATASET}"
GENERATIONS = config["ga"]["generations"]
TRAIN_SEED = config["train"]["seed"]
FINAL_SEEDS = [TRAIN_SEED + i for i in range(1, config["final"]["seeds"] + 1)]
GA_SPEC = json.dumps(config["ga"], sort_keys=True)


wildcard_constraints:
    run=ga.RUN_PATTERN,
    g=r"\d+",


def script(name):
    return str(SCRIPTS / name)


def get_folder(name):
    """A params function: the folder of the input or output file `name`, derived from the paths the
    rule declares (scripts take folders; the DAG tracks the files in them)."""

    def folder(wildcards, input, output):
        return str(Path({**dict(input.items()), **dict(output.items())}[name]).parent)

    return folder


def raw_data():
    """The folder the prepare step reads: the user's data_dir, a download, or generated data."""
    if config["data"]["data_dir"]:
        return config["data"]["data_dir"]
    return f"{OUT}/data/raw/{DATASET}"


def run_settings():
    """Command-line flags shared by every training run, the LR finder and the evaluation."""
    t, d = config["train"], config["data"]
    flags = {
        "arch": t["arch"],
        "shortcut": t["shortcut"],
        "epochs": t["epochs"],
        "batch-size": t["batch_size"],
        "max-momentum": t["max_momentum"],
        "pct-start": t["pct_start"],
        "div-factor": t["div_factor"],
        "final-div": t["final_div"],
        "max-train": t["max_train"],
        "max-val": t["max_val"],
        "val-size": d["val_size"],
        "split-seed": d["split_seed"],
        "device": t["device"],
        "optimizer": t["optimizer"],
        # the threads of the arithmetic come from the config, not from --cores
        "threads": t["threads"],
        "jobs-per-gpu": config["jobs_per_gpu"],
    }
    if t["deterministic"]:
        flags["deterministic"] = ""
    # true, or a torch.compile mode; every job shares one compile cache
    if t["compile"]:
        flags["compile"] = "" if t["compile"] is True else t["compile"]
        flags["cache-dir"] = f"{OUT}/cache"
    return " ".join(
        f"--{k} {shlex.quote(str(v))}" if v != "" else f"--{k}"
        for k, v in flags.items()
    )


def run_result(run):
    return f"{OUT}/runs/{run}/result.json"


def population_file(g):
    """Generation g's population.tsv, once its checkpoint has run."""
    if g == 0:
        return checkpoints.init_population.get().output[0]
    return checkpoints.next_generation.get(g=g).output[0]


def fitness_tables():
    return [f"{OUT}/ga/gen{g}/fitness.tsv" for g in range(GENERATIONS)]


def fitness_inputs(wildcards):
    pop = population_file(int(wildcards.g))
    return [pop] + [run_result(r) for r in ga.population_runs(pop)]


def previous_fitness(wildcards):
    return f"{OUT}/ga/gen{int(wildcards.g) - 1}/fitness.tsv"


def earlier_fitness(wildcards):
    """The fitness tables before the previous one: the genomes already evaluated (ga.unique)."""
    return [f"{OUT}/ga/gen{h}/fitness.tsv" for h in range(int(wildcards.g) - 1)]


def final_plan():
    """The plan's rows (method, stage, seed, run), once the plan checkpoint has run."""
    return ga.read_tsv(checkpoints.plan.get().output[0])


def plan_runs(method, stage):
    df = final_plan()
    return list(df[(df["method"] == method) & (df["stage"] == stage)]["run"])


def final_tests(wildcards):
    return [
        f"{OUT}/runs/{r}/test.json"
        for r in final_plan().query("stage == 'final'")["run"]
    ]


def best_predictions(wildcards):
    return f"{OUT}/runs/{plan_runs('ga', 'final')[0]}/test_predictions.tsv"


def baseline_result(wildcards):
    return run_result(plan_runs("baseline", "search")[0])


def search_runs():
    """Every distinct run of the search, in first-seen order."""
    runs = [
        r for g in range(GENERATIONS) for r in ga.population_runs(population_file(g))
    ]
    return list(dict.fromkeys(runs))


def curve_inputs(wildcards):
    """metrics.tsv and schedule.tsv of every search run and of the baseline's search run."""
    runs = search_runs() + plan_runs("baseline", "search")
    return [
        f"{OUT}/runs/{r}/{f}" for r in runs for f in ("metrics.tsv", "schedule.tsv")
    ]


def all_results(wildcards):
    """result.json of every run behind the report's numbers: the search, baseline and final runs."""
    return [
        run_result(r) for r in dict.fromkeys(search_runs() + list(final_plan()["run"]))
    ]


def final_caption(wildcards, input):
    """The gap and seed spread, for the final figure's caption (read when the report is made)."""
    if not Path(input.comparison).exists():
        return "(known once the final comparison has run)"
    from evaluate import final_summary

    return final_summary(input.comparison)


# The report's front page (report/workflow.rst) can read only the config: the verdict written by
# `compare` is handed to it there, when the report is made.
_verdict = Path(f"{OUT}/final/verdict.txt")
config["verdict"] = (
    _verdict.read_text().strip()
    if _verdict.exists()
    else "(The verdict appears here once the final comparison has run.)"
)

DEGRADATION = config["degradation"]
DEGRADATION_RUNS = [
    f"{kind}{depth}_seed{seed}"
    for kind in ("plain", "resnet")
    for depth in DEGRADATION["depths"]
    for seed in DEGRADATION["seeds"]
]


def degradation_args(wildcards):
    """The paper's CIFAR recipe (Sec. 4.2) as train.py flags, for one plain/residual net."""
    d = DEGRADATION
    warmup = d["warmup_iterations_110"] if wildcards.arch.endswith("110") else 0
    milestones = " ".join(str(m) for m in d["milestones"])
    return (
        f"--arch {wildcards.arch} --seed {wildcards.seed} --schedule step --lr {d['lr']} "
        f"--mom {d['momentum']} --wd {d['wd']} --batch-size {d['batch_size']} "
        f"--iterations {d['iterations']} --milestones {milestones} --warmup-iters {warmup} "
        f"--val-size {config['data']['val_size']} --split-seed {config['data']['split_seed']} "
        f"--device {config['train']['device']} --threads {config['train']['threads']} --track-test"
        + (" --deterministic" if config["train"]["deterministic"] else "")
    )
