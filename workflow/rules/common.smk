import atexit
import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path


def scripts_folder():
    """scripts/ on disk, found from this file (not from the main Snakefile), so that the workflow also
    runs as a module of another Snakefile: beside it in a clone or a local module; for a module read
    from git (gitfile(), github()), the files of scripts/MANIFEST copied out of Snakemake's source
    cache into .snakemake/resnet-ga/ (again whenever they changed: a branch moves)."""
    import hashlib

    base = workflow.current_basedir
    if hasattr(base, "__fspath__"):
        return Path(base).parent.parent / "scripts"
    root = base.join("../..")
    uri = root.get_path_or_uri(secret_free=True)
    dest = Path(
        ".snakemake", "resnet-ga", hashlib.sha256(uri.encode()).hexdigest()[:16]
    )
    with workflow.sourcecache.open(root.join("scripts/MANIFEST"), "r") as f:
        names = [
            line.strip() for line in f if line.strip() and not line.startswith("#")
        ]
    for name in names:
        path = dest / name
        with workflow.sourcecache.open(root.join(name), "rb") as src:
            data = src.read()
        if not path.exists() or path.read_bytes() != data:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            # util.atomic_write_bytes is in the folder being written: the same, inline;
            # a full disk or a read-only folder is one line, and no temporary file is left
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_bytes(data)
                os.replace(tmp, path)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                print(f"error: {path}: {e.strerror or e}", file=sys.stderr)
                sys.exit(1)
    return dest / "scripts"


# The scripts' modules: torch-free, so parsing stays fast.
SCRIPTS = scripts_folder()
sys.path.insert(0, str(SCRIPTS))
import identity
import layout
import search
import settings
import strategies
from config_check import ConfigError, check_config, read_config_file
import formats
import runlock
from util import DataError, RunError, error_line

try:  # the schema (defaults filled in) and every other check; one line naming the key
    # a key given twice: Snakemake keeps the last silently
    for path in workflow.configfiles:
        read_config_file(path)
    check_config(config)
except ConfigError as e:
    sys.exit(f"error: {e}")


def checked(read, *args):
    """`read(*args)` of a file the DAG reads; a bad one is one line naming it and the field, as every
    step's, then stop (at the start; or mid-run, where Snakemake then cancels its running jobs).
    """
    try:
        return read(*args)
    except (DataError, RunError, OSError, ValueError) as e:
        print(f"error: {error_line(e)}", file=sys.stderr)
        sys.exit(1)


def read_table(name, path):
    return checked(formats.read_table, name, path)


def read_record(name, path):
    return checked(formats.read_record, name, path)


OUT = config["outdir"]  # normalised by check_config
# the outdir's lock while this workflow runs (hold_outdir)
HELD = contextlib.ExitStack()


def hold_outdir():
    """One workflow at a time on an outdir (onstart: a run that executes jobs, not a dry run, a report
    or a cluster job). A second workflow on it, from another clone or host, waits here, before any of
    its jobs starts: Snakemake restores or removes the outputs of a job that fails, so a job of theirs
    that waited on a run of ours, then was cancelled, would undo our finished run."""
    check_gpu_limit()
    check_groups()
    what = f"the workflow started in {Path.cwd()}"
    # Snakemake's own SIGTERM handler only tells its scheduler, which has not started yet
    previous = signal.signal(signal.SIGTERM, stop_waiting)
    try:
        checked(HELD.enter_context, runlock.hold(OUT, what, log=print))
    finally:
        signal.signal(signal.SIGTERM, previous)
    atexit.register(HELD.close)  # before the interpreter's teardown


