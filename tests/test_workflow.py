"""The workflow end to end: the smoke search (GA, random search and TPE) from a fresh copy, its
determinism, its DAG, its report, and what a changed setting trains or keeps."""

import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import formats
import identity
import search
from config_check import load_config
from helpers import ROOT, SMOKE, TARGET, assert_same_ga, copy_workflow, round_tables, snakemake, trained_runs

pytestmark = pytest.mark.slow
METHODS = ["ga", "random", "tpe"]


def test_smoke_run_completes_with_every_output(smoke):
    out = smoke["out"]
    for rel in round_tables(out):
        assert (out / rel).exists(), rel
    fit = pd.read_csv(out / "search/rep0/ga/round2/fitness.tsv", sep="\t")
    genes = ["lr", "wd", "mom"]
    assert (
        list(fit.columns) == ["individual", "run", *genes, "origin", "parents", *search.RESULT_COLUMNS]
        and len(fit) == 4
    )
    assert fit["fitness"].between(0, 1).all()
    comp = formats.read_table("comparison", out / "final" / "comparison.tsv")
    assert (
        list(comp["method"]) == [*METHODS, "baseline"] and (comp["seeds"] == 2).all() and (comp["repeats"] == 1).all()
    )
    preds = formats.read_table("predictions", out / "final" / "predictions.tsv")
    assert len(preds) == 500
    assert comp.set_index("method").loc["ga", "test_top1_mean"] > 0.3  # learns on generated data (chance: 0.1)


def test_every_method_trains_the_ga_budget_round_0_once_and_every_run_once(smoke):
    out = smoke["out"]
    trained = trained_runs(smoke["log"])
    assert len(trained) == len(set(trained)), "a run was trained twice"
    round0 = set(formats.read_table("population", out / "search/rep0/round0/population.tsv")["run"])
    expected = set(round0)
    for m in METHODS:
        runs = list(round0)
        for k in (1, 2):
            pop = formats.read_table("population", out / f"search/rep0/{m}/round{k}/population.tsv")
            assert set(pop.loc[pop["origin"] == "elite", "run"]) <= set(runs)  # elites are reused, not retrained
            runs += list(pop.loc[pop["origin"] != "elite", "run"])
        assert len(runs) == len(set(runs)) == 4 + 2 * 2  # the GA's budget of distinct genomes
        expected |= set(runs)
    plan = formats.read_table("plan", out / "final" / "plan.tsv")
    assert set(trained) == expected | set(plan["run"])
    assert len(plan) == 1 + 2 * (1 + len(METHODS)) and set(plan.query("stage == 'final'")["seed"]) == {1, 2}


def test_rerun_after_completion_has_nothing_to_do(smoke):
    p = snakemake(smoke["dir"], *SMOKE, "-n")
    assert "Nothing to be done" in p.stdout + p.stderr


def test_two_fresh_runs_give_byte_identical_tables_and_tpe_proposals(smoke, tmp_path):
    """Another copy, another job order and scheduler threads (--cores 4, greedy scheduler): the
    arithmetic's threads come from train.threads, and TPE's study is rebuilt from the tables."""
    work = copy_workflow(tmp_path)
    targets = [TARGET, "results/smoke/search/rep0/tpe/round2/population.tsv"]
    snakemake(work, *targets, "--cores", "4", "--configfile", "config/smoke.yaml", "--scheduler", "greedy")
    assert_same_ga(work, smoke, ["search/rep0/round0", "search/rep0/ga/round1", "search/rep0/tpe/round1"])
    rel = "search/rep0/tpe/round2/population.tsv"
    assert (work / "results" / "smoke" / rel).read_bytes() == (smoke["out"] / rel).read_bytes()


