"""The final comparison on the TEST set and the report's verdict, with honest statistics.

    python scripts/verdict.py --spec '<json>' --plan final/plan.tsv --tests runs/*/test.json \\
        --results runs/*/result.json --meta prepared/meta.json --test-labels prepared/test_y.npy \\
        --suggestion lr_find/suggestion.json \\
        --baseline '{"lr": "auto", ...}' --best-predictions runs/<reference best>/test_predictions.tsv \\
        --out-comparison comparison.tsv \\
        --out-differences differences.tsv --out-predictions predictions.tsv --out-verdict verdict.txt

A search is a random experiment: which method wins is known only across repeated searches. So each
method's test top-1 is summarised over its searches (`search.repeats`, each repeat searching at its
own training seed, search.search_seed), each search's best retrained with its own final seeds
(search.final_seed_range): the mean, and a 95 % t-interval over the
repeats' means (the unit that is replicated is the search; with one repeat the interval covers only
the seed-to-seed noise of retraining, and the verdict says that one search per method cannot rank
methods). The baseline has no search: its unit is the seed. A difference between two methods is
Welch's t-interval on their units, each at the level that makes all the table's intervals hold at
once with 95 % (Bonferroni: reading the whole table calls a difference by chance at most 5 % of the
time). An interval that covers 0 is "not distinguishable at this budget"; over the seeds of one
search, one that excludes 0 says only that two retrained genomes differ, never which method is
better. A method with a final run without test scores (it diverged, or its genome was invalid), or
whose mean test top-1 is at or below chance (the test set's largest class share, from the prepared
test labels), failed and is named so, not compared; so is a baseline trained at the lr of an LR
range test that failed (baseline.lr auto). Values that do not vary give no interval, and neither
does a difference where one side does not vary. The winner's curse is shown per method: its bests'
validation fitness in the search next to their validation and test top-1 when retrained.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import formats
import search
import strategies
from layout import run_of
from util import ArgumentParser, DataError, atomic_write_bytes, atomic_write_text, exit_now, run_cli

METRICS = list(formats.COMPARED)
LEVEL = 0.95
SAME = 1e-12  # values within this are one value: means of equal scores in another order differ in the last bit


# ----------------------------------------------------------------------------- Student's t
def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile by bisection on its distribution function."""
    if not 0 < p < 1:
        raise ValueError(f"a quantile's probability must be in (0, 1), got {p!r}")
    hi = 1e3
    while t_cdf(hi, df) < max(p, 1 - p):  # a high level at a low df lies past any fixed bracket (df 1, 99.99 %: 3183)
        hi *= 2
    lo = -hi  # the distribution is symmetric: both tails are bracketed
    for _ in range(200):  # 200 halvings of any bracket below 1e45 leave it under 1e-15 wide
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def flat(values: list[float]) -> bool:
    """No spread to build an interval from: every value the same, to within SAME."""
    return max(values) - min(values) <= SAME


def interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): the 95 % t-interval of the mean of accuracies, within [0, 1] where it would
    reach past them; NaN bounds with fewer than two values or none that differ (no spread to build an
    interval from, not a certain mean)."""
    m = statistics.fmean(values)
    if len(values) < 2 or flat(values):
        return m, math.nan, math.nan
    half = t_quantile((1 + LEVEL) / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, max(0.0, m - half), min(1.0, m + half)


def welch(a: list[float], b: list[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high): Welch's t-interval of the difference at `level`, within [-1, 1];
    NaN bounds where either side has fewer than two values or does not vary: as in interval(), a side
    without spread is no evidence of a certain mean, and treating it as exact would narrow the interval."""
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    if flat(a) or flat(b):
        return diff, math.nan, math.nan
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile((1 + level) / 2, df) * math.sqrt(va + vb)
    return diff, max(-1.0, diff - half), min(1.0, diff + half)


