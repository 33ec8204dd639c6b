import json
import sys
from pathlib import Path

SCRIPTS = Path(workflow.basedir).parent / "scripts"
sys.path.insert(
    0, str(SCRIPTS)
)  # the scripts' modules: torch-free, so parsing stays fast
import ga
import layout
import settings
from config_check import ConfigError, check_config
from util import read_tsv

try:  # the schema (defaults filled in) and every other check; one line naming the key
    check_config(config)
except ConfigError as e:
    sys.exit(f"error: {e}")

OUT = config["outdir"]  # normalised by check_config
DATASET = config["data"]["dataset"]
GENERATIONS = config["ga"]["generations"]
TRAIN_SEED = config["train"]["seed"]
GA_SPEC = json.dumps(config["ga"], sort_keys=True)


wildcard_constraints:
    run=ga.RUN_PATTERN,
    g=r"\d+",


# ----------------------------------------------------------------------------- paths (layout.py)
def script(name):
    return str(SCRIPTS / name)


def run_file(run, role):
    """A run's file by role (layout.RUN_FILES); run may be the wildcard "{run}"."""
    return layout.run_file(OUT, run, role)


def generation_file(g, name):
    return layout.generation_file(OUT, g, name)


def plot_file(name):
    return layout.plot_file(OUT, name)


def log_file(rule, name):
    return layout.log_file(OUT, rule, name)


def prepared(name):
    return layout.prepared_file(OUT, DATASET, name)


PREPARED_META = prepared("meta.json")
PREPARED = [prepared(name) for name in layout.PREPARED_FILES]


def get_folder(name):
    """A params function: the folder of the input or output file `name`, derived from the paths the
    rule declares (train.py and lr_find.py write a folder; the DAG tracks the files in it).
    """

    def folder(wildcards, input, output):
        files = {**dict(input.items()), **dict(output.items())}[name]
        return str(Path(files if isinstance(files, str) else files[0]).parent)

    return folder


def get_raw_data():
    """The folder the prepare step reads: the user's data_dir, a download, or generated data."""
    if config["data"]["data_dir"]:
        return config["data"]["data_dir"]
    return f"{OUT}/data/raw/{DATASET}"


# ----------------------------------------------------------------------------- command lines (settings.py)
def get_train_settings():
    """train.py's flags shared by every run, the LR finder and the evaluation: every setting the
    config sets (settings.SETTINGS), plus the shared compile cache when compiling."""
    values = settings.from_config(config)
    if values["compile"]:
        values["cache_dir"] = f"{OUT}/cache"
    return settings.command_line(values)


def get_degradation_settings(wildcards):
    """The paper's CIFAR recipe (Sec. 4.2) as train.py flags, for one plain/residual net."""
    d, shared = config["degradation"], settings.from_config(config)
    values = {
        k: shared[k]
        for k in ("val_size", "split_seed", "device", "threads", "deterministic")
    }
    values |= {
        "arch": f"{wildcards.kind}{wildcards.depth}",
        "seed": wildcards.seed,
        "schedule": "step",
        "lr": d["lr"],
        "mom": d["momentum"],
        "wd": d["wd"],
        "batch_size": d["batch_size"],
        "iterations": d["iterations"],
        "milestones": d["milestones"],
        "warmup_iters": d["warmup_iterations_110"] if wildcards.depth == "110" else 0,
        "track_test": True,
    }
    return settings.command_line(values)


def degradation_file(run, name):
    return layout.degradation_file(OUT, run, name)


# a degradation run's folder as wildcards, and every run the config asks for
DEGRADATION_RUN = layout.degradation_run("{kind}", "{depth}", "{seed}")
DEGRADATION = config["degradation"]
DEGRADATION_RUNS = [
    layout.degradation_run(kind, depth, seed)
    for kind in ("plain", "resnet")
    for depth in DEGRADATION["depths"]
    for seed in DEGRADATION["seeds"]
]


# ----------------------------------------------------------------------------- the GA's generations
def get_population(g):
    """Generation g's population.tsv, once its checkpoint has run."""
    if g == 0:
        return checkpoints.init_population.get().output[0]
    return checkpoints.next_generation.get(g=g).output[0]


def get_fitness_tables():
    return [generation_file(g, "fitness") for g in range(GENERATIONS)]


def get_generation_population(wildcards):
    return get_population(int(wildcards.g))


def get_generation_results(wildcards):
    """The result.json of generation g's distinct runs."""
    return [
        run_file(r, "result")
        for r in ga.population_runs(get_population(int(wildcards.g)))
    ]


def get_previous_fitness(wildcards):
    return generation_file(int(wildcards.g) - 1, "fitness")


def get_earlier_fitness(wildcards):
    """The fitness tables before the previous one: the genomes already evaluated (ga.unique)."""
    return [generation_file(h, "fitness") for h in range(int(wildcards.g) - 1)]