def check_groups():
    """Grouped jobs (--groups train=round) need --keep-incomplete: when a group job fails (one
    training, a scancel, a time limit), Snakemake removes the outputs of every job in it, the trainings
    it finished included, and its retry trains them again from their first epoch. train.py writes a
    run's outputs whole, so a kept run is complete and its retry keeps it (`kept, not trained again`).
    """
    groups = workflow.group_settings.overwrite_groups if workflow.group_settings else {}
    # the train rule, found by its file (a module's may be renamed when used as another name)
    rules = [workflow.get_rule(r) for r in groups if workflow.is_rule(r)]
    grouped = [r for r in rules if Path(str(r.snakefile)).name == "train.smk"]
    if grouped and not workflow.execution_settings.keep_incomplete:
        sys.exit(
            "error: --groups: add --keep-incomplete, or a failed group job has Snakemake delete the "
            "trainings it finished (docs/cluster.md)"
        )


def check_gpu_limit():
    """Locally, Snakemake starts as many jobs as --cores allows unless --resources limits them: without
    gpu=<GPUs>, several trainings share a GPU (or wait for one: scripts/gpu_slots.py). A note, not an
    error: it runs, only slower."""
    device = config["train"]["device"]
    # a GPU that `auto` would take, seen without torch: NVIDIA's driver tools on the PATH
    nvidia = shutil.which("nvidia-smi") is not None
    gpu = device == "cuda" or (device == "auto" and nvidia)
    if workflow.local_exec and gpu and "gpu" not in workflow.global_resources:
        print(
            "note: no --resources gpu=<GPUs>: as many trainings as --cores allows run at once and share "
            "the GPUs (README: --cores 1 --resources gpu=1)",
            file=sys.stderr,
        )


def stop_waiting(signum, frame):
    sys.exit(
        f"error: {OUT}: terminated while waiting for the workflow that holds it; no job had started"
    )


DATASET = config["data"]["dataset"]
TRAIN_SEED = config["train"]["seed"]
# not sorted: the genes' order is the crossover's order
SEARCH_CONFIG = json.dumps({"ga": config["ga"], "search": config["search"]})
SPEC = search.spec_from_json(SEARCH_CONFIG)
METHODS, REPEATS, ROUNDS = (
    SPEC["methods"],
    range(SPEC["repeats"]),
    range(SPEC["rounds"]),
)
SETTINGS = settings.from_config(config)
# The settings that can change a run's numbers, where the config sets them off their defaults: all
# that rules' params and command lines carry, so that a scheduling knob or a release that adds a
# setting at its default changes no params (Snakemake reruns a job whose params changed).
IDENTITY = settings.identity_changed(SETTINGS)
# search.py --settings: those some run of the search uses (not a gene that every run names)
SEARCH_SETTINGS = json.dumps(search.used_settings(SPEC, IDENTITY), sort_keys=True)
REFERENCE = strategies.reference(METHODS)  # the method the others are compared with


wildcard_constraints:
    run=identity.RUN_PATTERN,
    repeat=r"\d+",
    k=r"[1-9]\d*",
    method="|".join(METHODS),
    table=r"rep\d+/round0|rep\d+/[a-z][a-z0-9_]*/round[1-9]\d*",


# ----------------------------------------------------------------------------- paths (layout.py)
def run_file(run, role):
    """A run's file by role (layout.RUN_FILES); run may be the wildcard "{run}"."""
    return layout.run_file(OUT, run, role)


def round_file(repeat, method, k, name):
    return layout.round_file(OUT, repeat, method, k, name)


def plot_file(name):
    return layout.plot_file(OUT, name)


def log_file(rule, name):
    return layout.log_file(OUT, rule, name)


def search_file(name):
    return layout.search_file(OUT, name)


def final_file(name):
    return layout.final_file(OUT, name)


def prepared(name):
    return layout.prepared_file(OUT, DATASET, name)


PREPARED_META = prepared("meta.json")
PREPARED = [prepared(name) for name in layout.PREPARED_FILES]