# ----------------------------------------------------------------------------- tables
def final_scores(plan_tsv, tests, spec: dict):
    """The final runs' test.json, with the plan's method, repeat and search fitness, as a frame."""
    import pandas as pd

    by_run = {}
    for path in tests:
        record = formats.read_record("test", path, run=run_of(path))
        by_run[record["run"]] = record
    final = search.read_plan(plan_tsv, spec).query("stage == 'final'")
    missing = [r for r in final["run"] if r not in by_run]
    if missing:
        raise DataError(f"{plan_tsv}: no test.json given for final run(s) {', '.join(missing)}")
    rows = [{**p, **{k: by_run[p["run"]][k] for k in METRICS}} for p in final.to_dict("records")]
    return pd.DataFrame(rows)


def units(df) -> tuple[list[float], str]:
    """A method's replicated unit: the mean test top-1 of each search when it ran more than one,
    else each seed's (NaN where a final run has no scores: compare() names such a method failed)."""
    # fmean sums exactly (math.fsum): pandas' running sum gives the same scores in another order means that
    # differ in the last bit (0.7, 0.3, 0.7791 and 0.7791, 0.3, 0.7), a spread where there is none; NaN stays NaN
    per_repeat = df.groupby("repeat")["test_top1"].agg(statistics.fmean)
    if len(per_repeat) > 1:
        return list(per_repeat), "repeats"
    return list(df["test_top1"]), "seeds"


def labels(names) -> dict:
    return {"baseline": "baseline", **{m: strategies.methods()[m].label for m in names if m != "baseline"}}


def compare(scores, chance: float):
    """One row per method: repeats, seeds, mean and std of every metric, the test top-1's 95 % interval
    and its basis, the winner's curse (search fitness) and whether it failed (a final run without scores,
    or at or below chance)."""
    import pandas as pd

    rows = []
    names = [m for m in dict.fromkeys(scores["method"]) if m != "baseline"] + ["baseline"]  # the baseline last
    for m in names:
        df = scores[scores["method"] == m]
        u, basis = units(df)
        no_scores = bool(df["test_top1"].isna().any())  # a final run that diverged, or an invalid genome
        mean, low, high = (math.nan,) * 3 if no_scores else interval(u)
        seeds = int(df.groupby("repeat")["seed"].nunique().max())  # per search: each repeat has its own
        row = {"method": m, "label": labels(names)[m], "repeats": df["repeat"].nunique(), "seeds": seeds}
        for k in METRICS:  # one NaN policy with the units: a seed without scores is never averaged away
            row[f"{k}_mean"] = df[k].mean(skipna=False)
            row[f"{k}_std"] = df[k].std(ddof=1, skipna=False) if len(df) > 1 else math.nan
        row.update(test_top1_ci_low=low, test_top1_ci_high=high, ci_basis=basis)
        at_chance = not mean > chance + 1e-9  # the tolerance: three seeds of 0.1 average to 0.1000...2
        failure = "no_scores" if no_scores else "chance" if at_chance else ""
        row.update(search_fitness_mean=df["search_fitness"].mean(), failed=bool(failure), failure=failure)
        rows.append(row)
    return pd.DataFrame(rows)


def pairs(comparison, reference: str, failed_too: bool = False) -> list[tuple[str, str]]:
    """(method, against): each method against the reference method and the baseline; methods that
    failed are not compared (unless failed_too: the pairs the table would hold had none failed)."""
    ok = set(comparison["method"] if failed_too else comparison.loc[~comparison["failed"], "method"])
    return [
        (m, against)
        for m in comparison["method"]
        for against in dict.fromkeys([reference, "baseline"])
        if m not in (against, "baseline") and m in ok and against in ok
    ]


def family_level(k: int) -> float:
    """Each of k intervals at 1 - (1 - LEVEL) / k (Bonferroni): 95 % that all k cover their true
    differences at once, so reading the whole table calls a difference by chance at most 5 % of the time."""
    return 1 - (1 - LEVEL) / max(k, 1)


