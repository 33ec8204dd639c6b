"""Figures of the report (seaborn + pandas): one subcommand per figure, named as the figure file
and its rule (`plots.py training-curves` <- rule plot_training_curves -> training_curves.png). Each
reads only the files named on its command line.

    python scripts/plots.py ga-progress      --fitness gen*/fitness.tsv --out ga_progress.png
    python scripts/plots.py search-space     --fitness gen*/fitness.tsv --out search_space.png
    python scripts/plots.py ga-vs-random     --fitness gen*/fitness.tsv --random random_search/fitness.tsv \\
        --out ga_vs_random.png
    python scripts/plots.py training-curves --fitness gen*/fitness.tsv --plan final/plan.tsv \\
        --metrics runs/*/metrics.tsv --top-k 4 --out training_curves.png
    python scripts/plots.py schedules --fitness ... --plan ... --schedules runs/*/schedule.tsv --out schedules.png
    python scripts/plots.py lr-find --tsv lr_find/lr_find.tsv --suggestion lr_find/suggestion.json --out lr_find.png
    python scripts/plots.py final-comparison --plan final/plan.tsv --tests runs/*/test.json \\
        --comparison final/comparison.tsv --out final_comparison.png
    python scripts/plots.py confusion-matrix --predictions final/predictions.tsv --meta prepared/meta.json \\
        --out confusion_matrix.png
    python scripts/plots.py degradation      --metrics degradation/runs/*/metrics.tsv --out degradation.png
    python scripts/plots.py degradation-table --metrics degradation/runs/*/metrics.tsv --out table.tsv

Diverged runs (status `diverged`, fitness 0) are drawn as crosses in the GA plots, runs stopped
early (status `stopped`) as triangles; both are left out of the curve figures; the tables list them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogFormatterSciNotation, LogLocator

from evaluate import final_summary
from ga import all_individuals, parse_run_id
from layout import parse_degradation_run, run_of
from util import ArgumentParser, atomic_write_bytes, read_by_run, read_json, read_tsv, run_cli, write_tsv

plt.switch_backend("agg")  # no display on compute nodes
sns.set_theme(style="whitegrid", context="notebook")
BASELINE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 2.2}


def save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def genome_label(row) -> str:
    return f"lr={float(row['lr']):.2e}  wd={float(row['wd']):.2e}  mom={float(row['mom']):.2f}"


def curve_runs(fitness_tables, plan_tsv, top_k: int) -> list[dict]:
    """The baseline's search run and the k fittest distinct GA runs that did not diverge."""
    ind = all_individuals(fitness_tables)
    ok = ind[ind["status"] == "ok"].drop_duplicates("run")  # first (earliest) appearance of each run
    ok = ok.sort_values(["fitness", "generation", "individual"], ascending=[False, True, True]).head(top_k)
    plan = read_tsv(plan_tsv)
    base = plan[(plan["method"] == "baseline") & (plan["stage"] == "search")].iloc[0]
    runs = [
        {"run": base["run"], "label": "baseline (no GA): " + genome_label(parse_run_id(base["run"])), "baseline": True}
    ]
    for rank, (_, r) in enumerate(ok.iterrows(), start=1):
        runs.append(
            {
                "run": r["run"],
                "baseline": False,
                "label": f"GA #{rank} (gen {r['generation']}, val top-1 {100 * r['fitness']:.1f}%): {genome_label(r)}",
            }
        )
    return runs


