"""The verdict's statistics on hand-made tables (verdict.py), and the LR finder's valley rule on
built curves (lr_find.suggest)."""

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

import formats
import lr_find
import verdict
from helpers import ROOT
from lr_find import suggest

sys.path.insert(0, str(ROOT / "benchmarks"))
from lr_find_noise import curve  # noqa: E402  (the curves the noise benchmark measures)

T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 5: 2.5706, 10: 2.2281, 30: 2.0423}  # Student's t tables


@pytest.mark.parametrize("df", sorted(T975))
def test_t_quantiles_match_the_tables(df):
    assert verdict.t_quantile(0.975, df) == pytest.approx(T975[df], abs=1e-3)
    assert verdict.t_cdf(T975[df], df) == pytest.approx(0.975, abs=1e-5)


def test_t_quantiles_past_a_thousand_are_found_not_cut_at_the_bracket():
    """df 1 (Welch's df can be near it) at a family-wise level of many comparisons: the quantile is
    tan(pi (p - 1/2)), 3183 at 99.99 %, past the old fixed bracket of +-1000."""
    for p in (0.9999, 0.0001, 0.99999):
        assert verdict.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    with pytest.raises(ValueError, match="must be in"):
        verdict.t_quantile(1.0, 3)


def test_interval_and_welch():
    m, lo, hi = verdict.interval([0.50, 0.52])
    assert m == pytest.approx(0.51) and hi - m == pytest.approx(
        12.7062 * np.std([0.50, 0.52], ddof=1) / math.sqrt(2), rel=1e-4
    )
    assert verdict.interval([0.80, 0.84])[2] == 1.0  # an interval of accuracies stops at 100 %
    assert math.isnan(verdict.interval([0.8])[1])
    diff, lo, hi = verdict.welch([0.90, 0.91, 0.92], [0.80, 0.81, 0.82])
    assert diff == pytest.approx(0.10) and 0 < lo < diff < hi


def scores(values: dict) -> pd.DataFrame:
    """{method: {repeat: [test top-1 per seed]}} as the frame final_scores makes (each repeat at its
    own seeds, search.final_seed_range)."""
    import search

    rows = []
    for m, reps in values.items():
        for r, seeds in reps.items():
            for s, v in zip(search.final_seed_range(0, len(seeds), r), seeds):
                rows.append({"method": m, "repeat": r, "seed": s, "run": f"{m}{r}{s}", "search_fitness": v + 0.05,
                             **{k: v for k in verdict.METRICS}})  # fmt: skip
    return pd.DataFrame(rows)


def judge(values, chance=0.1, valid=True, baseline_lr="auto"):
    s = scores(values)
    sug = {"valid": valid, "reason": "the smoothed loss fell by 1.0 %", "suggestion": 4.1e-8}
    base = {"lr": baseline_lr, "wd": 5e-4, "mom": 0.85}
    c = verdict.fail_baseline_of_a_failed_range_test(verdict.compare(s, chance), sug, base)
    d = verdict.differences(s, c, "ga")
    sentences = verdict.failure_sentences(c, s, chance, sug, base) + verdict.difference_sentences(d, c, "ga")
    return c, d, verdict.score_sentence(c) + " " + " ".join(sentences)


def test_an_interval_covering_zero_is_not_distinguishable_and_repeats_are_the_unit():
    c, d, text = judge(
        {
            "ga": {0: [0.90, 0.88], 1: [0.80, 0.82]},
            "random": {0: [0.86, 0.84], 1: [0.83, 0.85]},
            "baseline": {0: [0.70, 0.72]},
        }
    )
    row = c.set_index("method").loc["ga"]
    assert row["repeats"] == 2 and row["ci_basis"] == "repeats" and row["test_top1_mean"] == pytest.approx(0.85)
    ga_vs_random = d[(d["method"] == "random") & (d["against"] == "ga")].iloc[0]
    assert ga_vs_random["ci_low"] < 0 < ga_vs_random["ci_high"] and not ga_vs_random["distinguishable"]
    assert "random search vs GA: -0.50 points" in text and "not distinguishable at this budget" in text
    assert "over 2 searches per method" in text and "one search per method cannot rank" not in text
    assert row["seeds"] == 2 and "retrained with 2 seeds" in text  # per search: each has its own two
    assert list(c["method"]) == ["ga", "random", "baseline"]  # the baseline last, compared to by the others