# ----------------------------------------------------------------------------- params that never rerun a job
# A params function of `input`, `output` or `resources` is "derived": Snakemake's params trigger
# leaves it out. The scripts' folder and the scheduling knobs are such params, so moving a project
# or changing jobs_per_gpu, the device or a lock folder never reruns a finished job
# (docs/reproducibility.md). The settings that can change numbers reach params only where the
# config sets them off their defaults (IDENTITY above).
def get_script(name):
    def script(wildcards, input):
        return str(SCRIPTS / name)

    return script


def get_gpu_model():
    """The GPU model a SLURM job asks for (--gpus=<model>:1), from RESNET_GA_GPU_MODEL; empty: any."""

    def model(wildcards):
        return os.environ.get("RESNET_GA_GPU_MODEL", "")

    return model


def get_folder(name):
    """The folder of the input or output file `name`, derived from the paths the rule declares."""

    def folder(wildcards, input, output):
        files = {**dict(input.items()), **dict(output.items())}[name]
        return str(Path(files if isinstance(files, str) else files[0]).parent)

    return folder


def get_run_options():
    """train.py's flags that say where and how a run is scheduled, never what it computes."""

    def options(wildcards, resources):
        values = {k: SETTINGS[k] for k in settings.OPTION_KEYS if k in SETTINGS}
        if SETTINGS["compile"]:
            values["cache_dir"] = f"{OUT}/cache"
        if config["train"]["tensorboard"]:
            values["tensorboard"] = layout.tensorboard_dir(OUT, wildcards.run)
        return settings.command_line(values)

    return options


def get_raw_data():
    """The folder the prepare step reads: the user's data_dir, a download, or generated data."""
    if config["data"]["data_dir"]:
        return config["data"]["data_dir"]
    return f"{OUT}/data/raw/{DATASET}"


def get_data_fit():
    """What the prepare step checks the data can give: the validation split and the largest batch."""

    def fit(wildcards, input):
        batch = max([SETTINGS["batch_size"], *search.largest(SPEC, "batch_size")])
        return settings.command_line(
            {
                "val_size": SETTINGS["val_size"],
                "max_train": SETTINGS["max_train"],
                "batch_size": batch,
            }
        )

    return fit


# ----------------------------------------------------------------------------- command lines (settings.py)
def get_data_id():
    """The prepared data's identity (identity.py), once the data is prepared."""
    return read_record("meta", checkpoints.prepare_data.get().output.meta)["data_id"]


def degradation_values(kind, depth, seed):
    """The paper's CIFAR recipe (Sec. 4.2) for one plain/residual net: train.py's settings. Of the
    config it takes only the validation split and how numbers are computed; the rest is the paper's
    (SGD, 4-pixel crops and flips, option-A shortcuts: the settings' defaults), whatever train: says.
    """
    d = config["degradation"]
    values = {
        **{
            k: v for k, v in IDENTITY.items() if k in settings.SPLIT_AND_ARITHMETIC_KEYS
        },
        "arch": f"{kind}{depth}",
        "seed": int(seed),
        "schedule": "step",
    }
    values.update(
        lr=d["lr"],
        mom=d["momentum"],
        wd=d["wd"],
        batch_size=d["batch_size"],
        track_test=True,
    )
    values.update(iterations=d["iterations"], milestones=d["milestones"])
    values["warmup_iters"] = d["warmup_iterations_110"] if str(depth) == "110" else 0
    return values


def degradation_runs(data_id):
    """{run id: (kind, depth, seed, train.py flags)} of every degradation run the config asks for."""
    d, runs = config["degradation"], {}
    for kind in ("plain", "resnet"):
        for depth in d["depths"]:
            for seed in d["seeds"]:
                values = degradation_values(kind, depth, seed)
                ctx = identity.context(values, named=["arch"], data_id=data_id)
                flags = settings.command_line(
                    {k: v for k, v in values.items() if k not in ("arch", "seed")}
                )
                runs[identity.run_id({"arch": values["arch"]}, seed, ctx)] = (
                    kind,
                    depth,
                    seed,
                    flags,
                )
    return runs


def get_degradation_runs():
    return degradation_runs(get_data_id())