def plot_training_curves(fitness, plan, metrics, top_k, out) -> None:
    """Top-1/3/5 and losses per epoch: the baseline against the k fittest GA runs."""
    panels = [
        ("top1", "top-1 accuracy (%)"),
        ("top3", "top-3 accuracy (%)"),
        ("top5", "top-5 accuracy (%)"),
        ("train_loss", "training loss"),
        ("val_loss", "validation loss"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    axes = axes.ravel()
    palette = sns.color_palette("tab10")
    handles = []
    files = {run_of(f): f for f in metrics}
    for i, r in enumerate(curve_runs(fitness, plan, top_k)):
        m = pd.read_csv(files[r["run"]], sep="\t")
        style = BASELINE_STYLE if r["baseline"] else {"color": palette[(i - 1) % 10], "linewidth": 1.6}
        for ax, (col, _) in zip(axes, panels):
            y = 100 * m[col] if col.startswith("top") else m[col]
            (h,) = ax.plot(m["epoch"], y, marker="o", markersize=3.5, label=r["label"], **style)
        handles.append(h)
    for ax, (col, title) in zip(axes, panels):
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.set_title(title)
        if "loss" in col:
            ax.set_yscale("log")
        else:
            ax.set_ylim(top=min(100.5, ax.get_ylim()[1]))
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[5].axis("off")
    axes[5].legend(
        handles=handles, loc="center", fontsize=9, frameon=False, title="run (peak lr, weight decay, momentum at peak)"
    )
    fig.suptitle("Training curves with and without the GA (validation split)", fontsize=14)
    fig.tight_layout()
    save(fig, out)


def plot_schedules(fitness, plan, schedules, out) -> None:
    """The lr and momentum per step of the baseline and of the GA's best run."""
    files = {run_of(f): f for f in schedules}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for r in curve_runs(fitness, plan, 1):
        s = pd.read_csv(files[r["run"]], sep="\t")
        style = BASELINE_STYLE if r["baseline"] else {"color": sns.color_palette("tab10")[0], "linewidth": 2}
        a1.plot(s["epoch"], s["lr"], label=r["label"], **style)
        a2.plot(s["epoch"], s["momentum"], label=r["label"], **style)
    a1.set(xlabel="epoch", ylabel="learning rate", title="One-cycle learning rate (per step)", yscale="log")
    a2.set(xlabel="epoch", ylabel="momentum", title="Momentum, inverse to the learning rate")
    a1.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    save(fig, out)


def plot_lr_find(tsv, suggestion, out) -> None:
    df = pd.read_csv(tsv, sep="\t")
    sug = read_json(suggestion)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(df["lr"], df["loss"], color="0.75", linewidth=1, label="loss per batch")
    ax.plot(df["lr"], df["smoothed_loss"], color="C0", linewidth=2, label="smoothed loss")
    ax.axvline(sug["suggestion"], color="C3", linestyle="--", label=f"suggested lr {sug['suggestion']:.2e}")
    ax.axvline(
        sug["lr_min_loss"], color="0.4", linestyle=":", label=f"minimum of smoothed loss {sug['lr_min_loss']:.2e}"
    )
    lo = min(df["smoothed_loss"].min(), df["loss"].min())
    hi = min(df["smoothed_loss"].max(), df["smoothed_loss"].iloc[0] * 1.5)  # the blow-up at the end is cut
    ax.set_ylim(lo - 0.05 * abs(hi - lo), hi + 0.05 * abs(hi - lo))
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss", title="LR range test (Smith 2015)")
    ax.legend()
    fig.tight_layout()
    save(fig, out)


def plot_ga_progress(fitness, out) -> None:
    ind = all_individuals(fitness)
    ind["fitness (%)"] = 100 * ind["fitness"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    ok = ind[ind["status"] == "ok"]
    sns.stripplot(
        data=ok,
        x="generation",
        y="fitness (%)",
        hue="origin",
        hue_order=["init", "elite", "child"],
        jitter=0.15,
        size=7,
        ax=ax,
        native_scale=True,
    )
    div = ind[ind["status"].isin(("diverged", "invalid"))]
    if len(div):
        ax.scatter(div["generation"], div["fitness (%)"], marker="x", color="C3", s=50, label="diverged (fitness 0)")
    stopped = ind[ind["status"] == "stopped"]
    if len(stopped):
        label = "stopped early (fitness at the stop)"
        ax.scatter(stopped["generation"], stopped["fitness (%)"], marker="v", color="C4", s=50, label=label)
    per_gen = ind.groupby("generation")["fitness (%)"]
    gens = sorted(ind["generation"].unique())
    ax.plot(gens, per_gen.max().cummax().loc[gens], color="black", linewidth=2, marker="s", label="best so far")
    ax.plot(gens, per_gen.median().loc[gens], color="0.5", linestyle="--", marker="o", label="median")
    ax.set(xlabel="generation", ylabel="fitness: validation top-1 (%)", title="GA progress", xticks=gens)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    save(fig, out)


def plot_search_space(fitness, out) -> None:
    ind = all_individuals(fitness).drop_duplicates(["run"])
    for g in ("lr", "wd", "mom"):
        ind[g] = ind[g].astype(float)
    ind["fitness (%)"] = 100 * ind["fitness"]
    ind["gen"] = ind["generation"].astype(str)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 5.5))
    norm = plt.Normalize(ind["fitness (%)"].min(), ind["fitness (%)"].max())
    for ax, y in ((a1, "wd"), (a2, "mom")):
        sns.scatterplot(
            data=ind,
            x="lr",
            y=y,
            hue="fitness (%)",
            hue_norm=norm,
            palette="viridis",
            style="gen",
            s=90,
            edgecolor="black",
            linewidth=0.4,
            ax=ax,
            legend=ax is a2,
        )
        ax.set_xscale("log")
    positive = ind.loc[ind["wd"] > 0, "wd"]
    if len(positive) == len(ind):
        a1.set_yscale("log")
    else:  # wd may be exactly 0: linear near zero, logarithmic above the smallest positive value
        a1.set_yscale("symlog", linthresh=float(positive.min()) if len(positive) else 1e-4)
    for ax in (a1, a2):  # label 1-2-5 steps: a narrow range would otherwise show no tick labels
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    if len(positive) == len(ind):
        a1.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        a1.yaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    a1.set(xlabel="peak learning rate (log)", ylabel="weight decay", title="learning rate vs weight decay")
    a2.set(xlabel="peak learning rate (log)", ylabel="momentum at the lr peak", title="learning rate vs momentum")
    a2.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=9, title="colour: fitness,\nmarker: generation")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=a1, label="fitness: validation top-1 (%)")
    fig.suptitle("Search space explored (each distinct genome once)")
    fig.tight_layout()
    save(fig, out)


