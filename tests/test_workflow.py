"""The workflow end to end: the smoke GA from a fresh copy, its determinism, its DAG, its config checks."""

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

import ga
from helpers import BIN, ROOT, SMOKE, copy_workflow, snakemake, trained_runs
from util import read_tsv


def test_smoke_run_completes_with_every_output(smoke):
    out = smoke["out"]
    for g in range(3):
        assert (out / "ga" / f"gen{g}" / "population.tsv").exists()
        fit = pd.read_csv(out / "ga" / f"gen{g}" / "fitness.tsv", sep="\t")
        assert list(fit.columns) == ga.POP_COLUMNS + ga.RESULT_COLUMNS and len(fit) == 4
        assert fit["fitness"].between(0, 1).all()
    comp = pd.read_csv(out / "final" / "comparison.tsv", sep="\t")
    assert list(comp["method"]) == ["ga", "baseline", "random"] and (comp["seeds"] == 2).all()
    for m in ("test_top1", "test_top3", "test_top5", "test_loss", "val_top1"):
        assert {f"{m}_mean", f"{m}_std"} <= set(comp.columns)
    preds = pd.read_csv(out / "final" / "predictions.tsv", sep="\t")
    assert list(preds.columns) == ["index", "label", "pred1", "pred2", "pred3", "pred4", "pred5"]
    assert len(preds) == 500 and preds["index"].tolist() == list(range(500))
    acc = (preds["label"] == preds["pred1"]).mean()
    ga_row = comp[comp["method"] == "ga"].iloc[0]
    assert ga_row["test_top1_mean"] > 0.3  # learns on generated data (chance: 0.1)
    first_seed = json.loads(next((out / "runs").glob("*/test.json")).read_text())
    assert 0 <= acc <= 1 and first_seed["status"] in ("ok", "diverged")


def test_train_jobs_equal_distinct_genomes_plus_baseline_and_final_seeds(smoke):
    out = smoke["out"]
    search = set()
    for g in range(3):
        search |= set(read_tsv(out / "ga" / f"gen{g}" / "population.tsv")["run"])
    plan = read_tsv(out / "final" / "plan.tsv")
    random = set(read_tsv(out / "random_search" / "population.tsv")["run"])
    expected = search | random | set(plan["run"])
    trained = trained_runs(smoke["log"])
    assert len(trained) == len(set(trained)), "a run was trained twice"
    assert set(trained) == expected
    # elites are carried over, never retrained: later generations reuse their run folders
    pop1 = read_tsv(out / "ga" / "gen1" / "population.tsv")
    elites = pop1[pop1["origin"] == "elite"]["run"]
    assert len(elites) == 2 and set(elites) <= set(read_tsv(out / "ga" / "gen0" / "population.tsv")["run"])
    assert len(plan) == 1 + 3 * 2 and set(plan["seed"][plan["stage"] == "final"]) == {1, 2}


def test_rerun_after_completion_has_nothing_to_do(smoke):
    p = snakemake(smoke["dir"], *SMOKE, "-n")
    assert "Nothing to be done" in p.stdout + p.stderr


def test_two_fresh_runs_give_byte_identical_populations(smoke, tmp_path):
    """Another clone, another job order and scheduler threads: --cores 4 (Snakemake gives each job 4
    threads), greedy scheduler. The arithmetic's threads come from train.threads, not from --cores."""
    work = copy_workflow(tmp_path)
    snakemake(
        work, "results/smoke/ga/best.tsv", "--cores", "4", "--configfile", "config/smoke.yaml", "--scheduler", "greedy"
    )
    for g in range(3):
        for name in ("population.tsv", "fitness.tsv"):
            a = (smoke["out"] / "ga" / f"gen{g}" / name).read_bytes()
            b = (work / "results" / "smoke" / "ga" / f"gen{g}" / name).read_bytes()
            assert a == b, f"gen{g}/{name} differs"
    assert (smoke["out"] / "ga" / "best.tsv").read_bytes() == (work / "results/smoke/ga/best.tsv").read_bytes()


def test_dry_run_of_default_config_without_data_plans_every_generation_and_figure(tmp_path):
    """The default config's DAG before any checkpoint has run: data, generation 0 and the LR finder;
    then one fitness table per generation, one next generation between two, and every figure."""
    work = copy_workflow(tmp_path)
    p = snakemake(work, "-n", "--cores", "1", "--resources", "gpu=1")
    text = p.stdout + p.stderr
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M)}
    generations = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["ga"]["generations"]
    assert counts["collect_fitness"] == generations and counts["next_generation"] == generations - 1
    figures = re.findall(r'^\s+"(\w+)",$', (ROOT / "workflow" / "Snakefile").read_text(), flags=re.M)
    assert figures and all(counts.get(f"plot_{name}") == 1 for name in figures), (figures, counts)
    for rule in ("download_data", "prepare_data", "init_population", "lr_find", "compare", "environments"):
        assert counts[rule] == 1, rule
    assert "train" not in counts  # the runs are known only once the populations exist
    assert "results/data/raw/cifar10" in text and not (work / "results").exists()