def test_the_report_s_three_gene_ga_gives_the_recorded_genomes_and_fitness(smoke):
    """Every GA round's genomes and fitness values as the earlier code computed them (the run column
    aside): tests/data/smoke_ga_tables.json, identical to the three-gene GA of 8f6b174 before the space
    became data. CPU numbers depend on torch's version and kernels: compared where they match."""
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from make_smoke_reference import ga_tables, platform

    ref = json.loads((ROOT / "tests" / "data" / "smoke_ga_tables.json").read_text())
    here = platform()
    if any(ref["recorded"][k] != v for k, v in here.items()):
        pytest.skip(f"reference recorded with {ref['recorded']}, this machine has {here}")
    assert ga_tables(smoke["out"]) == ref["tables"]


def test_cores_1_gives_byte_identical_tables(smoke, tmp_path):
    work = copy_workflow(tmp_path)
    later = [f"results/smoke/search/rep0/{m}/round2/population.tsv" for m in ("random", "tpe")]
    snakemake(work, TARGET, *later, "--cores", "1", "--configfile", "config/smoke.yaml")
    rounds = ["search/rep0/round0", *(f"search/rep0/{m}/round1" for m in METHODS)]
    assert_same_ga(work, smoke, rounds)
    for path in later:
        assert (work / path).read_bytes() == (smoke["dir"] / path).read_bytes(), path


def test_dry_run_of_default_config_without_data_plans_every_round_and_figure(tmp_path):
    """The default config's DAG before any checkpoint has run: data, round 0 and the LR finder;
    then one fitness table per round, one proposal between two, and every figure."""
    work = copy_workflow(tmp_path)
    p = snakemake(work, "-n", "--cores", "1", "--resources", "gpu=1")
    text = p.stdout + p.stderr
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M)}
    generations = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["ga"]["generations"]
    assert counts["collect_fitness"] == generations and counts["propose"] == generations - 1
    for name in ("search_progress", "ga_progress", "search_space", "training_curves", "lr_find", "final_comparison"):
        assert counts.get(f"plot_{name}") == 1, name
    for rule in ("download_data", "prepare_data", "init_population", "lr_find", "compare", "environments"):
        assert counts[rule] == 1, rule
    assert "train" not in counts  # the runs are known only once the populations exist
    assert "results/data/raw/cifar10" in text and not (work / "results").exists()


FIGURES = ["search_progress", "ga_progress", "search_space", "training_curves", "schedules", "lr_find",
           "final_comparison", "confusion_matrix"]  # fmt: skip
TABLES = [
    "search/individuals.tsv",
    "search/summary.tsv",
    "final/comparison.tsv",
    "final/differences.tsv",
    "environments.tsv",
]


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_decodable_images_with_data(smoke, name):
    from PIL import Image

    with Image.open(smoke["out"] / "plots" / f"{name}.png") as im:
        im.load()
        assert im.format == "PNG" and im.width > 500 and im.height > 300
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "an almost blank image"


def test_report_html_holds_every_figure_table_and_the_verdict(smoke):
    report = smoke["dir"] / "report.html"
    p = snakemake(smoke["dir"], "--configfile", "config/smoke.yaml", "--report", report)
    assert "Report created" in p.stdout + p.stderr
    html = report.read_text()
    for name in FIGURES:
        assert f"filename={name}.png;base64," in html, name
    for t in TABLES:
        assert Path(t).name in html, t
    for cat in ("1. Search", "2. Training", "3. Final comparison (test set)", "5. Environments"):
        assert cat in html
    text = (smoke["out"] / "final" / "verdict.txt").read_text()
    assert re.match(r"Test top-1: GA \d+\.\d+ % \[\d+\.\d+ %, \d+\.\d+ %\]; random search", text), text
    assert "one search per method cannot rank methods" in text and "Winner's curse: GA's bests scored" in text
    assert re.search(r"It took \d+ trainings .* and \d+\.\d+ device-hours on cpu", text), text
    front = re.search(r"Verdict\.</strong> (.*?)</p>", html)
    assert front and front.group(1).encode().decode("unicode_escape") == text.strip(), (
        "the verdict is on the front page"
    )