def test_one_search_per_method_is_said_to_rank_nothing():
    _, d, text = judge({"ga": {0: [0.90, 0.91]}, "random": {0: [0.60, 0.62]}, "baseline": {0: [0.7, 0.71]}})
    assert "one search per method cannot rank methods" in text and "over 2 retraining seeds" in text
    # the seeds' interval excludes 0, yet one search per method ranks nothing: never "distinguishable"
    assert (d["basis"] == "seeds").all() and not d["distinguishable"].any()
    assert "distinguishable (excludes 0)" not in text
    assert "random search vs GA: -29.50 points" in text and "these two genomes differ" in text


def test_a_clear_gap_is_distinguishable():
    ga = {0: [0.90, 0.91], 1: [0.92, 0.91], 2: [0.90, 0.90]}
    rnd = {0: [0.60, 0.61], 1: [0.62, 0.62], 2: [0.61, 0.60]}
    c, d, text = judge({"ga": ga, "random": rnd, "baseline": {0: [0.5, 0.51]}})
    assert d[(d["method"] == "random") & (d["against"] == "ga")]["distinguishable"].iloc[0]
    assert "distinguishable (excludes 0)" in text


def test_a_method_at_chance_failed_and_a_failed_range_test_is_named():
    c, d, text = judge({"ga": {0: [0.90, 0.91]}, "baseline": {0: [0.07, 0.07]}}, valid=False)
    assert c.set_index("method").loc["baseline", "failed"]
    assert "baseline failed: its test top-1 (7.00 %) is at or below chance (10.00 %)" in text
    assert d.empty  # nothing is compared with a failed method
    assert "The LR range test failed" in text and "fallback lr 4.10e-08, so it failed too" in text


def test_a_method_exactly_at_chance_failed_in_the_table_and_the_text_alike():
    c, d, text = judge({"ga": {0: [0.9, 0.9]}, "random": {0: [0.1] * 3, 1: [0.1] * 3}, "baseline": {0: [0.5, 0.5]}})
    assert c.set_index("method").loc["random", "failed"] and "random" not in set(d["method"])
    assert "random search failed: its test top-1 (10.00 %)" in text


def test_chance_is_the_majority_class_share_of_the_test_set():
    """An imbalanced test set (image folders allow one): answering its largest class always scores its
    share, so a baseline at 90 % on a 90/10 two-class test set learned nothing and failed."""
    assert verdict.chance_of(np.array([0, 1] * 50), 2) == 0.5
    assert verdict.chance_of(np.array([0] * 90 + [1] * 10), 2) == 0.9
    assert verdict.chance_of(np.array([], dtype=np.int64), 10) == 0.1
    chance = verdict.chance_of(np.array([0] * 90 + [1] * 10), 2)
    c, d, text = judge({"ga": {0: [0.95, 0.96], 1: [0.95, 0.94]}, "baseline": {0: [0.90, 0.90]}}, chance=chance)
    assert c.set_index("method").loc["baseline", "failed"] and d.empty
    assert "baseline failed: its test top-1 (90.00 %) is at or below chance (90.00 %)" in text


def test_a_diverged_final_run_fails_its_method_and_is_never_averaged_away():
    """evaluate.py gives a diverged final run NaN scores: its method failed, its means are NaN (not the
    other seeds' average, which would flatter it), and the text says why; one search or several."""
    nan = math.nan
    for ga, at in (({0: [0.90, nan]}, "repeat 0 seed 2"), ({0: [0.90, 0.91], 1: [nan, 0.92]}, "repeat 1 seed 3")):
        c, d, text = judge({"ga": ga, "random": {0: [0.86, 0.84], 1: [0.83, 0.85]}, "baseline": {0: [0.7, 0.71]}})
        row = c.set_index("method").loc["ga"]
        assert row["failed"] and row["failure"] == "no_scores" and math.isnan(row["test_top1_mean"])
        assert f"GA failed: final run(s) {at} have no test scores (diverged, or an invalid genome)" in text
        assert "ga" not in set(d["method"]) | set(d["against"]) and "GA no score (a final run has none)" in text
        # the comparisons the study asks for are named, not dropped without a word
        assert "Not compared, as one side failed: GA vs baseline, random search vs GA." in text
    c, d, text = judge({"ga": {0: [0.90, 0.91]}, "baseline": {0: [nan, nan]}})  # a baseline lr that diverges
    assert list(c.loc[c["failed"], "failure"]) == ["no_scores"] and d.empty