def test_lint_is_clean_and_snakefiles_are_formatted():
    p = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0 and "Lints for" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert "good condition" in p.stdout + p.stderr
    f = subprocess.run([str(BIN / "snakefmt"), "--check", "workflow/"], cwd=ROOT, capture_output=True, text=True)
    assert f.returncode == 0, f.stdout + f.stderr


FIGURES = [
    "ga_progress",
    "search_space",
    "training_curves",
    "schedules",
    "lr_find",
    "final_comparison",
    "confusion_matrix",
    "ga_vs_random",  # smoke.yaml: random_search: true
]
TABLES = [
    "ga/individuals.tsv",
    "ga/summary.tsv",
    "final/comparison.tsv",
    "environments.tsv",
    "random_search/fitness.tsv",
]


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_decodable_images_with_data(smoke, name):
    from PIL import Image

    path = smoke["out"] / "plots" / f"{name}.png"
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG" and im.width > 500 and im.height > 300
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "an almost blank image"


def test_tables_list_every_individual_and_generation(smoke):
    out = smoke["out"]
    ind = pd.read_csv(out / "ga" / "individuals.tsv", sep="\t")
    assert len(ind) == 3 * 4 and sorted(ind["generation"].unique()) == [0, 1, 2]
    summary = pd.read_csv(out / "ga" / "summary.tsv", sep="\t")
    assert list(summary["generation"]) == [0, 1, 2]
    assert (summary["best_so_far"].diff().fillna(0) >= 0).all()  # elitism: never worse
    assert summary["new_runs"].iloc[0] == summary["distinct_runs"].iloc[0]


def test_report_html_holds_every_figure_and_table(smoke, tmp_path):
    report = smoke["dir"] / "report.html"
    p = snakemake(smoke["dir"], "--configfile", "config/smoke.yaml", "--report", report)
    assert "Report created" in p.stdout + p.stderr
    html = report.read_text()
    assert report.stat().st_size > 100_000
    for name in FIGURES:
        assert f"{name}.png" in html and f"filename={name}.png;base64," in html, name
    for t in TABLES:
        assert Path(t).name in html, t
    for cat in ("1. GA search", "2. Training", "3. Final comparison (test set)", "5. Environments"):
        assert cat in html
    summary = re.search(r"gap [+-]\d+\.\d+ points", html)
    assert summary, "the final figure's caption states the gap"
    verdict = (smoke["out"] / "final" / "verdict.txt").read_text()
    assert re.match(r"Test top-1: GA best \d+\.\d+ ± \d+\.\d+ %, baseline \d+\.\d+ ± \d+\.\d+ %", verdict), verdict
    assert re.search(r"It took \d+ trainings .* and \d+\.\d+ device-hours on cpu", verdict), verdict
    front = re.search(r"Verdict\.</strong> (.*?)</p>", html)  # the workflow description (front page)
    assert front and front.group(1).encode().decode("unicode_escape") == verdict.strip(), (
        "the verdict is on the front page"
    )


def test_degradation_target_makes_table_and_figure_in_the_report(smoke):
    """`snakemake degradation`: plain and residual nets with the paper's step schedule (shortened)."""
    from PIL import Image

    snakemake(smoke["dir"], "degradation", *SMOKE)
    table = pd.read_csv(smoke["out"] / "degradation" / "table.tsv", sep="\t")
    assert list(table["depth"]) == [8, 20]
    assert table.set_index("depth").loc[20, "paper_resnet_test_error"] == 8.75
    for col in ("plain_test_error", "resnet_test_error", "plain_train_error", "resnet_train_error"):
        assert table[col].between(0, 100).all()
    runs = sorted(p.name for p in (smoke["out"] / "degradation" / "runs").iterdir())
    assert runs == ["plain20_seed0", "plain8_seed0", "resnet20_seed0", "resnet8_seed0"]
    with Image.open(smoke["out"] / "plots" / "degradation.png") as im:
        assert im.width > 500 and len(im.convert("RGB").getcolors(1 << 20)) > 50
    report = smoke["dir"] / "report-degradation.html"
    snakemake(smoke["dir"], "all", "degradation", *SMOKE, "--report", report)
    html = report.read_text()
    assert "filename=degradation.png;base64," in html and "4. Degradation (paper Fig. 6)" in html
    assert "table.tsv" in html


def test_paths_with_spaces_and_shell_characters_are_quoted(tmp_path):
    """data_dir and outdir with a space, a `;` and a `$(...)`: every job runs, no command runs from a name."""
    from data import write_synthetic

    work = copy_workflow(tmp_path / "wf")
    data_dir = work / "my data; touch INJECTED1"
    write_synthetic(data_dir, n_train=2500, n_test=500, seed=0)  # the CIFAR-10 layout, not the official files
    out = "results/smoke out $(touch INJECTED2)/"
    (work / "spaces.yaml").write_text(
        f"outdir: '{out}'\ndata: {{dataset: cifar10, data_dir: '{data_dir}', verify_md5: false}}\n"
        "ga: {generations: 1}\nfinal: {seeds: 1}\n"
    )
    snakemake(work, *SMOKE, "spaces.yaml")
    results = work / out.rstrip("/")
    assert (results / "final" / "comparison.tsv").exists() and (results / "plots" / "confusion_matrix.png").exists()
    assert not list(work.rglob("INJECTED*")) and not list(tmp_path.rglob("INJECTED*"))