def get_degradation_metrics(wildcards):
    return [run_file(run, "metrics") for run in get_degradation_runs()]


def get_degradation_results(wildcards):
    return [run_file(run, "result") for run in get_degradation_runs()]


def get_run_flags(wildcards):
    """The identity settings a run is trained with: the config's for every run of the search, the
    paper's recipe for a degradation run (train.py checks them against the run id's key).
    """
    if Path(PREPARED_META).exists():
        runs = degradation_runs(read_record("meta", PREPARED_META)["data_id"])
        if wildcards.run in runs:
            return runs[wildcards.run][3]
    # a genome too long to spell: the job is given its spelling
    key = identity.key_of(wildcards.run)
    genes = checked(search.spelled_genome, OUT, key, SPEC) if key else None
    named = checked(identity.named_settings, wildcards.run, genes)
    flags = settings.command_line(settings.command_values(IDENTITY, named))
    return f"{flags} --genes {genes}" if genes else flags


def get_lr_find_flags():
    """The LR range test on what the baseline trains with: its weight decay and momentum, the config's
    other settings, and the range of lr_find:."""
    baseline = config["baseline"]
    values = {
        k: IDENTITY[k]
        for k in settings.LR_FIND_KEYS
        if k in IDENTITY and k not in ("wd", "mom", "seed")
    }
    values = settings.command_values(values)
    values.update(wd=baseline["wd"], mom=baseline["mom"], seed=TRAIN_SEED)
    lr = config["lr_find"]
    return (
        settings.command_line(values)
        + f" --start-lr {lr['start_lr']} --end-lr {lr['end_lr']} --steps {lr['steps']}"
    )


def get_lr_find_options():
    def options(wildcards, resources):
        return settings.command_line({"device": SETTINGS["device"]})

    return options


def get_evaluate_options():
    def options(wildcards, resources):
        return f"--device {SETTINGS['device']}"

    return options


# ----------------------------------------------------------------------------- the search's rounds
def get_search_seed(wildcards):
    return search.search_seed(TRAIN_SEED, int(wildcards.repeat))


def get_population(repeat, method, k):
    """A round's population.tsv, once its checkpoint has run."""
    if int(k) == 0:
        return checkpoints.init_population.get(repeat=repeat).output[0]
    return checkpoints.propose.get(repeat=repeat, method=method, k=k).output[0]


def get_table_population(wildcards):
    repeat, method, k = layout.round_of(f"{OUT}/search/{wildcards.table}/x")
    return get_population(repeat, method, k)


def get_table_results(wildcards):
    """The result.json of a round's distinct runs: its table checked first (genes in the space and
    the run ids' own), so a table edited by hand trains nothing outside the search."""
    rows = checked(search.read_round, get_table_population(wildcards), SPEC)
    return [run_file(r, "result") for r in dict.fromkeys(rows["run"])]


def get_history(wildcards):
    """The fitness tables of one search before round k: round 0, then the method's own rounds."""
    k = int(wildcards.k)
    return [
        round_file(wildcards.repeat, wildcards.method, j, "fitness") for j in range(k)
    ]


def get_fitness_tables():
    """Every fitness table of every search (round 0 once per repeat)."""
    tables = [round_file(r, None, 0, "fitness") for r in REPEATS]
    return tables + [
        round_file(r, m, k, "fitness")
        for r in REPEATS
        for m in METHODS
        for k in ROUNDS
        if k
    ]


def round_rows():
    """Every row of the population tables written so far, with its table: what the train rule
    needs to know about a run of the search (its early stopping)."""
    found = []
    for r in REPEATS:
        for m in METHODS:
            for k in ROUNDS:
                path = Path(round_file(r, m, k, "population"))
                if path.exists():
                    found += [
                        (path, row)
                        for row in read_table("population", path).to_dict("records")
                    ]
    return found


