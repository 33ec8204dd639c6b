"""Figures of the report (seaborn + pandas): one subcommand per figure, named as the figure file
and its rule (`plots.py training-curves` <- rule plot_training_curves -> training_curves.png). Each
reads only the files named on its command line, every one through its contract (formats.py), and
takes the search's settings (--spec) for the genes and the methods (strategies/: labels, colours).

    python scripts/plots.py search-progress --spec '<json>' --individuals search/individuals.tsv --out x.png
    python scripts/plots.py ga-progress     --spec ... --individuals search/individuals.tsv --out ga_progress.png
    python scripts/plots.py search-space    --spec ... --individuals search/individuals.tsv --out search_space.png
    python scripts/plots.py training-curves --spec ... --individuals ... --plan final/plan.tsv \\
        --metrics runs/*/metrics.tsv --results runs/*/result.json --top-k 4 --out training_curves.png
    python scripts/plots.py schedules --spec ... --individuals ... --plan ... --schedules runs/*/schedule.tsv \\
        --results runs/*/result.json --out schedules.png
    python scripts/plots.py lr-find --spec ... --tsv lr_find/lr_find.tsv --suggestion lr_find/suggestion.json --out x
    python scripts/plots.py final-comparison --spec ... --comparison final/comparison.tsv --plan final/plan.tsv \\
        --tests runs/*/test.json --verdict final/verdict.txt --out final_comparison.png
    python scripts/plots.py confusion-matrix --spec ... --predictions final/predictions.tsv --meta meta.json --out x.png
    python scripts/plots.py degradation --spec ... --metrics runs/*/metrics.tsv --results runs/*/result.json --out x.png
    python scripts/plots.py degradation-table --spec ... --metrics ... --results ... --out table.tsv

Diverged or invalid runs (fitness 0) are drawn as crosses in the search plots, runs stopped early
as triangles; both are left out of the curve figures; the tables list them.
"""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("agg")  # no display on compute nodes
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import formats
import search
import strategies
import verdict as verdict_tables
from layout import run_of
from util import ArgumentParser, DataError, atomic_write_bytes, exit_now, run_cli

sns.set_theme(style="whitegrid", context="notebook")
BASELINE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 2.2}
COLOURS = strategies.FIGURE_COLOURS  # the baseline's and the markers' (a method's is its own)


def save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def method_style(name: str) -> tuple[str, str]:
    """(label, colour) of a method of the registry, or of the baseline."""
    if name == "baseline":
        return "baseline", COLOURS["baseline"]
    m = strategies.methods()[name]
    return m.label, m.colour


def read_individuals(path, spec):
    """search/individuals.tsv: its methods the config's, its genes in the space and its runs'."""
    df = formats.read_table("individuals", path)
    search.check_methods(df, spec, path)
    search.check_genes(df, spec["space"], path)
    return df


