"""Figures of the report (seaborn + pandas), one subcommand per figure group.

    python scripts/plots.py curves     --fitness gen*/fitness.tsv --plan final/plan.tsv --runs runs --out curves.png
    python scripts/plots.py schedules  --fitness ... --plan ... --runs ... --out schedules.png
    python scripts/plots.py lr-find    --tsv lr_find/lr_find.tsv --suggestion lr_find/suggestion.json --out lr_find.png
    python scripts/plots.py progress   --fitness gen*/fitness.tsv --out progress.png
    python scripts/plots.py search-space --fitness gen*/fitness.tsv --out search_space.png
    python scripts/plots.py final      --plan final/plan.tsv --runs runs --out final.png
    python scripts/plots.py confusion  --predictions final/predictions.tsv --meta prepared/meta.json --out confusion.png
    python scripts/plots.py degradation --metrics degradation/runs/*/metrics.tsv --out degradation.png
    python scripts/plots.py degradation-table --metrics degradation/runs/*/metrics.tsv --out table.tsv

Diverged runs (status `diverged`, fitness 0) are drawn as crosses in the GA plots and left out
of the curve figures; the tables list them.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on compute nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, LogLocator  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from util import ArgumentParser, atomic_write_bytes  # noqa: E402
from evaluate import final_summary  # noqa: E402
from ga import all_individuals, parse_run_id, read_tsv, write_tsv  # noqa: E402

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
    runs = [{"run": base["run"], "label": "baseline (no GA): " + genome_label(parse_run_id(base["run"])), "baseline": True}]
    for rank, (_, r) in enumerate(ok.iterrows(), start=1):
        runs.append({"run": r["run"], "baseline": False,
                     "label": f"GA #{rank} (gen {r['generation']}, val top-1 {100 * r['fitness']:.1f}%): {genome_label(r)}"})  # fmt: skip
    return runs


def plot_curves(fitness_tables, plan_tsv, runs_dir, top_k, out) -> None:
    panels = [("top1", "top-1 accuracy (%)"), ("top3", "top-3 accuracy (%)"), ("top5", "top-5 accuracy (%)"),
              ("train_loss", "training loss"), ("val_loss", "validation loss")]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    axes = axes.ravel()
    palette = sns.color_palette("tab10")
    handles = []
    runs = curve_runs(fitness_tables, plan_tsv, top_k)
    for i, r in enumerate(runs):
        m = pd.read_csv(Path(runs_dir) / r["run"] / "metrics.tsv", sep="\t")
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
    axes[5].legend(handles=handles, loc="center", fontsize=9, frameon=False, title="run (peak lr, weight decay, momentum at peak)")
    fig.suptitle("Training curves with and without the GA (validation split)", fontsize=14)
    fig.tight_layout()
    save(fig, out)


def plot_schedules(fitness_tables, plan_tsv, runs_dir, out) -> None:
    runs = curve_runs(fitness_tables, plan_tsv, 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for i, r in enumerate(runs):
        s = pd.read_csv(Path(runs_dir) / r["run"] / "schedule.tsv", sep="\t")
        style = BASELINE_STYLE if r["baseline"] else {"color": sns.color_palette("tab10")[0], "linewidth": 2}
        a1.plot(s["epoch"], s["lr"], label=r["label"], **style)
        a2.plot(s["epoch"], s["momentum"], label=r["label"], **style)
    a1.set(xlabel="epoch", ylabel="learning rate", title="One-cycle learning rate (per step)", yscale="log")
    a2.set(xlabel="epoch", ylabel="momentum", title="Momentum, inverse to the learning rate")
    a1.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    save(fig, out)


def plot_lr_find(tsv, suggestion_json, out) -> None:
    df = pd.read_csv(tsv, sep="\t")
    sug = json.loads(Path(suggestion_json).read_text())
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(df["lr"], df["loss"], color="0.75", linewidth=1, label="loss per batch")
    ax.plot(df["lr"], df["smoothed_loss"], color="C0", linewidth=2, label="smoothed loss")
    ax.axvline(sug["suggestion"], color="C3", linestyle="--", label=f"suggested lr {sug['suggestion']:.2e}")
    ax.axvline(sug["lr_min_loss"], color="0.4", linestyle=":", label=f"minimum of smoothed loss {sug['lr_min_loss']:.2e}")
    lo = min(df["smoothed_loss"].min(), df["loss"].min())
    hi = min(df["smoothed_loss"].max(), df["smoothed_loss"].iloc[0] * 1.5)  # the blow-up at the end is cut
    ax.set_ylim(lo - 0.05 * abs(hi - lo), hi + 0.05 * abs(hi - lo))
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss", title="LR range test (Smith 2015)")
    ax.legend()
    fig.tight_layout()
    save(fig, out)


def plot_progress(fitness_tables, out) -> None:
    ind = all_individuals(fitness_tables)
    ind["fitness (%)"] = 100 * ind["fitness"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    ok = ind[ind["status"] == "ok"]
    sns.stripplot(data=ok, x="generation", y="fitness (%)", hue="origin", hue_order=["init", "elite", "child"],
                  jitter=0.15, size=7, ax=ax, native_scale=True)  # fmt: skip
    div = ind[ind["status"] != "ok"]
    if len(div):
        ax.scatter(div["generation"], div["fitness (%)"], marker="x", color="C3", s=50, label="diverged (fitness 0)")
    per_gen = ind.groupby("generation")["fitness (%)"]
    gens = sorted(ind["generation"].unique())
    ax.plot(gens, per_gen.max().cummax().loc[gens], color="black", linewidth=2, marker="s", label="best so far")
    ax.plot(gens, per_gen.median().loc[gens], color="0.5", linestyle="--", marker="o", label="median")
    ax.set(xlabel="generation", ylabel="fitness: validation top-1 (%)", title="GA progress", xticks=gens)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    save(fig, out)


def plot_search_space(fitness_tables, out) -> None:
    ind = all_individuals(fitness_tables).drop_duplicates(["run"])
    for g in ("lr", "wd", "mom"):
        ind[g] = ind[g].astype(float)
    ind["fitness (%)"] = 100 * ind["fitness"]
    ind["gen"] = ind["generation"].astype(str)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 5.5))
    norm = plt.Normalize(ind["fitness (%)"].min(), ind["fitness (%)"].max())
    for ax, y in ((a1, "wd"), (a2, "mom")):
        sns.scatterplot(data=ind, x="lr", y=y, hue="fitness (%)", hue_norm=norm, palette="viridis", style="gen",
                        s=90, edgecolor="black", linewidth=0.4, ax=ax, legend=ax is a2)  # fmt: skip
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


def final_table(plan_tsv, runs_dir) -> pd.DataFrame:
    plan = read_tsv(plan_tsv).query("stage == 'final'")
    rows = []
    for _, p in plan.iterrows():
        t = json.loads((Path(runs_dir) / p["run"] / "test.json").read_text())
        for k in ("top1", "top3", "top5"):
            rows.append({"method": "GA best" if p["method"] == "ga" else "baseline", "seed": p["seed"],
                         "metric": f"top-{k[3:]}", "accuracy (%)": 100 * t[f"test_{k}"]})  # fmt: skip
    return pd.DataFrame(rows)


def plot_final(plan_tsv, runs_dir, comparison_tsv, out) -> None:
    df = final_table(plan_tsv, runs_dir)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    sns.barplot(data=df, x="metric", y="accuracy (%)", hue="method", errorbar="sd", capsize=0.15, alpha=0.8, ax=ax,
                hue_order=["GA best", "baseline"])  # fmt: skip
    sns.stripplot(data=df, x="metric", y="accuracy (%)", hue="method", dodge=True, palette="dark:black", size=5, ax=ax,
                  hue_order=["GA best", "baseline"], legend=False)  # fmt: skip
    lo = np.nanmin(df["accuracy (%)"]) if df["accuracy (%)"].notna().any() else 0
    ax.set_ylim(max(0, lo - 10), 100.5)
    ax.set(xlabel="test-set metric", title="Final comparison on the test set (bars: mean ± std over seeds; dots: seeds)")
    ax.text(0.5, -0.2, final_summary(comparison_tsv), transform=ax.transAxes, ha="center", va="top", fontsize=9, wrap=True)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save(fig, out)


def plot_confusion(predictions_tsv, meta_json, out) -> None:
    p = pd.read_csv(predictions_tsv, sep="\t")
    classes = json.loads(Path(meta_json).read_text())["classes"]
    n = len(classes)
    cm = np.zeros((n, n))
    np.add.at(cm, (p["label"].to_numpy(), p["pred1"].to_numpy()), 1)
    rows = cm.sum(axis=1, keepdims=True)
    pct = 100 * cm / np.where(rows == 0, 1, rows)
    size = max(7, 0.55 * n) if n <= 20 else 14
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(pct, annot=n <= 20, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True, ax=ax,
                xticklabels=classes if n <= 20 else False, yticklabels=classes if n <= 20 else False,
                cbar_kws={"label": "% of the true class"})  # fmt: skip
    acc = 100 * np.trace(cm) / max(1, cm.sum())
    ax.set(xlabel="predicted class", ylabel="true class", title=f"Confusion matrix of the best model on the test set (top-1 {acc:.2f}%)")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    fig.tight_layout()
    save(fig, out)


PAPER_RESNET_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43}  # He et al. 2015, Table 6


def degradation_runs(metrics_files) -> pd.DataFrame:
    """Every degradation run's per-epoch metrics, with kind (plain/resnet), depth and seed."""
    frames = []
    for f in metrics_files:
        m = re.match(r"(plain|resnet)(\d+)_seed(-?\d+)$", Path(f).parent.name)
        if not m:
            raise ValueError(f"{f}: not in a folder named <plain|resnet><depth>_seed<seed>")
        frames.append(pd.read_csv(f, sep="\t").assign(kind=m.group(1), depth=int(m.group(2)), seed=int(m.group(3))))
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