def differences(scores, comparison, reference: str):
    """Each method's test top-1 minus the reference method's and minus the baseline's (points of
    accuracy as fractions), with Welch's interval at the family-wise level of all the comparisons."""
    import pandas as pd

    compared = pairs(comparison, reference)
    rows = []
    for m, against in compared:
        (a, basis), (b, _) = (units(scores[scores["method"] == x]) for x in (m, against))
        diff, low, high = welch(a, b, family_level(len(compared)))
        excludes = not math.isnan(low) and not low <= 0 <= high
        # over seeds alone (one search) an interval compares two retrained genomes, not the methods
        row = {"method": m, "against": against, "diff": diff, "ci_low": low, "ci_high": high, "basis": basis}
        rows.append({**row, "distinguishable": excludes and basis == "repeats"})
    return pd.DataFrame(rows, columns=[f.name for f in formats.FORMATS["differences"]])


# ----------------------------------------------------------------------------- the verdict
def pct(x: float) -> str:
    return "no score (a final run has none)" if math.isnan(x) else f"{100 * x:.2f} %"


def score_sentence(c) -> str:
    scores = []
    for _, r in c.iterrows():
        if not math.isnan(r["test_top1_ci_low"]):
            ci = f" [{pct(r['test_top1_ci_low'])}, {pct(r['test_top1_ci_high'])}]"
        else:
            same = max(r["repeats"], r["seeds"]) > 1 and not math.isnan(r["test_top1_mean"])
            ci = " [no interval: every value the same]" if same else ""
        scores.append(f"{r['label']} {pct(r['test_top1_mean'])}{ci}")
    methods = c[c["method"] != "baseline"]
    repeats, seeds = int(methods["repeats"].max()), int(c["seeds"].max())
    if repeats == 1 and seeds == 1:
        basis = "one retraining seed of one search per method: no intervals, and one search cannot rank methods"
    elif repeats > 1:
        base = f"the baseline's over its {seeds} seeds" if seeds > 1 else "the baseline's one seed: no interval"
        basis = (
            f"mean with a 95 % t-interval over {repeats} searches per method, each search's best retrained "
            f"with {seeds} seed{'s' if seeds > 1 else ''}; {base}"
        )
    else:
        basis = (
            f"mean with a 95 % t-interval over {seeds} retraining seeds of one search per method: one search "
            "per method cannot rank methods, the intervals cover only the seeds' noise"
        )
    return f"Test top-1: {'; '.join(scores)} ({basis})."


def difference_sentences(d, c, reference: str) -> list[str]:
    label = dict(zip(c["method"], c["label"]))
    out = []
    dropped = [p for p in pairs(c, reference, failed_too=True) if p not in pairs(c, reference)]
    if dropped:  # the question the study asks must not vanish without a word
        names = ", ".join(f"{label[m]} vs {label[a]}" for m, a in dropped)
        out.append(f"Not compared, as one side failed: {names}.")
    if len(d) > 1 and d["ci_low"].notna().any():
        level, k = 100 * family_level(len(d)), len(d)
        out.append(f"Differences: each interval at {level:.1f} %, so that all {k} hold at once with 95 % (Bonferroni).")
    for _, r in d.iterrows():
        gap = f"{label[r['method']]} vs {label[r['against']]}: {100 * r['diff']:+.2f} points"
        if math.isnan(r["ci_low"]):
            out.append(f"{gap}, no interval (a side with one value or no spread): not distinguishable at this budget.")
            continue
        gap += f" [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]"
        if r["distinguishable"]:
            out.append(f"{gap}: distinguishable (excludes 0).")
        elif r["basis"] == "seeds" and not r["ci_low"] <= 0 <= r["ci_high"]:
            out.append(f"{gap} over retraining seeds: these two genomes differ, which does not rank the methods.")
        else:
            out.append(f"{gap}: not distinguishable at this budget.")
    return out