# ----------------------------------------------------------------------------- the search
def trajectories(ind) -> pd.DataFrame:
    """Per method and repeat, each distinct run in the order trained: the trainings spent, the
    device-hours spent and the best validation fitness so far."""
    frames = []
    for (m, r), df in ind.groupby(["method", "repeat"], sort=False):
        runs = df.sort_values(["round", "individual"], kind="stable").drop_duplicates("run")
        frames.append(
            pd.DataFrame(
                {
                    "method": m,
                    "repeat": r,
                    "trainings": np.arange(1, len(runs) + 1),
                    "device_hours": runs["process_seconds"].cumsum().to_numpy() / 3600,
                    "best_so_far": 100 * runs["fitness"].cummax().to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def by_repeat(d, x: str) -> pd.DataFrame:
    """Best so far of each repeat (columns) on one grid of `x` (the union of the repeats' points),
    each repeat's step function carried forward; NaN before a repeat's first point."""
    curves = {r: rep.groupby(x)["best_so_far"].max() for r, rep in d.groupby("repeat")}
    grid = sorted(set().union(*(c.index for c in curves.values())))
    return pd.DataFrame({r: c.reindex(grid).ffill() for r, c in curves.items()}, index=grid)


def plot_search_progress(spec, individuals, out) -> None:
    """Best validation fitness so far per method, against trainings and device-hours: the mean over
    repeats, and a band from the worst to the best repeat (where every repeat has a point)."""
    t = trajectories(read_individuals(individuals, spec))
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.5))
    for m in dict.fromkeys(t["method"]):
        label, colour = method_style(m)
        for ax, x in zip(axes, ("trainings", "device_hours")):
            c = by_repeat(t[t["method"] == m], x).dropna()
            ax.step(c.index, c.mean(axis=1), where="post", color=colour, linewidth=2.2, label=label)
            ax.fill_between(c.index, c.min(axis=1), c.max(axis=1), step="post", color=colour, alpha=0.15)
    repeats = t["repeat"].nunique()
    axes[0].set(xlabel="trainings spent (distinct genomes)", ylabel="best validation top-1 so far (%)")
    axes[0].set_title(f"Best so far: mean over {repeats} search(es) per method, band: worst to best")
    axes[1].set(xlabel="device-hours spent", ylabel="best validation top-1 so far (%)", title="Against device time")
    for ax in axes:
        ax.legend(loc="lower right")
    axes[0].xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    save(fig, out)


def plot_ga_progress(spec, individuals, out) -> None:
    """The GA's generations (its first search): every individual, the best so far and the median."""
    ga = strategies.report_ga(spec["methods"])
    if ga is None:
        raise DataError(f"--spec: search.methods {spec['methods']} has no GA: its generations have no figure")
    ind = read_individuals(individuals, spec)
    ind = ind[(ind["method"] == ga) & (ind["repeat"] == 0)].copy()
    ind["fitness (%)"] = 100 * ind["fitness"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    ok = ind[~ind["status"].isin(formats.NO_SCORES) & (ind["status"] != "stopped")]
    origins = ["init", "elite", strategies.methods()[ga].origin]
    sns.stripplot(data=ok, x="round", y="fitness (%)", hue="origin", hue_order=origins, jitter=0.15, size=7, ax=ax,
                  native_scale=True)  # fmt: skip
    div = ind[ind["status"].isin(formats.NO_SCORES)]
    if len(div):
        style = {"marker": "x", "color": COLOURS["diverged"], "s": 50}
        ax.scatter(div["round"], div["fitness (%)"], label="diverged (fitness 0)", **style)
    stopped = ind[ind["status"] == "stopped"]
    if len(stopped):
        style = {"marker": "v", "color": COLOURS["stopped"], "s": 50}
        ax.scatter(stopped["round"], stopped["fitness (%)"], label="stopped early", **style)
    per_gen = ind.groupby("round")["fitness (%)"]
    gens = sorted(ind["round"].unique())
    ax.plot(gens, per_gen.max().cummax().loc[gens], color="black", linewidth=2, marker="s", label="best so far")
    ax.plot(gens, per_gen.median().loc[gens], color="0.5", linestyle="--", marker="o", label="median")
    ax.set(xlabel="generation", ylabel="fitness: validation top-1 (%)", title="GA progress", xticks=gens)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    save(fig, out)


def gene_panel(ax, gene, df) -> None:
    """One gene against fitness: a scatter on its own scale; categories side by side."""
    for m in dict.fromkeys(df["method"]):
        label, colour = method_style(m)
        d = df[df["method"] == m]
        if gene.kind == "categorical":
            texts = [gene.text(c) for c in gene.choices]
            x = np.array([texts.index(v) for v in d[gene.name]], dtype=float)
            x += np.random.default_rng(0).uniform(-0.15, 0.15, len(x))  # a fixed jitter: the figure is reproducible
        else:
            x = d[gene.name].astype(float)
        ax.scatter(x, 100 * d["fitness"], s=40, color=colour, edgecolor="black", linewidth=0.3, alpha=0.8, label=label)
    if gene.kind == "categorical":
        ax.set_xticks(range(len(gene.choices)), [gene.text(c) for c in gene.choices], rotation=30)
    elif gene.log:
        ax.set_xscale("log")
    ax.set(xlabel=gene.label(), ylabel="fitness (%)", title=gene.describe())


def plot_search_space(spec, individuals, out) -> None:
    """Every gene against fitness, one panel per gene (each distinct genome of every search once)."""
    space = spec["space"]
    df = read_individuals(individuals, spec).drop_duplicates(["method", "run"])
    n = len(space.genes)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.3 * rows), squeeze=False)
    for ax, gene in zip(axes.ravel(), space.genes):
        gene_panel(ax, gene, df)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle("Search space explored: every gene against fitness (each distinct genome once)")
    fig.tight_layout()
    save(fig, out)


