"""The tables behind the report: the final comparison (evaluate.compare, final_summary) and the
data the figures read (plots.curve_runs, final_table, degradation_table), on hand-made files."""

import json

import numpy as np
import pandas as pd
import pytest

import evaluate
import plots
from util import DataError, write_tsv

GA, BASE = "lr=1.00e-02_wd=1.00e-03_mom=9.00e-01", "lr=3.00e-03_wd=5.00e-04_mom=8.50e-01"


def write_final(tmp_path, ga_top1=(0.90, 0.92), base_top1=(0.80, 0.84)):
    """plan.tsv and the final runs' test.json: GA best and baseline at seeds 1 and 2."""
    rows = [{"method": "baseline", "stage": "search", "seed": 0, "run": f"{BASE}_seed=0"}]
    tests = []
    for method, genome, top1s in (("ga", GA, ga_top1), ("baseline", BASE, base_top1)):
        for seed, top1 in zip((1, 2), top1s):
            run = f"{genome}_seed={seed}"
            rows.append({"method": method, "stage": "final", "seed": seed, "run": run})
            t = {"run": run, "status": "ok", "lr": 0.01, "wd": 0.001, "mom": 0.9, "seed": seed}
            t.update(test_top1=top1, test_top3=top1 + 0.05, test_top5=top1 + 0.07, test_loss=1 - top1)
            t.update(val_top1=top1, val_loss=1 - top1, train_loss=0.5)
            (tmp_path / run).mkdir()
            (tmp_path / run / "test.json").write_text(json.dumps(t))
            tests.append(tmp_path / run / "test.json")
    write_tsv(pd.DataFrame(rows), tmp_path / "plan.tsv")
    return tmp_path / "plan.tsv", tests


def test_compare_gives_mean_and_sample_std_per_method(tmp_path):
    plan, tests = write_final(tmp_path)
    table = evaluate.compare(plan, list(reversed(tests))).set_index("method")  # any order of files
    assert list(table.index) == ["ga", "baseline"] and list(table["seeds"]) == [2, 2]
    assert table.loc["ga", "test_top1_mean"] == pytest.approx(0.91)
    assert table.loc["baseline", "test_top1_std"] == pytest.approx(np.std([0.80, 0.84], ddof=1))
    write_tsv(table.reset_index(), tmp_path / "comparison.tsv")
    text = evaluate.final_summary(tmp_path / "comparison.tsv")
    assert "gap +9.00 points, larger than the seed-to-seed spread" in text and "over 2 seeds" in text


def test_a_gap_within_the_seed_spread_is_said_so(tmp_path):
    plan, tests = write_final(tmp_path, ga_top1=(0.80, 0.90), base_top1=(0.82, 0.86))
    write_tsv(evaluate.compare(plan, tests), tmp_path / "comparison.tsv")
    assert "gap +1.00 points, not larger than the seed-to-seed spread" in evaluate.final_summary(
        tmp_path / "comparison.tsv"
    )


def test_compare_names_a_final_run_without_its_test_file(tmp_path):
    plan, tests = write_final(tmp_path)
    with pytest.raises(DataError, match=f"no test.json given for final run.*{GA}_seed=2"):
        evaluate.compare(plan, tests[:1] + tests[2:])


def test_final_table_holds_every_seed_and_metric_in_percent(tmp_path):
    plan, tests = write_final(tmp_path)
    df = plots.final_table(plan, tests)
    assert len(df) == 2 * 2 * 3 and set(df["metric"]) == {"top-1", "top-3", "top-5"}
    ga1 = df[(df["method"] == "GA best") & (df["metric"] == "top-1")]
    assert sorted(ga1["accuracy (%)"]) == pytest.approx([90.0, 92.0])


def fitness_table(path, rows):
    cols = ["individual", "run", "lr", "wd", "mom", "origin", "parents", "fitness", "status"]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tsv(pd.DataFrame([dict(zip(cols, r)) for r in rows]), path)
    return path


def run(lr: str) -> str:
    return f"lr={lr}_wd=1.00e-03_mom=9.00e-01_seed=0"


def test_curve_runs_are_the_baseline_then_the_fittest_distinct_runs_that_trained(tmp_path):
    gen0 = fitness_table(
        tmp_path / "gen0" / "fitness.tsv",
        [
            (0, run("1.00e-02"), 0.01, 0.001, 0.9, "init", "", 0.7, "ok"),
            (1, run("2.00e-02"), 0.02, 0.001, 0.9, "init", "", 0.0, "diverged"),
            (2, run("3.00e-02"), 0.03, 0.001, 0.9, "init", "", 0.6, "ok"),
        ],
    )
    gen1 = fitness_table(
        tmp_path / "gen1" / "fitness.tsv",
        [
            (0, run("1.00e-02"), 0.01, 0.001, 0.9, "elite", "gen0:0", 0.7, "ok"),
            (1, run("4.00e-02"), 0.04, 0.001, 0.9, "child", "gen0:0,gen0:2", 0.8, "ok"),
            (2, run("3.00e-02"), 0.03, 0.001, 0.9, "elite", "gen0:2", 0.6, "ok"),
        ],
    )
    plan, _ = write_final(tmp_path)
    runs = plots.curve_runs([gen0, gen1], plan, top_k=2)
    assert [r["run"] for r in runs] == [f"{BASE}_seed=0", run("4.00e-02"), run("1.00e-02")]
    assert runs[0]["baseline"] and runs[1]["label"].startswith("GA #1 (gen 1, val top-1 80.0%)")


def test_degradation_table_averages_seeds_at_the_last_epoch_beside_the_paper(tmp_path):
    files = []
    for kind, depth, seed, final_err in [("plain", 20, 0, 0.10), ("plain", 20, 1, 0.14), ("resnet", 20, 0, 0.08)]:
        folder = tmp_path / f"{kind}{depth}_seed{seed}"
        folder.mkdir()
        m = pd.DataFrame({"epoch": [1, 2], "train_top1": [0.5, 0.95], "test_top1": [0.5, 1 - final_err]})
        m.to_csv(folder / "metrics.tsv", sep="\t", index=False)
        files.append(folder / "metrics.tsv")
    table = plots.degradation_table(files).set_index("depth")
    assert table.loc[20, "plain_test_error"] == pytest.approx(12.0)
    assert table.loc[20, "resnet_test_error"] == pytest.approx(8.0)
    assert table.loc[20, "paper_resnet_test_error"] == 8.75 and table.loc[20, "seeds"] == 2


def test_ga_vs_random_counts_each_distinct_genome_once_in_training_order(tmp_path):
    gen0 = fitness_table(
        tmp_path / "gen0" / "fitness.tsv",
        [
            (0, run("1.00e-02"), 0.01, 0.001, 0.9, "init", "", 0.5, "ok"),
            (1, run("2.00e-02"), 0.02, 0.001, 0.9, "init", "", 0.3, "ok"),
        ],
    )
    gen1 = fitness_table(
        tmp_path / "gen1" / "fitness.tsv",
        [
            (0, run("1.00e-02"), 0.01, 0.001, 0.9, "elite", "gen0:0", 0.5, "ok"),
            (1, run("4.00e-02"), 0.04, 0.001, 0.9, "child", "", 0.9, "ok"),
        ],
    )
    assert plots.first_seen_fitness(plots.all_individuals([gen0, gen1])) == [0.5, 0.3, 0.9]
    plots.plot_ga_vs_random([gen0, gen1], gen0, tmp_path / "ga_vs_random.png")
    assert (tmp_path / "ga_vs_random.png").stat().st_size > 10_000