def fail_baseline_of_a_failed_range_test(c, suggestion: dict, baseline: dict):
    """A baseline trained at the lr of a range test that failed is itself failed: not compared."""
    if baseline.get("lr") == "auto" and not suggestion["valid"]:
        base = (c["method"] == "baseline") & ~c["failed"]
        c.loc[base, "failed"], c.loc[base, "failure"] = True, "lr_find"
    return c


def runs_named(df) -> str:
    return ", ".join(f"repeat {r['repeat']} seed {r['seed']}" for _, r in df.iterrows())


def low_runs(label: str, df, chance: float) -> list[str]:
    """The searches and final runs of a method (or the baseline) that did not fail yet scored at or below
    chance: averaged in, as they happened, and named, so a reader sees why its interval is wide."""
    out = []
    per = df.groupby("repeat")["test_top1"].agg(statistics.fmean)  # as units()
    low = [int(k) for k, v in per.items() if not v > chance + 1e-9] if len(per) > 1 else []
    if low:
        which = ", ".join(map(str, low))
        out.append(f"{label}: the best of repeat(s) {which} retrained at or below chance; averaged in.")
    runs = df[~(df["test_top1"] > chance + 1e-9) & ~df["repeat"].isin(low)]  # a named search's seeds: once
    if len(runs):
        out.append(f"{label}: final run(s) {runs_named(runs)} scored at or below chance ({pct(chance)}); averaged in.")
    return out


def failure_sentences(c, scores, chance: float, suggestion: dict, baseline: dict) -> list[str]:
    """Which methods failed and why, naming the final runs at fault; a search or a final run at or below
    chance is named too where its method's (or the baseline's) mean is not (low_runs)."""
    out = []
    for _, r in c[c["failure"] == "no_scores"].iterrows():
        df = scores[(scores["method"] == r["method"]) & scores["test_top1"].isna()]
        out.append(
            f"{r['label']} failed: final run(s) {runs_named(df)} have no test scores (diverged, or an invalid "
            "genome); it is not compared."
        )
    for _, r in c[~c["failed"]].iterrows():
        out += low_runs(r["label"], scores[scores["method"] == r["method"]], chance)
    out += [
        f"{r['label']} failed: its test top-1 ({pct(r['test_top1_mean'])}) is at or below chance ({pct(chance)}); "
        "it is not compared."
        for _, r in c[c["failure"] == "chance"].iterrows()
    ]
    if suggestion["valid"]:
        return out
    failed = f"The LR range test failed ({suggestion['reason']})"
    if baseline.get("lr") == "auto":
        out.append(
            f"{failed}: the baseline trained at its fallback lr {suggestion['suggestion']:.2e}, so it failed too and "
            "is not compared (set baseline.lr, or widen lr_find's range)."
        )
    else:
        out.append(f"{failed}; the baseline's lr is set in the config (baseline.lr), so it is compared.")
    return out


def curse_sentence(c) -> str:
    parts = [
        f"{r['label']}'s bests scored {pct(r['search_fitness_mean'])} on validation in the search, "
        f"{pct(r['val_top1_mean'])} when retrained (test {pct(r['test_top1_mean'])})"
        for _, r in c[c["method"] != "baseline"].iterrows()
    ]
    return f"Winner's curse: {'; '.join(parts)}."


def cost_sentence(result_files) -> str:
    results = [formats.read_record("result", p, run=run_of(p)) for p in result_files]
    hours = sum(r["process_seconds"] for r in results) / 3600
    devices = sorted({str(r["provenance"].get("device", "an unrecorded device")) for r in results})
    optimizers = sorted({r["settings"].get("optimizer", "sgd") for r in results})
    return (
        f"It took {len(results)} trainings (every search, the baseline and the final seeds) and {hours:.2f} "
        f"device-hours on {', '.join(devices)}, optimizer {', '.join(optimizers)}."
    )