# ----------------------------------------------------------------------------- training
def curve_runs(spec, individuals, plan_tsv, top_k: int) -> list[dict]:
    """The baseline's search run and the k fittest distinct runs of the reference method's first
    search that trained to the end."""
    space = spec["space"]
    ind = read_individuals(individuals, spec)
    ref = strategies.reference(spec["methods"])
    ok = ind[(ind["method"] == ref) & (ind["repeat"] == 0) & (ind["status"] == "ok")].drop_duplicates("run")
    ok = ok.sort_values(["fitness", "round", "individual"], ascending=[False, True, True]).head(top_k)
    plan = search.read_plan(plan_tsv, spec)
    base = plan[plan["stage"] == "search"].iloc[0]
    runs = [{"run": base["run"], "label": "baseline (no search)", "baseline": True}]
    label = method_style(ref)[0]
    genomes = [space.parse(r) for _, r in ok.iterrows()]
    # compact: only the genes that differ between the runs drawn (all of them for a single run)
    varying = [g for g in space.names if len({x[g] for x in genomes}) > 1] or space.names
    for rank, ((_, r), genome) in enumerate(zip(ok.iterrows(), genomes), start=1):
        text = (
            f"{label} #{rank} (round {r['round']}, val top-1 {100 * r['fitness']:.1f}%): {space.label(genome, varying)}"
        )
        runs.append({"run": r["run"], "baseline": False, "label": text, "genes": varying})
    return runs


def shared_genes(spec, runs) -> str:
    """The genes every drawn run of the search shares, for the legend's title."""
    shown = {g for r in runs if not r["baseline"] for g in r["genes"]}
    return ", ".join(g for g in spec["space"].names if g not in shown)


def run_tables(files, kind: str, results) -> dict:
    """{run: its table of `kind` (metrics, schedule)}, each checked against its run's result.json: a
    line lost, or another run's file swapped in, would draw a curve the run never had."""
    found = {run_of(p): formats.read_record("result", p, run=run_of(p)) for p in results}
    check = {"metrics": formats.check_metrics_of, "schedule": formats.check_schedule_of}[kind]
    min_rows = 0 if kind == "metrics" else 1  # a run invalid or diverged in epoch 1 has no epochs, but a schedule
    tables = {}
    for f in files:
        run = run_of(f)
        if run not in found:
            raise DataError(f"{f}: no result.json given for its run")
        tables[run] = formats.read_table(kind, f, min_rows=min_rows)
        check(found[run], tables[run], f)
    return tables


def plot_training_curves(spec, individuals, plan, metrics, results, top_k, out) -> None:
    """Top-1/3/5 and losses per epoch: the baseline against the k fittest runs of the search."""
    panels = [("top1", "top-1 accuracy (%)"), ("top3", "top-3 accuracy (%)"), ("top5", "top-5 accuracy (%)"),
              ("train_loss", "training loss"), ("val_loss", "validation loss")]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    axes = axes.ravel()
    palette = sns.color_palette("tab10")
    tables, handles = run_tables(metrics, "metrics", results), []
    runs = curve_runs(spec, individuals, plan, top_k)
    for i, r in enumerate(runs):
        m = tables[r["run"]]
        style = BASELINE_STYLE if r["baseline"] else {"color": palette[(i - 1) % 10], "linewidth": 1.6}
        for ax, (col, _) in zip(axes, panels):
            y = 100 * m[col] if col.startswith("top") else m[col]
            (h,) = ax.plot(m["epoch"], y, marker="o", markersize=3.5, label=r["label"], **style)
        handles.append(h)
    for ax, (col, title) in zip(axes, panels):
        ax.set(xlabel="epoch", ylabel=title, title=title)
        if "loss" in col:
            ax.set_yscale("log")
        else:
            ax.set_ylim(top=min(100.5, ax.get_ylim()[1]))
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[5].axis("off")
    wrapped = [textwrap.fill(h.get_label(), 60) for h in handles]
    shared = shared_genes(spec, runs)
    title = "run (genes that differ)" + (f"\nall other genes as the best's: {shared}" if shared else "")
    axes[5].legend(handles=handles, labels=wrapped, loc="center", fontsize=8, frameon=False, title=title)
    fig.suptitle("Training curves with and without the search (validation split)", fontsize=14)
    fig.tight_layout()
    save(fig, out)