def test_a_search_at_chance_is_named_and_averaged_in():
    """A repeat whose retrained best is at chance is an outcome of the method, kept in its mean (not
    dropped to flatter it), and named so a reader sees why the interval is wide."""
    c, d, text = judge({"ga": {0: [0.80, 0.81], 1: [0.10, 0.10]}, "baseline": {0: [0.7, 0.71]}})
    assert not c.set_index("method").loc["ga", "failed"]
    assert c.set_index("method").loc["ga", "test_top1_mean"] == pytest.approx(0.4525)
    assert "GA: the best of repeat(s) 1 retrained at or below chance; averaged in." in text


def test_every_final_run_at_chance_is_named_for_one_search_and_the_baseline_too():
    """A 7 % seed among 80 % ones is averaged in whatever the number of searches, and named, the
    baseline's too; a search named at chance is not named again seed by seed."""
    c, d, text = judge({"ga": {0: [0.80, 0.07, 0.82]}, "baseline": {0: [0.80, 0.07, 0.82]}})
    assert not c["failed"].any()
    for who in ("GA", "baseline"):
        assert f"{who}: final run(s) repeat 0 seed 2 scored at or below chance (10.00 %); averaged in." in text
    c, d, text = judge({"ga": {0: [0.80, 0.05], 1: [0.10, 0.10]}, "baseline": {0: [0.7, 0.71]}})
    assert "GA: the best of repeat(s) 1 retrained at or below chance; averaged in." in text
    assert "GA: final run(s) repeat 0 seed 2 scored at or below chance" in text and "repeat 1 seed" not in text
    assert "baseline: final run" not in text


def test_the_differences_hold_together_at_95_percent():
    """Five comparisons (three methods and the baseline): each interval at 99 %, so that reading the
    whole table finds a difference by chance at most 5 % of the time; one comparison: 95 %."""
    assert verdict.family_level(5) == pytest.approx(0.99) and verdict.family_level(1) == pytest.approx(0.95)
    values = {
        "ga": {0: [0.90, 0.88], 1: [0.80, 0.82], 2: [0.86, 0.84]},
        "random": {0: [0.86, 0.84], 1: [0.83, 0.85], 2: [0.80, 0.81]},
        "tpe": {0: [0.85, 0.84], 1: [0.87, 0.85], 2: [0.82, 0.83]},
        "baseline": {0: [0.70, 0.72, 0.71]},
    }
    _, d, text = judge(values)
    assert len(d) == 5 and "each interval at 99.0 %, so that all 5 hold at once with 95 % (Bonferroni)" in text
    r = d[(d["method"] == "random") & (d["against"] == "ga")].iloc[0]
    a = [0.89, 0.81, 0.85]
    b = [0.85, 0.84, 0.805]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(verdict.welch(b, a, 0.99)[1:])
    # Welch's df here is 3.2: t(0.995) / t(0.975) lies between the tables' 4.604 / 2.776 (df 4) and
    # 5.841 / 3.182 (df 3); an interval left at 95 % would give 1
    diff, low95, high95 = verdict.welch(b, a)
    assert 4.604 / 2.776 < (r["ci_high"] - r["ci_low"]) / (high95 - low95) < 5.841 / 3.182