def verdict(c, d, scores, reference: str, chance: float, suggestion: dict, baseline: dict, result_files) -> str:
    """The report's answer in one paragraph (see the module doc)."""
    failures = failure_sentences(c, scores, chance, suggestion, baseline)
    parts = [score_sentence(c), *failures, *difference_sentences(d, c, reference)]
    return " ".join([*parts, curse_sentence(c), cost_sentence(result_files)])


def chance_of(test_labels, num_classes: int) -> float:
    """The test top-1 of always answering the test set's most frequent class: 1 / classes on a
    balanced test set (CIFAR-10: 10 %), 90 % on a two-class one of 90 % cats."""
    import numpy as np

    counts = np.bincount(np.asarray(test_labels, dtype=np.int64), minlength=num_classes)
    return float(counts.max() / counts.sum()) if counts.sum() else 1 / num_classes


def read_test_labels(path, meta: dict):
    """The prepared test labels (test_y.npy), checked against meta.json as every reader of them does."""
    import data

    y = data.load_array(Path(path))
    data.check_labels(Path(path), y, meta["test_size"], meta["num_classes"])
    return y


def reference_best(scores, reference: str) -> dict:
    """The final run whose predictions make the confusion matrix: the reference method's first final
    run of its first search, as the Snakefile's get_reference_predictions picks it (plan order)."""
    return scores.query("method == @reference and repeat == 0").iloc[0].to_dict()


def compare_step(args) -> None:
    spec = search.spec_from_json(args.spec)
    meta = formats.read_record("meta", args.meta)
    suggestion = formats.read_record("suggestion", args.suggestion)
    test_labels = read_test_labels(args.test_labels, meta)
    chance = chance_of(test_labels, meta["num_classes"])
    scores = final_scores(args.plan, args.tests, spec)
    reference = strategies.reference(spec["methods"])
    predictions = formats.read_table("predictions", args.best_predictions, min_rows=0)  # checked, then copied
    top1 = reference_best(scores, reference)["test_top1"]
    formats.check_predictions_of(meta, predictions, args.best_predictions, test_labels, top1)
    baseline = json.loads(args.baseline)
    c = fail_baseline_of_a_failed_range_test(compare(scores, chance), suggestion, baseline)
    d = differences(scores, c, reference)
    text = verdict(c, d, scores, reference, chance, suggestion, baseline, args.results)  # all read before any write
    formats.write_table("comparison", c, args.out_comparison)
    formats.write_table("differences", d, args.out_differences)
    # the predictions were checked above; copied as they are
    atomic_write_bytes(args.out_predictions, Path(args.best_predictions).read_bytes())
    atomic_write_text(args.out_verdict, text + "\n")
    print(
        c[["method", "repeats", "seeds", "test_top1_mean", "test_top1_ci_low", "test_top1_ci_high"]].to_string(
            index=False
        )
    )


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--spec", required=True, help="the config's ga: and search: sections as JSON")
    ap.add_argument("--plan", required=True, help="final/plan.tsv (scripts/search.py plan)")
    ap.add_argument("--tests", nargs="+", required=True, help="the final runs' test.json")
    ap.add_argument("--results", nargs="+", required=True, help="every run's result.json, for the verdict's cost")
    ap.add_argument("--meta", required=True, help="the prepared data's meta.json (its classes)")
    ap.add_argument("--test-labels", required=True, help="the prepared data's test_y.npy (they give chance)")
    ap.add_argument("--suggestion", required=True, help="the LR finder's suggestion.json")
    ap.add_argument("--baseline", required=True, help="the config's baseline: section as JSON")
    ap.add_argument(
        "--best-predictions",
        required=True,
        help="test_predictions.tsv of the reference's best (for the confusion matrix)",
    )
    for name in ("comparison", "differences", "predictions", "verdict"):
        ap.add_argument(f"--out-{name}", required=True)
    return run_cli(compare_step, ap.parse_args(argv))


if __name__ == "__main__":
    exit_now(main())