def plot_schedules(spec, individuals, plan, schedules, results, out) -> None:
    """The lr and momentum per step of the baseline and of the search's best run."""
    tables = run_tables(schedules, "schedule", results)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for r in curve_runs(spec, individuals, plan, 1):
        s = tables[r["run"]]
        style = BASELINE_STYLE if r["baseline"] else {"color": sns.color_palette("tab10")[0], "linewidth": 2}
        label = textwrap.fill(r["label"], 70)
        a1.plot(s["epoch"], s["lr"], label=label, **style)
        a2.plot(s["epoch"], s["momentum"], label=label, **style)
    a1.set(xlabel="epoch", ylabel="learning rate", title="One-cycle learning rate (per step)", yscale="log")
    a2.set(xlabel="epoch", ylabel="momentum", title="Momentum, inverse to the learning rate")
    a1.legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    save(fig, out)


def plot_lr_find(spec, tsv, suggestion, out) -> None:
    """The range test's curve, the falling stretch the valley rule found and its suggestion."""
    df = formats.read_table("lr_find", tsv)
    sug = formats.read_record("suggestion", suggestion)
    formats.check_suggestion_of(sug, df, suggestion)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(df["lr"], df["loss"], color="0.75", linewidth=1, label="loss per batch")
    ax.plot(df["lr"], df["smoothed_loss"], color="C0", linewidth=2, label="smoothed loss (running median)")
    if sug["valid"]:
        ax.axvspan(*sug["stretch"], color="C2", alpha=0.12, label="falling stretch (valley rule)")
    ax.axvline(
        sug["suggestion"], color="C3", linestyle="--", label=f"suggested lr {sug['suggestion']:.2e} ({sug['rule']})"
    )
    lo = min(df["smoothed_loss"].min(), df["loss"].min())
    hi = min(df["smoothed_loss"].max(), df["smoothed_loss"].iloc[0] * 1.5)  # the blow-up at the end is cut
    ax.set_ylim(lo - 0.05 * abs(hi - lo), hi + 0.05 * abs(hi - lo))
    title = "LR range test (Smith 2015)" if sug["valid"] else "LR range test FAILED: " + sug["reason"]
    if sug["valid"] and sug["reason"]:  # a valid test's note (lr_find.py: no divergence within the range)
        title += ": " + sug["reason"]
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss")
    ax.set_title(textwrap.fill(title, 70), color="black" if sug["valid"] else "C3")
    ax.legend()
    fig.tight_layout()
    save(fig, out)


# ----------------------------------------------------------------------------- the final comparison
def comparison_style(r) -> tuple[str, str, str]:
    """(tick label, runs' colour, mean's colour) of a row of comparison.tsv: a method the verdict failed
    (its `failed` column: at chance, no scores, a failed range test) is greyed and says so, as it is not
    compared: drawn like a result, it would read as one."""
    label, colour = method_style(r["method"])
    if r["failed"]:
        return f"{label} (failed)", "0.6", "0.6"
    return label, colour, "black"