METHODS = {"ga": "GA best", "baseline": "baseline", "random": "random search"}  # plan -> figure names


def first_seen_fitness(df) -> list[float]:
    """The fitness of each distinct run in the order it was trained (first appearance)."""
    return df.drop_duplicates("run")["fitness"].astype(float).tolist()


def plot_ga_vs_random(fitness, random, out) -> None:
    """Best validation fitness so far against trainings spent: the GA and random search."""
    arms = {"GA": first_seen_fitness(all_individuals(fitness)), "random search": first_seen_fitness(read_tsv(random))}
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for (name, values), colour in zip(arms.items(), ("C0", "C1")):
        x = np.arange(1, len(values) + 1)
        ax.step(x, 100 * np.maximum.accumulate(values), where="post", color=colour, linewidth=2.2, label=name)
        ax.scatter(x, 100 * np.asarray(values), color=colour, s=14, alpha=0.5)
    ax.set(xlabel="trainings spent (distinct genomes)", ylabel="best validation top-1 so far (%)")
    ax.set_title("GA vs random search at the same budget (dots: each training)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save(fig, out)


def final_table(plan, tests) -> pd.DataFrame:
    """Test top-1/3/5 (%) per method and final seed, from the final runs' test.json (each names its run)."""
    by_run = read_by_run(tests)
    rows = []
    for _, p in read_tsv(plan).query("stage == 'final'").iterrows():
        method = METHODS[p["method"]]
        for k in ("top1", "top3", "top5"):
            acc = 100 * by_run[p["run"]][f"test_{k}"]
            rows.append({"method": method, "seed": p["seed"], "metric": f"top-{k[3:]}", "accuracy (%)": acc})
    return pd.DataFrame(rows)


def plot_final_comparison(plan, tests, comparison, out) -> None:
    df = final_table(plan, tests)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    order = [m for m in METHODS.values() if m in set(df["method"])]
    common = {"data": df, "x": "metric", "y": "accuracy (%)", "hue": "method", "hue_order": order}
    sns.barplot(**common, errorbar="sd", capsize=0.15, alpha=0.8, ax=ax)
    sns.stripplot(**common, dodge=True, palette="dark:black", size=5, ax=ax, legend=False)
    lo = np.nanmin(df["accuracy (%)"]) if df["accuracy (%)"].notna().any() else 0
    ax.set_ylim(max(0, lo - 10), 100.5)
    ax.set(
        xlabel="test-set metric", title="Final comparison on the test set (bars: mean ± std over seeds; dots: seeds)"
    )
    ax.text(0.5, -0.2, final_summary(comparison), transform=ax.transAxes, ha="center", va="top", fontsize=9, wrap=True)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save(fig, out)


def plot_confusion_matrix(predictions, meta, out) -> None:
    p = pd.read_csv(predictions, sep="\t")
    classes = read_json(meta)["classes"]
    n = len(classes)
    cm = np.zeros((n, n))
    np.add.at(cm, (p["label"].to_numpy(), p["pred1"].to_numpy()), 1)
    rows = cm.sum(axis=1, keepdims=True)
    pct = 100 * cm / np.where(rows == 0, 1, rows)
    size = max(7, 0.55 * n) if n <= 20 else 14
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(
        pct,
        annot=n <= 20,
        fmt=".0f",
        cmap="Blues",
        vmin=0,
        vmax=100,
        square=True,
        ax=ax,
        xticklabels=classes if n <= 20 else False,
        yticklabels=classes if n <= 20 else False,
        cbar_kws={"label": "% of the true class"},
    )
    acc = 100 * np.trace(cm) / max(1, cm.sum())
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title=f"Confusion matrix of the best model on the test set (top-1 {acc:.2f}%)",
    )
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    fig.tight_layout()
    save(fig, out)