def test_identical_repeats_give_no_interval_not_a_zero_width_one():
    """Values that do not vary (every repeat retrained to one score): the spread is 0, and a zero-width
    interval would call a 1-point gap "distinguishable" from no evidence."""
    same = {"ga": {0: [0.91, 0.93], 1: [0.91, 0.93]}, "random": {0: [0.90, 0.92], 1: [0.90, 0.92]}}
    c, d, text = judge({**same, "baseline": {0: [0.70, 0.72]}})
    assert c["test_top1_ci_low"].iloc[:2].isna().all()
    assert not d[(d["method"] == "random") & (d["against"] == "ga")]["distinguishable"].iloc[0]
    assert "GA 92.00 % [no interval: every value the same]" in text
    assert "random search vs GA: -1.00 points, no interval" in text and "not distinguishable at this budget" in text
    assert "random search vs GA: -1.00 points [" not in text
    # one side without spread is not an exact mean either: three copies of one GA score against a
    # varying baseline would otherwise read "distinguishable" where one copy would not
    flat = {0: [0.80], 1: [0.80], 2: [0.80]}
    c, d, text = judge({"ga": flat, "random": flat, "baseline": {0: [0.77, 0.775, 0.78]}})
    assert d["ci_low"].isna().all() and not d["distinguishable"].any()
    assert "GA vs baseline: +2.50 points, no interval" in text and "Bonferroni" not in text  # no intervals to hold
    # the same scores in another order: a running sum's means differ in the last bit, which must not
    # read as a spread (a zero-width interval, "distinguishable" from no evidence)
    ga = {0: [0.7, 0.3, 0.7791], 1: [0.7791, 0.3, 0.7]}
    rnd = {r: [v - 0.01 for v in seeds] for r, seeds in ga.items()}
    c, d, text = judge({"ga": ga, "random": rnd, "baseline": {0: [0.5, 0.52, 0.51]}})
    assert c["test_top1_ci_low"].iloc[:2].isna().all() and not d["distinguishable"].any()
    assert "GA 59.30 % [no interval: every value the same]" in text and "59.30 %, 59.30 %" not in text
    assert "GA vs baseline: +8.30 points, no interval" in text


def test_a_baseline_above_chance_after_a_failed_range_test_is_failed_unless_its_lr_is_set():
    values = {"ga": {0: [0.90, 0.91]}, "baseline": {0: [0.40, 0.42]}}
    c, d, text = judge(values, valid=False)
    assert c.set_index("method").loc["baseline", "failed"] and d.empty
    assert "is at or below chance" not in text and "so it failed too and is not compared" in text
    c, d, text = judge(values, valid=False, baseline_lr=0.01)
    assert not c.set_index("method").loc["baseline", "failed"] and list(d["against"]) == ["baseline"]
    assert "baseline.lr), so it is compared" in text


def test_the_tables_pass_their_contracts(tmp_path):
    c, d, _ = judge({"ga": {0: [0.90, 0.88], 1: [0.80, 0.82]}, "baseline": {0: [0.70, 0.72]}})
    formats.write_table("comparison", c, tmp_path / "c.tsv")
    formats.write_table("differences", d, tmp_path / "d.tsv")
    back = formats.read_table("comparison", tmp_path / "c.tsv")
    assert back["failed"].tolist() == [False, False] and back["test_top1_mean"].iloc[0] == pytest.approx(0.85)


# ----------------------------------------------------------------------------- the LR finder's rule
def test_the_valley_rule_picks_an_lr_inside_the_falling_stretch():
    lrs, loss = curve()
    s = suggest(lrs, loss)
    assert s["valid"] and s["rule"] == "valley"
    assert lrs[58] <= s["suggestion"] <= lrs[80], (s, lrs[60], lrs[80])
    noise_minimum = min(range(60), key=lambda i: loss[i])
    assert lrs[noise_minimum] / 10 < lrs[58]  # the old rule (minimum / 10) would sit in the flat noise