def get_stop(run):
    """(the elites' runs, early stopping's flags) of a new genome of a round >= 1, else ([], "")."""
    stop = config["ga"]["early_stop"]
    if not stop:
        return [], ""
    for path, row in round_rows():
        if row["run"] == run and row["origin"] not in search.NEVER_STOPPED:
            elites = read_table("population", path).query("origin == 'elite'")["run"]
            flags = settings.command_line(
                {"stop_epoch": stop["epoch"], "stop_margin": stop.get("margin", 0.0)}
            )
            return [run_file(e, "metrics") for e in elites], flags
    return [], ""


def get_stop_against(wildcards):
    return get_stop(wildcards.run)[0]


def get_stop_flags(wildcards):
    return get_stop(wildcards.run)[1]


# ----------------------------------------------------------------------------- after the search
def get_plan():
    """The plan's rows (method, repeat, stage, seed, run), once the plan checkpoint has run."""
    return checked(search.read_plan, checkpoints.plan.get().output[0], SPEC)


def get_final_tests(wildcards):
    return [run_file(r, "test") for r in get_plan().query("stage == 'final'")["run"]]


def get_reference_predictions(wildcards):
    """The test predictions of the reference method's best (first repeat, first final seed)."""
    plan = get_plan().query(
        f"stage == 'final' and method == '{REFERENCE}' and repeat == 0"
    )
    return run_file(plan["run"].iloc[0], "predictions")


def get_baseline_result(wildcards):
    return run_file(get_plan().query("stage == 'search'")["run"].iloc[0], "result")


def get_search_runs():
    """Every distinct run of every search, in first-seen order."""
    runs = []
    for r in REPEATS:
        for m in METHODS:
            for k in ROUNDS:
                runs += list(read_table("population", get_population(r, m, k))["run"])
    return list(dict.fromkeys(runs))


def get_search_results(wildcards):
    return [run_file(r, "result") for r in get_search_runs()]


def get_curve_runs():
    """The search runs and the baseline's search run: the runs the curve figures choose from."""
    return get_search_runs() + list(get_plan().query("stage == 'search'")["run"])


def get_curve_metrics(wildcards):
    return [run_file(r, "metrics") for r in get_curve_runs()]


def get_curve_results(wildcards):
    return [run_file(r, "result") for r in get_curve_runs()]


def get_curve_schedules(wildcards):
    return [run_file(r, "schedule") for r in get_curve_runs()]


def get_all_results(wildcards):
    """result.json of every run behind the report's numbers: the searches, the baseline and the final runs."""
    runs = dict.fromkeys(get_search_runs() + list(get_plan()["run"]))
    return [run_file(r, "result") for r in runs]


# ----------------------------------------------------------------------------- report captions
def read_text(path, missing):
    """A text file the report shows (the verdict), or `missing` before it exists; one error line
    naming it if it cannot be read (a folder, not UTF-8, no permission)."""
    return checked(formats.read_text, path).strip() if Path(path).exists() else missing


def get_verdict_caption(wildcards, input):
    """The verdict, for the final figure's caption (read when the report is made)."""
    return read_text(input.verdict, "(known once the final comparison has run)")


def get_class_names(wildcards, input):
    """The dataset's class names, for the confusion matrix's caption (read when the report is made)."""
    if not Path(input.meta).exists():
        return "(known once the data is prepared)"
    return ", ".join(read_record("meta", input.meta)["classes"])


def get_method_labels():
    return ", ".join(strategies.methods()[m].label for m in METHODS)


def get_method_origins():
    """Each method's origin in the round tables, for the individuals table's caption."""
    methods = strategies.methods()
    return ", ".join(f"``{methods[m].origin}`` ({methods[m].label})" for m in METHODS)


# The report's front page (report/workflow.rst) can read only the config: the verdict written by
# `compare` is handed to it there, when the report is made.
config["verdict"] = read_text(
    final_file("verdict.txt"),
    "(The verdict appears here once the final comparison has run.)",
)
config["method_labels"] = get_method_labels()
config["method_origins"] = get_method_origins()