def test_cores_1_and_cores_2_give_byte_identical_populations_and_fitness(smoke, tmp_path):
    from helpers import TARGET, assert_same_ga

    work = copy_workflow(tmp_path)
    snakemake(work, TARGET, "--cores", "1", "--configfile", "config/smoke.yaml")
    assert_same_ga(work, smoke)


PROVENANCE = {"torch", "torchvision", "cuda", "cudnn", "device", "deterministic", "threads", "commit", "settings_hash"}


def test_every_result_records_its_provenance_and_the_report_lists_environments(smoke):
    out = smoke["out"]
    for name in ("result.json", "test.json"):
        records = [json.loads(p.read_text()) for p in (out / "runs").glob(f"*/{name}")]
        assert records and all(set(r["provenance"]) == PROVENANCE for r in records), name
        assert {r["provenance"]["threads"] for r in records} == {2}  # train.threads of smoke.yaml
        assert {r["provenance"]["deterministic"] for r in records} == {True}
    envs = pd.read_csv(out / "environments.tsv", sep="\t")
    runs = {p.parent.name for p in (out / "runs").glob("*/result.json")}
    assert len(envs) == 1 and envs["runs"].sum() == len(runs) and envs["device"].iloc[0].startswith("cpu")
    assert "mixes" not in (out / "logs" / "collect_fitness" / "gen0.log").read_text()


def test_no_smoke_generation_holds_a_genome_twice_or_redraws_an_evaluated_one(smoke):
    evaluated = set()
    for g in range(3):
        pop = read_tsv(smoke["out"] / "ga" / f"gen{g}" / "population.tsv")
        assert pop["run"].is_unique, f"gen{g} holds a genome twice"
        children = set(pop.loc[pop["origin"] == "child", "run"])
        assert not children & evaluated, f"gen{g} re-draws an evaluated genome"
        evaluated |= set(pop["run"])
    assert len(evaluated) == 4 + 2 * 2  # population + (population - elites) * (generations - 1)


def test_random_search_control_has_the_ga_budget_and_a_row_in_the_comparison(smoke):
    out = smoke["out"]
    rs = read_tsv(out / "random_search" / "fitness.tsv")
    gen0 = read_tsv(out / "ga" / "gen0" / "population.tsv")
    assert len(rs) == 4 + 2 * 2 and rs["run"].is_unique  # as many distinct genomes as the GA trained
    assert list(rs["run"][:4]) == list(gen0["run"])  # generation 0 reused: its trainings are shared
    best = read_tsv(out / "random_search" / "best.tsv")
    assert best["fitness"].iloc[0] == rs["fitness"].max()
    plan = read_tsv(out / "final" / "plan.tsv")
    random_final = plan[plan["method"] == "random"]
    assert len(random_final) == 2 and all(
        r.startswith(best["run"].iloc[0][: -len("_seed=0")]) for r in random_final["run"]
    )
    caption = (out / "final" / "verdict.txt").read_text()
    assert re.search(
        r"GA vs random search: gap [+-]\d+\.\d+ points, (not )?larger than the seed-to-seed spread", caption
    )
    p = snakemake(smoke["dir"], "random_search", *SMOKE, "-n")
    assert "Nothing to be done" in p.stdout + p.stderr


def test_early_stopping_stops_a_child_deterministically_and_a_rerun_reuses_it(tmp_path):
    runs = []
    for name in ("a", "b"):
        work = copy_workflow(tmp_path / name)
        # two generations; a negative margin: a child must beat the worst elite by 0.2 to go on
        (work / "es.yaml").write_text(
            "ga: {generations: 2, early_stop: {epoch: 1, margin: -0.2}}\nrandom_search: false\n"
        )
        snakemake(work, "results/smoke/ga/summary.tsv", *SMOKE, "es.yaml")
        runs.append(work / "results" / "smoke")
    a, b = runs
    for rel in [f"ga/gen{g}/{f}.tsv" for g in range(2) for f in ("population", "fitness")] + ["ga/summary.tsv"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    summary = read_tsv(a / "ga" / "summary.tsv")
    assert summary["stopped"].sum() >= 1 and summary["stopped"].iloc[0] == 0  # generation 0 never stops
    assert summary["epochs_saved"].sum() == summary["stopped"].sum()  # 2 epochs, stopped after 1
    stopped = [json.loads(p.read_text()) for p in (a / "runs").glob("*/result.json")]
    stopped = [r for r in stopped if r["status"] == "stopped"]
    assert stopped and all(r["epochs_completed"] == 1 and r["fitness"] == r["top1"] > 0 for r in stopped)
    log = (a / "logs" / "train" / f"{stopped[0]['run']}.log").read_text()
    assert "stopped after epoch 1" in log and "elites' bar" in log
    p = snakemake(a.parent.parent, "results/smoke/ga/summary.tsv", *SMOKE, "es.yaml", "-n")
    assert "Nothing to be done" in p.stdout + p.stderr