@pytest.mark.parametrize("steps", [40, 100])
def test_the_valley_rule_holds_on_noisy_batches_of_a_short_range_test(steps):
    """Per-batch noise of 2 % of the loss, a fall of 30 % late in the range (the handwritten-digits
    curve of issue 22): inside the falling stretch (or just before it) on every seed. The bias-
    corrected EMA the test stops on lags by tens of steps; the rule reads the running median."""
    a, b = int(0.6 * steps), int(0.75 * steps)
    for seed in range(30):
        lrs, loss = curve(n=steps, seed=seed, fall=(a, b), noise=0.05, bottom=1.6)
        s = suggest(lrs, loss)
        assert s["valid"] and lrs[a] / 3 <= s["suggestion"] <= lrs[b], (seed, s, lrs[a], lrs[b])


def test_a_range_test_rising_from_its_first_steps_is_refused_not_a_crash():
    lrs = [1e-7 * 10 ** (i / 12) for i in range(100)]
    s = suggest(lrs, [2.0] * 4 + [1.0] * 5 + [3.0] * 91)  # the first fifth's median is the rise
    assert not s["valid"] and "rose from its first steps" in s["reason"]
    assert not suggest(lrs, [0.0] * 100)["valid"]  # a zero loss: no division by its level


def test_a_range_test_lowest_at_its_first_steps_is_said_to_only_rise():
    """Lowest at the start, the first fifth's median more than 5 % above it: a rise, said as one, not
    as "fell by 6.9 %, less than 5 %" (a flat curve lowest there by chance fell by less than 5 %)."""
    lrs = [1e-7 * 1e8 ** (i / 99) for i in range(100)]
    for loss in (np.linspace(2.3, 5, 100), [5.0, 3.0, *np.linspace(3.1, 6, 98)]):
        s = suggest(lrs, [float(x) for x in loss])
        assert not s["valid"] and s["rule"] == "minimum/10"
        assert s["reason"] == "the loss only rises from its first steps: lower lr_find.start_lr", s


def test_a_range_test_that_never_diverges_is_valid_with_a_note():
    """A loss still falling at end_lr: the suggestion holds, but the falling stretch may go on past the
    range; suggestion.json's reason says so (its contract unchanged), a diverging curve has none."""
    lrs = [1e-7 * 1e8 ** (i / 99) for i in range(100)]
    s = suggest(lrs, [float(x) for x in np.linspace(2.3, 0.5, 100)])
    assert s["valid"] and s["rule"] == "valley"
    assert s["reason"] == "no divergence within the range: raise lr_find.end_lr"
    assert suggest(*curve())["reason"] == ""
    formats.check_rows("suggestion", [s], "suggestion.json")


def test_a_range_test_with_no_descent_is_refused():
    for seed in range(30):
        lrs, loss = curve(n=40, seed=seed, fall=(30, 30), noise=0.05, bottom=2.3)
        s = suggest(lrs, loss)
        assert not s["valid"] and "less than 5 %" in s["reason"] and s["rule"] == "minimum/10", (seed, s)


@pytest.mark.parametrize("steps", [40, 100])
def test_a_flat_curve_noisier_than_5_percent_is_refused_too(steps):
    """Per-batch noise of 4-9 % of the loss and no descent at all: the smoothed loss dips by more than
    5 % by chance (the 5 % rule alone accepted 24-69 of these 100 curves, with suggestions anywhere
    in the flat noise); the noise margin refuses all but a few, and a real 30 % fall at 4 % noise
    still passes."""
    flat = [
        suggest(*curve(n=steps, seed=s, fall=(steps, steps), noise=nz, bottom=2.3))
        for s in range(100)
        for nz in (0.1, 0.2)
    ]
    assert sum(s["valid"] for s in flat) <= 4
    assert any("batch noise" in s["reason"] for s in flat)
    a, b = int(0.6 * steps), int(0.75 * steps)
    for seed in range(30):
        lrs, loss = curve(n=steps, seed=seed, fall=(a, b), noise=0.1, bottom=1.6)
        s = suggest(lrs, loss)
        assert s["valid"] and lrs[a] / 3 <= s["suggestion"] <= lrs[b], (seed, s)