def get_first_appearance(run):
    """(generation, its population) where `run` first appears among the populations written so far."""
    for g in range(GENERATIONS):
        path = Path(generation_file(g, "population"))
        if not path.exists():
            return None
        population = read_tsv(path)
        if run in set(population["run"]):
            return g, population
    return None


def get_early_stop_elites(wildcards):
    """The elites' metrics.tsv a GA child is measured against (ga.early_stop). None for generation 0,
    the baseline, the final seeds and the random search's draws (so no job order changes a result).
    """
    if not config["ga"]["early_stop"]:
        return []
    found = get_first_appearance(wildcards.run)
    if found is None or found[0] == 0:
        return []
    if RANDOM_SEARCH and wildcards.run in ga.population_runs(get_random_population()):
        return []
    g, population = found
    return [
        run_file(r, "metrics")
        for r in population[population["origin"] == "elite"]["run"]
    ]


def get_early_stop_settings():
    stop = config["ga"]["early_stop"]
    if not stop:
        return ""
    return settings.command_line(
        {"stop_epoch": stop["epoch"], "stop_margin": stop.get("margin", 0.0)}
    )


def get_search_runs():
    """Every distinct run of the search, in first-seen order."""
    runs = [
        r for g in range(GENERATIONS) for r in ga.population_runs(get_population(g))
    ]
    return list(dict.fromkeys(runs))


# ----------------------------------------------------------------------------- the random-search control
RANDOM_SEARCH = config["random_search"]
RANDOM_DIR = f"{OUT}/random_search"


def get_random_population():
    return checkpoints.random_population.get().output[0]


def get_random_results(wildcards):
    return [run_file(r, "result") for r in ga.population_runs(get_random_population())]


def get_random_targets():
    """What random_search: true adds to the default target."""
    return (
        [f"{RANDOM_DIR}/best.tsv", plot_file("ga_vs_random")] if RANDOM_SEARCH else []
    )


def get_random_best(wildcards):
    """The random search's best.tsv, where the config adds the control to the final comparison."""
    return [f"{RANDOM_DIR}/best.tsv"] if RANDOM_SEARCH else []


# ----------------------------------------------------------------------------- after the search
def get_plan():
    """The plan's rows (method, stage, seed, run), once the plan checkpoint has run."""
    return read_tsv(checkpoints.plan.get().output[0])


def get_plan_runs(method, stage):
    df = get_plan()
    return list(df[(df["method"] == method) & (df["stage"] == stage)]["run"])


def get_final_tests(wildcards):
    return [run_file(r, "test") for r in get_plan().query("stage == 'final'")["run"]]


def get_best_predictions(wildcards):
    return run_file(get_plan_runs("ga", "final")[0], "predictions")


def get_baseline_result(wildcards):
    return run_file(get_plan_runs("baseline", "search")[0], "result")


def get_curve_runs():
    """The search runs and the baseline's search run: the runs the curve figures choose from."""
    return get_search_runs() + get_plan_runs("baseline", "search")


def get_curve_metrics(wildcards):
    return [run_file(r, "metrics") for r in get_curve_runs()]


def get_curve_schedules(wildcards):
    return [run_file(r, "schedule") for r in get_curve_runs()]


def get_all_results(wildcards):
    """result.json of every run behind the report's numbers: the search (and the random search),
    the baseline and the final runs."""
    random = ga.population_runs(get_random_population()) if RANDOM_SEARCH else []
    runs = dict.fromkeys(get_search_runs() + random + list(get_plan()["run"]))
    return [run_file(r, "result") for r in runs]


def get_final_caption(wildcards, input):
    """The gap and seed spread, for the final figure's caption (read when the report is made)."""
    if not Path(input.comparison).exists():
        return "(known once the final comparison has run)"
    from evaluate import final_summary

    return final_summary(input.comparison)


def get_random_caption(wildcards, input):
    """The test-set verdict on GA vs random search, for the figure's caption (read when the report is made)."""
    comparison = Path(f"{OUT}/final/comparison.tsv")
    if not comparison.exists():
        return "(known once the final comparison has run)"
    from evaluate import random_summary

    return random_summary(comparison)


def get_class_names(wildcards, input):
    """The dataset's class names, for the confusion matrix's caption (read when the report is made)."""
    if not Path(input.meta).exists():
        return "(known once the data is prepared)"
    return ", ".join(json.loads(Path(input.meta).read_text())["classes"])


# The report's front page (report/workflow.rst) can read only the config: the verdict written by
# `compare` is handed to it there, when the report is made.
_verdict = Path(f"{OUT}/final/verdict.txt")
config["verdict"] = (
    _verdict.read_text().strip()
    if _verdict.exists()
    else "(The verdict appears here once the final comparison has run.)"
)