def plot_final_comparison(spec, comparison, plan, tests, verdict, out) -> None:
    """Left: every final run's test top-1 per method, the mean and its 95 % interval. Right: the
    winner's curse, the bests' validation fitness in the search next to retrained validation and test."""
    c = formats.read_table("comparison", comparison)
    search.check_methods(c, spec, comparison, baseline=True)
    runs = verdict_tables.final_scores(plan, tests, spec)
    runs["test top-1 (%)"] = 100 * runs["test_top1"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [1.2, 1]})
    styles = [comparison_style(r) for _, r in c.iterrows()]
    for i, ((_, r), (_, colour, marker)) in enumerate(zip(c.iterrows(), styles)):
        d = runs[runs["method"] == r["method"]]
        a1.scatter(i + np.linspace(-0.2, 0.2, len(d)), d["test top-1 (%)"], color=colour, s=30, alpha=0.7)
        low, high = 100 * r["test_top1_ci_low"], 100 * r["test_top1_ci_high"]
        err = None if np.isnan(low) else [[100 * r["test_top1_mean"] - low], [high - 100 * r["test_top1_mean"]]]
        a1.errorbar(i, 100 * r["test_top1_mean"], yerr=err, fmt="D", color=marker, capsize=8, markersize=7)
    a1.set_xticks(range(len(c)), [tick for tick, _, _ in styles])
    for text, (_, _, marker) in zip(a1.get_xticklabels(), styles):
        text.set_color(marker)
    c["label"] = [tick for tick, _, _ in styles]  # the winner's curse names a failed method so too
    a1.set(ylabel="test top-1 (%)", title="Test top-1: every final run; mean and 95 % interval")
    curse = c[c["method"] != "baseline"].melt(
        id_vars="label", value_vars=["search_fitness_mean", "val_top1_mean", "test_top1_mean"]
    )
    curse["value"] *= 100
    curse["variable"] = curse["variable"].map(
        {
            "search_fitness_mean": "validation, in the search",
            "val_top1_mean": "validation, retrained",
            "test_top1_mean": "test, retrained",
        }
    )
    sns.barplot(data=curse, x="label", y="value", hue="variable", ax=a2)
    a2.set(xlabel="", ylabel="top-1 (%)", title="Winner's curse: the bests' scores")
    lo = np.nanmin(curse["value"]) if curse["value"].notna().any() else 0
    a2.set_ylim(max(0, lo - 10), 100.5)
    text = Path(verdict).read_text().strip()
    fig.text(0.5, -0.02, textwrap.fill(text, 190), ha="center", va="top", fontsize=8)
    fig.tight_layout()
    save(fig, out)


def plot_confusion_matrix(spec, predictions, meta, out) -> None:
    p = formats.read_table("predictions", predictions, min_rows=0)  # a diverged best has none: an empty matrix
    info = formats.read_record("meta", meta)
    formats.check_predictions_of(info, p, predictions, labels=None)  # verdict.py's copy, checked against test_y
    classes = info["classes"]
    n = len(classes)
    cm = np.zeros((n, n))
    np.add.at(cm, (p["label"].to_numpy(), p["pred1"].to_numpy()), 1)
    rows = cm.sum(axis=1, keepdims=True)
    pct = 100 * cm / np.where(rows == 0, 1, rows)
    size = max(7, 0.55 * n) if n <= 20 else 14
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    ticks = classes if n <= 20 else False
    sns.heatmap(pct, annot=n <= 20, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True, ax=ax, xticklabels=ticks,
                yticklabels=ticks, cbar_kws={"label": "% of the true class"})  # fmt: skip
    acc = 100 * np.trace(cm) / max(1, cm.sum())
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title=f"Confusion matrix of the best model on the test set (top-1 {acc:.2f}%)",
    )
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    fig.tight_layout()
    save(fig, out)


# ----------------------------------------------------------------------------- the paper's degradation experiment
PAPER_RESNET_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}  # He et al. 2015, Table 6


def degradation_runs(metrics, results) -> pd.DataFrame:
    """Every degradation run's per-epoch metrics, with kind (plain/resnet), depth and seed from its
    result.json (the run's identity), not from its folder's name."""
    frames = []
    for m, r in zip(metrics, results):
        res = formats.read_record("result", r, run=run_of(r))
        if run_of(m) != res["run"]:
            raise DataError(f"{m}: not the metrics of {res['run']} (its result.json is {r})")
        arch = str(res["settings"].get("arch", ""))
        found = re.fullmatch(r"(plain|resnet)(\d+)", arch)
        if not found:
            raise DataError(f"{r}: field settings.arch: {arch!r} is not a plain or ResNet CIFAR net of the experiment")
        table = formats.read_table("metrics", m)
        formats.check_metrics_of(res, table, m)  # a lost line would change the final error in the table
        if "test_top1" not in table.columns or table["test_top1"].isna().any():  # else the mean skips this seed
            raise DataError(f"{m}: field test_top1: missing (a degradation run tracks the test error)")
        frames.append(table.assign(kind=found[1], depth=int(found[2]), seed=res["seed"]))
    df = pd.concat(frames, ignore_index=True)
    df["train error (%)"] = 100 * (1 - df["train_top1"])
    df["test error (%)"] = 100 * (1 - df["test_top1"])
    return df