def test_the_lr_finder_figure_says_a_failed_range_test_failed(tmp_path, monkeypatch):
    import plots

    lrs, loss = curve(n=40, fall=(30, 30), noise=0.05, bottom=2.3)
    rows = list(zip(range(40), lrs, loss, lr_find.running_median(loss)))
    formats.write_rows(
        "lr_find",
        ["step", "lr", "loss", "smoothed_loss"],
        rows,
        tmp_path / "lr_find.tsv",
        lambda r: "\t".join(map(repr, r)) + "\n",
    )
    formats.write_record("suggestion", suggest(lrs, loss), tmp_path / "suggestion.json")
    titles = []
    monkeypatch.setattr(plots, "save", lambda fig, out: titles.append(fig.axes[0].get_title()))
    plots.plot_lr_find({}, tmp_path / "lr_find.tsv", tmp_path / "suggestion.json", tmp_path / "lr_find.png")
    assert titles and titles[0].startswith("LR range test FAILED: the smoothed loss fell by")


def test_lr_find_warns_and_records_a_failed_test(prepared, tmp_path):
    import subprocess

    from helpers import lr_find_cmd

    out = tmp_path / "lrf"
    p = subprocess.run(
        lr_find_cmd(prepared, out, 20, "--start-lr", 1e-7, "--end-lr", 1e-6), capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    s = json.loads((out / "suggestion.json").read_text())
    assert not s["valid"] and "warning: the LR range test failed" in p.stdout


def test_the_final_comparison_marks_a_failed_method():
    """A method the verdict failed (comparison.tsv's `failed`) is greyed and labelled so, not drawn as a
    result among the others."""
    import plots

    c, _, _ = judge({"ga": {0: [0.90, 0.91]}, "random": {0: [0.05, 0.06]}, "baseline": {0: [0.7, 0.71]}})
    styles = {r["method"]: plots.comparison_style(r) for _, r in c.iterrows()}
    assert styles["random"] == ("random search (failed)", "0.6", "0.6")
    assert styles["ga"][0] == "GA" and styles["ga"][2] == "black" and "(failed)" not in styles["baseline"][0]


# ----------------------------------------------------------------------------- the search-progress figure
def test_best_so_far_over_repeats_on_one_grid_of_device_hours():
    import plots

    t = pd.DataFrame(
        {
            "repeat": [0, 0, 0, 1, 1, 1],
            "device_hours": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5],
            "best_so_far": [50.0, 60.0, 60.0, 40.0, 70.0, 80.0],
        }
    )
    c = plots.by_repeat(t, "device_hours")
    assert list(c.index) == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert c[1].isna().tolist() == [True, False, False, False, False, False]  # repeat 1 starts at 1.5
    both = c.dropna()
    assert both.mean(axis=1).tolist() == [45.0, 50.0, 65.0, 65.0, 70.0]  # each repeat carried forward
    assert both.min(axis=1).tolist() == [40.0, 40.0, 60.0, 60.0, 60.0]


def test_a_status_and_its_scores_agree_in_every_table_that_holds_both(tmp_path):
    """A best.tsv naming a diverged genome with fitness 0.9, or a test.json of a diverged run with
    scores: either would change the answer (the best, the verdict) silently."""
    from util import DataError

    row = {"method": "ga", "repeat": 0, "round": 1, "individual": 0, "run": "lr=1.00e-02_seed=0", "origin": "child",
           "parents": "", "fitness": 0.9, "top1": float("nan"), "top3": float("nan"), "top5": float("nan"),
           "val_loss": float("nan"), "train_loss": float("nan"), "status": "diverged", "epochs": 2,
           "epochs_completed": 1}  # fmt: skip
    for name in ("best", "individuals"):
        with pytest.raises(DataError, match=r"field fitness \(row 1\): must be 0 for status 'diverged'"):
            formats.check_rows(name, [{**row, "process_seconds": 1.0}, {**row, "individual": 1}], tmp_path / name)
    test = {"run": "lr=1.00e-02_seed=0", "status": "diverged", "seed": 0, "test_top1": 0.5, "test_top3": 0.6,
            "test_top5": 0.7, "test_loss": 1.0, "val_top1": 0.5, "provenance": {}}  # fmt: skip
    with pytest.raises(DataError, match=r"field test_top1: 0.5 with status 'diverged', which has no scores"):
        formats.check_rows("test", [test], tmp_path / "test.json")