def test_degradation_runs_share_the_run_store_and_make_table_and_figure(smoke):
    from PIL import Image

    snakemake(smoke["dir"], "degradation", *SMOKE)
    table = pd.read_csv(smoke["out"] / "degradation" / "table.tsv", sep="\t")
    assert list(table["depth"]) == [8, 20] and table.set_index("depth").loc[20, "paper_resnet_test_error"] == 8.75
    for col in ("plain_test_error", "resnet_test_error", "plain_train_error", "resnet_train_error"):
        assert table[col].between(0, 100).all()
    runs = sorted(p.name.split("_seed")[0] for p in (smoke["out"] / "runs").glob("arch=*"))
    assert runs == ["arch=plain20", "arch=plain8", "arch=resnet20", "arch=resnet8"]
    with Image.open(smoke["out"] / "plots" / "degradation.png") as im:
        assert im.width > 500 and len(im.convert("RGB").getcolors(1 << 20)) > 50
    # the paper's recipe: the search's training settings neither change nor rename its runs
    recipe = "train={epochs: 3, optimizer: adamw, cutout: 8, label_smoothing: 0.1, pct_start: 0.5}"
    p = snakemake(smoke["dir"], "degradation", *SMOKE, "-n", "--config", recipe)
    assert "Nothing to be done" in p.stdout + p.stderr, (p.stdout + p.stderr)[-2000:]


def test_paths_with_spaces_and_shell_characters_are_quoted(tmp_path):
    """data_dir and outdir with a space, a `;` and a `$(...)`: every job runs, no command runs from a name."""
    from data import write_synthetic

    work = copy_workflow(tmp_path / "wf")
    data_dir = work / "my data; touch INJECTED1"
    write_synthetic(data_dir, n_train=2500, n_test=500, seed=0)  # the CIFAR-10 layout, not the official files
    out = "results/smoke out $(touch INJECTED2)/"
    (work / "spaces.yaml").write_text(
        f"outdir: '{out}'\ndata: {{dataset: cifar10, data_dir: '{data_dir}', verify_md5: false}}\n"
        "ga: {generations: 1}\nsearch: {methods: [ga]}\nfinal: {seeds: 1}\n"
    )
    snakemake(work, *SMOKE, "spaces.yaml")
    results = work / out.rstrip("/")
    assert (results / "final" / "verdict.txt").exists() and (results / "plots" / "confusion_matrix.png").exists()
    assert not list(work.rglob("INJECTED*")) and not list(tmp_path.rglob("INJECTED*"))


PROVENANCE = {
    *("torch", "torchvision", "cuda", "cudnn", "device", "precision", "deterministic", "threads", "commit"),
    "settings_hash",
}


def test_every_result_records_its_provenance_and_the_report_lists_environments(smoke):
    out = smoke["out"]
    for name in ("result.json", "test.json"):
        records = [json.loads(p.read_text()) for p in (out / "runs").glob(f"*/{name}")]
        assert records and all(set(r["provenance"]) == PROVENANCE for r in records), name
        assert {r["provenance"]["threads"] for r in records} == {2}  # train.threads of smoke.yaml
    envs = pd.read_csv(out / "environments.tsv", sep="\t")
    searched = formats.read_table("individuals", out / "search" / "individuals.tsv")["run"]
    runs = set(searched) | set(formats.read_table("plan", out / "final" / "plan.tsv")["run"])  # not degradation's
    assert len(envs) == 1 and envs["runs"].sum() == len(runs) and envs["device"].iloc[0].startswith("cpu")