PAPER_RESNET_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}  # He et al. 2015, Table 6


def degradation_runs(metrics_files) -> pd.DataFrame:
    """Every degradation run's per-epoch metrics, with kind (plain/resnet), depth and seed."""
    frames = []
    for f in metrics_files:
        kind, depth, seed = parse_degradation_run(f)
        frames.append(pd.read_csv(f, sep="\t").assign(kind=kind, depth=depth, seed=seed))
    df = pd.concat(frames, ignore_index=True)
    df["train error (%)"] = 100 * (1 - df["train_top1"])
    df["test error (%)"] = 100 * (1 - df["test_top1"])
    return df


def degradation_table(metrics_files) -> pd.DataFrame:
    df = degradation_runs(metrics_files)
    last = df.loc[df.groupby(["kind", "depth", "seed"])["epoch"].idxmax()]
    mean = last.groupby(["depth", "kind"])[["test error (%)", "train error (%)"]].mean().unstack("kind")
    out = pd.DataFrame({"depth": mean.index})
    for kind in ("plain", "resnet"):
        out[f"{kind}_test_error"] = mean[("test error (%)", kind)].to_numpy()
        out[f"{kind}_train_error"] = mean[("train error (%)", kind)].to_numpy()
    out["paper_resnet_test_error"] = [PAPER_RESNET_TEST_ERROR.get(d, float("nan")) for d in out["depth"]]
    out["seeds"] = last.groupby("depth")["seed"].nunique().to_numpy()
    return out


def plot_degradation(metrics, out) -> None:
    df = degradation_runs(metrics)
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


def write_degradation_table(metrics, out) -> None:
    write_tsv(degradation_table(metrics), out)


# subcommand -> (function, its file arguments; a list where it takes several files)
COMMANDS = {
    "ga-progress": (plot_ga_progress, {"fitness": list}),
    "search-space": (plot_search_space, {"fitness": list}),
    "ga-vs-random": (plot_ga_vs_random, {"fitness": list, "random": str}),
    "training-curves": (plot_training_curves, {"fitness": list, "plan": str, "metrics": list}),
    "schedules": (plot_schedules, {"fitness": list, "plan": str, "schedules": list}),
    "lr-find": (plot_lr_find, {"tsv": str, "suggestion": str}),
    "final-comparison": (plot_final_comparison, {"plan": str, "tests": list, "comparison": str}),
    "confusion-matrix": (plot_confusion_matrix, {"predictions": str, "meta": str}),
    "degradation": (plot_degradation, {"metrics": list}),
    "degradation-table": (write_degradation_table, {"metrics": list}),
}


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, (func, files) in COMMANDS.items():
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0] if func.__doc__ else None)
        for arg, kind in files.items():
            p.add_argument(f"--{arg}", required=True, nargs="+" if kind is list else None)
        if name == "training-curves":
            p.add_argument("--top-k", type=int, default=4, help="GA runs drawn beside the baseline")
        p.add_argument("--out", required=True)
    return ap


def main(argv=None) -> int:
    args = vars(build_parser().parse_args(argv))
    func = COMMANDS[args.pop("cmd")][0]
    return run_cli(lambda kw: func(**kw), args)


if __name__ == "__main__":
    sys.exit(main())