def degradation_table(metrics, results) -> pd.DataFrame:
    df = degradation_runs(metrics, results)
    last = df.loc[df.groupby(["kind", "depth", "seed"])["epoch"].idxmax()]
    mean = last.groupby(["depth", "kind"])[["test error (%)", "train error (%)"]].mean().unstack("kind")
    out = pd.DataFrame({"depth": mean.index})
    for kind in ("plain", "resnet"):
        out[f"{kind}_test_error"] = mean[("test error (%)", kind)].to_numpy()
        out[f"{kind}_train_error"] = mean[("train error (%)", kind)].to_numpy()
    out["paper_resnet_test_error"] = [PAPER_RESNET_TEST_ERROR.get(d, float("nan")) for d in out["depth"]]
    out["seeds"] = last.groupby("depth")["seed"].nunique().to_numpy()
    return out


def plot_degradation(spec, metrics, results, out) -> None:
    df = degradation_runs(metrics, results)
    curves = df.groupby(["kind", "depth", "epoch"])[["train error (%)", "test error (%)"]].mean().reset_index()
    depths = sorted(curves["depth"].unique())
    colours = dict(zip(depths, sns.color_palette("viridis_r", len(depths))))
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), sharey=True)
    for ax, kind, title in ((axes[0], "plain", "plain networks"), (axes[1], "resnet", "residual networks (ResNet)")):
        for d in depths:
            c = curves[(curves["kind"] == kind) & (curves["depth"] == d)]
            ax.plot(c["epoch"], c["train error (%)"], color=colours[d], linewidth=0.9, linestyle="--")
            ax.plot(c["epoch"], c["test error (%)"], color=colours[d], linewidth=2.4, label=f"{kind}-{d}")
        ax.set(xlabel="epoch", title=title)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(title="bold: test error, dashed: training error", fontsize=9)
    axes[0].set_ylabel("error (%)")
    top = min(100.0, float(np.nanmax(curves[["train error (%)", "test error (%)"]].to_numpy())) * 1.05)
    axes[0].set_ylim(0, top)
    fig.suptitle("CIFAR-10 degradation: plain vs residual nets (paper Fig. 6)")
    fig.tight_layout()
    save(fig, out)


def write_degradation_table(spec, metrics, results, out) -> None:
    formats.write_table("degradation", degradation_table(metrics, results), out)


# subcommand -> (function, its file arguments; a list where it takes several files)
COMMANDS = {
    "search-progress": (plot_search_progress, {"individuals": str}),
    "ga-progress": (plot_ga_progress, {"individuals": str}),
    "search-space": (plot_search_space, {"individuals": str}),
    "training-curves": (plot_training_curves, {"individuals": str, "plan": str, "metrics": list, "results": list}),
    "schedules": (plot_schedules, {"individuals": str, "plan": str, "schedules": list, "results": list}),
    "lr-find": (plot_lr_find, {"tsv": str, "suggestion": str}),
    "final-comparison": (plot_final_comparison, {"comparison": str, "plan": str, "tests": list, "verdict": str}),
    "confusion-matrix": (plot_confusion_matrix, {"predictions": str, "meta": str}),
    "degradation": (plot_degradation, {"metrics": list, "results": list}),
    "degradation-table": (write_degradation_table, {"metrics": list, "results": list}),
}


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, (func, files) in COMMANDS.items():
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0].replace("%", "%%") if func.__doc__ else None)
        p.add_argument("--spec", required=True, help="the config's ga: and search: sections as JSON")
        for arg, kind in files.items():
            p.add_argument(f"--{arg}", required=True, nargs="+" if kind is list else None)
        if name == "training-curves":
            p.add_argument("--top-k", type=int, default=4, help="runs of the search drawn beside the baseline")
        p.add_argument("--out", required=True)
    return ap


def draw(kw: dict) -> None:
    func = COMMANDS[kw.pop("cmd")][0]
    func(search.spec_from_json(kw.pop("spec")), **kw)


def main(argv=None) -> int:
    return run_cli(draw, vars(build_parser().parse_args(argv)))


if __name__ == "__main__":
    exit_now(main())