def test_a_changed_setting_trains_new_runs_beside_the_finished_ones_and_back_trains_nothing(smoke, tmp_path):
    work = tmp_path / "moved"
    shutil.copytree(smoke["dir"], work, symlinks=True)  # a finished project copied elsewhere (mtimes kept)
    for extra in (
        [],
        ["--config", "jobs_per_gpu=2"],
        ["--config", "train={device: cpu, threads: 2}"],
        ["--config", "train={lr: 0.01, wd: 0.001, mom: 0.5}"],  # genes: every run's id sets them (and the LR finder's)
    ):
        p = snakemake(work, *SMOKE, "-n", *extra)
        assert "Nothing to be done" in p.stdout + p.stderr, (extra, p.stdout[-2000:])
    runs = work / "results" / "smoke" / "runs"
    before = {p.parent.name: p.read_bytes() for p in runs.glob("*/model.pt")}
    target = "results/smoke/search/rep0/round0/fitness.tsv"
    p = snakemake(work, target, *SMOKE, "-p", "--config", "train={epochs: 3}")
    new = trained_runs(p.stdout + p.stderr)
    assert len(new) == 4 and not set(new) & set(before)  # new run ids: epochs is part of their identity
    assert all(json.loads((runs / r / "result.json").read_text())["epochs"] == 3 for r in new)
    assert {p.parent.name: p.read_bytes() for p in runs.glob("*/model.pt") if p.parent.name in before} == before
    # a setting at its default reaches no command line: a release that adds one changes no train job's params
    commands = [line for line in (p.stdout + p.stderr).splitlines() if "train.py" in line]
    assert len(commands) == 4 and all("--epochs 3" in c for c in commands)
    assert not any(f in c for c in commands for f in ("--label-smoothing", "--cutout", "--crop-pad", "--flip"))
    p = snakemake(work, *SMOKE, "-n")  # back to 2 epochs, the whole workflow: no train job scheduled
    assert not re.search(r"^rule train:", p.stdout + p.stderr, flags=re.M), (p.stdout + p.stderr)[-3000:]
    p = snakemake(work, target, *SMOKE)  # and run: the finished runs are found again
    assert trained_runs(p.stdout + p.stderr) == []
    rel = "search/rep0/round0/fitness.tsv"
    assert (work / "results" / "smoke" / rel).read_bytes() == (smoke["out"] / rel).read_bytes()


def test_repeated_searches_of_every_method(tmp_path):
    """The smoke config with search.repeats 2 (two rounds each): each repeat draws its own round 0,
    shared by its methods, trains at its own seed, and every method trains exactly the GA's budget of
    distinct genomes per repeat."""
    work = copy_workflow(tmp_path)
    (work / "rep.yaml").write_text("ga: {generations: 2}\nsearch: {repeats: 2}\nfinal: {seeds: 1}\n")
    p = snakemake(work, "results/smoke/final/verdict.txt", *SMOKE, "rep.yaml")  # the figures: other tests
    trained = trained_runs(p.stdout + p.stderr)
    assert len(trained) == len(set(trained)), "a run was trained twice"
    out = work / "results" / "smoke"
    rounds0 = []
    for r in (0, 1):
        round0 = list(formats.read_table("population", out / f"search/rep{r}/round0/population.tsv")["run"])
        rounds0.append(set(round0))
        assert all(f"_seed={r * 1_000_000}_" in run for run in round0), round0  # each repeat's own training seed
        for m in METHODS:
            runs = list(round0)
            pop = formats.read_table("population", out / f"search/rep{r}/{m}/round1/population.tsv")
            assert set(pop.loc[pop["origin"] == "elite", "run"]) <= set(runs)
            runs += list(pop.loc[pop["origin"] != "elite", "run"])
            assert len(runs) == len(set(runs)) == 4 + 2, (r, m)  # the GA's budget of distinct genomes
    genomes = [{re.sub(r"_seed=\d+", "", run) for run in r0} for r0 in rounds0]
    assert genomes[0].isdisjoint(genomes[1])  # each repeat draws its own round 0 (not only another seed)
    comp = formats.read_table("comparison", out / "final" / "comparison.tsv").set_index("method")
    assert (comp.loc[METHODS, "repeats"] == 2).all() and (comp.loc[METHODS, "ci_basis"] == "repeats").all()
    assert "over 2 searches per method" in (out / "final" / "verdict.txt").read_text()