def plot_degradation(metrics_files, out) -> None:
    df = degradation_runs(metrics_files)
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


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, *opts):
        p = sub.add_parser(name)
        for o in opts:
            p.add_argument(f"--{o}", nargs="+" if o in ("fitness", "metrics") else None, required=o != "top-k",
                           type=int if o == "top-k" else str, default=4 if o == "top-k" else None)  # fmt: skip
        p.add_argument("--out", required=True)

    add("curves", "fitness", "plan", "runs", "top-k")
    add("schedules", "fitness", "plan", "runs")
    add("lr-find", "tsv", "suggestion")
    add("progress", "fitness")
    add("search-space", "fitness")
    add("final", "plan", "runs", "comparison")
    add("confusion", "predictions", "meta")
    add("degradation", "metrics")
    add("degradation-table", "metrics")
    a = ap.parse_args(argv)
    try:
        {
            "curves": lambda: plot_curves(a.fitness, a.plan, a.runs, a.top_k, a.out),
            "schedules": lambda: plot_schedules(a.fitness, a.plan, a.runs, a.out),
            "lr-find": lambda: plot_lr_find(a.tsv, a.suggestion, a.out),
            "progress": lambda: plot_progress(a.fitness, a.out),
            "search-space": lambda: plot_search_space(a.fitness, a.out),
            "final": lambda: plot_final(a.plan, a.runs, a.comparison, a.out),
            "confusion": lambda: plot_confusion(a.predictions, a.meta, a.out),
            "degradation": lambda: plot_degradation(a.metrics, a.out),
            "degradation-table": lambda: write_tsv(degradation_table(a.metrics), a.out),
        }[a.cmd]()
    except (OSError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