def test_early_stopping_stops_a_child_deterministically_and_a_rerun_reuses_it(tmp_path):
    runs = []
    for name in ("a", "b"):
        work = copy_workflow(tmp_path / name)
        # two generations; a negative margin: a child must beat the worst elite by 0.2 to go on
        (work / "es.yaml").write_text(
            "ga: {generations: 2, early_stop: {epoch: 1, margin: -0.2}}\nsearch: {methods: [ga]}\n"
        )
        snakemake(work, "results/smoke/search/summary.tsv", *SMOKE, "es.yaml")
        runs.append(work / "results" / "smoke")
    a, b = runs
    for rel in ["search/rep0/round0/fitness.tsv", "search/rep0/ga/round1/fitness.tsv"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    summary = formats.read_table("summary", a / "search" / "summary.tsv")
    timing = ["device_hours_so_far"]  # the summary's one wall-clock column
    assert summary.drop(columns=timing).equals(
        formats.read_table("summary", b / "search/summary.tsv").drop(columns=timing)
    )
    assert summary["stopped"].sum() >= 1 and summary["stopped"].iloc[0] == 0  # round 0 never stops
    assert summary["epochs_saved"].sum() == summary["stopped"].sum()  # 2 epochs, stopped after 1
    stopped = [json.loads(p.read_text()) for p in (a / "runs").glob("*/result.json")]
    stopped = [r for r in stopped if r["status"] == "stopped"]
    assert stopped and all(r["epochs_completed"] == 1 and r["fitness"] == r["top1"] > 0 for r in stopped)
    log = (a / "logs" / "train" / f"{stopped[0]['run']}.log").read_text()
    assert "stopped after epoch 1" in log and "elites' bar" in log
    p = snakemake(a.parent.parent, "results/smoke/search/summary.tsv", *SMOKE, "es.yaml", "-n")
    assert "Nothing to be done" in p.stdout + p.stderr


def test_the_future_scope_searches_every_kind_of_gene_on_a_cpu(tmp_path, monkeypatch):
    """config/future_scope.yaml (12 genes: layer design, schedule, batch size, label smoothing and
    augmentation) and 3 more at CPU size: populations hold every gene's type within its space, genomes
    are unique, and the search-space figure has one panel per gene. 15 genes are too long to spell in
    a folder name: every run is named by its genome's key, and each trains the genome its tables say."""
    work = copy_workflow(tmp_path)
    (work / "cpu.yaml").write_text(
        "outdir: results/fs\ntrain: {arch: resnet8, epochs: 2, batch_size: 100}\n"
        "ga: {population: 4, elites: 2, generations: 2, genes: "
        "{arch: {choices: [resnet8, resnet20]}, batch_size: {choices: [50, 100]}, max_momentum: {low: 0.9, high: 0.99},"
        " final_div: {low: 1.0e+3, high: 1.0e+5, log: true}, max_train: {choices: [0, 1800]}}}\n"
        "search: {methods: [ga, tpe]}\nfinal: {seeds: 1}\n"
    )
    snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml", "config/future_scope.yaml", "cpu.yaml")
    out = work / "results" / "fs"
    cfg = load_config(
        [work / f for f in ("config/config.yaml", "config/smoke.yaml", "config/future_scope.yaml", "cpu.yaml")]
    )
    spec = search.spec_from_config(cfg)
    assert len(spec["space"].genes) == 15 and {g.kind for g in spec["space"].genes} == {"float", "int", "categorical"}
    ind = formats.read_table("individuals", out / "search" / "individuals.tsv")
    for _, row in ind.iterrows():  # named by key; trained with the genome its row spells
        assert identity.key_of(row["run"]), row["run"]
        trained = json.loads((out / "runs" / row["run"] / "result.json").read_text())["settings"]
        genome = spec["space"].parse(row)
        assert {k: trained[k] for k in genome} == genome, row["run"]
    for gene in spec["space"].genes:
        values = [gene.parse(v) for v in ind[gene.name]]
        assert all(gene.contains(v) for v in values), gene.name
    for m in ("ga", "tpe"):
        rows = ind[(ind["method"] == m) & (ind["origin"] != "elite")]
        assert rows["run"].is_unique and len(rows) == 4 + 2
    import plots

    panels = []
    monkeypatch.setattr(
        plots, "save", lambda fig, path: panels.extend(a.get_title() for a in fig.axes if a.get_title())
    )
    plots.plot_search_space(spec, out / "search" / "individuals.tsv", tmp_path / "x.png")
    assert panels == [g.describe() for g in spec["space"].genes]
