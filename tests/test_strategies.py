"""Search strategies behind one seam (strategies/): the registry, one loop for every method (shared
round 0, elites carried, new genomes only), Optuna's TPE rebuilt from the tables, and a method added
by a test (its module only) appearing in the comparison, the figures and the status view."""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import search
import strategies
from helpers import SMOKE, copy_workflow, script_cmd, snakemake

GENES = {
    "lr": {"low": 1e-3, "high": 1e-1, "log": True},
    "arch": {"choices": ["resnet8", "resnet20"]},
    "batch_size": {"low": 32, "high": 256, "step": 32},
}


def spec_of(methods, **ga):
    cfg = {"population": 6, "elites": 2, "generations": 4, "genes": GENES, **ga}
    return search.spec_from_config({"ga": cfg, "search": {"methods": methods}})


def score(r):
    return round(1 - abs(math.log10(r["lr"]) + 1.5) / 2 - (r["arch"] == "resnet8") * 0.1 - r["batch_size"] / 1000, 4)


def run_search(spec, method, repeat=0):
    rows, history = search.initial_population(spec, repeat), []
    for k in range(spec["rounds"]):
        scored = [
            {**r, "individual": i, "round": k, "fitness": score(r), "run": f"{k}-{i}"} for i, r in enumerate(rows)
        ]
        history += scored
        if k + 1 < spec["rounds"]:
            rows = search.propose_round(spec, method, history, k + 1, repeat)
    return history


def test_the_registry_holds_the_ga_random_search_and_tpe():
    m = strategies.methods()
    assert {"ga", "random", "tpe"} <= set(m) and m["ga"].report_ga and not m["tpe"].report_ga
    assert strategies.reference(["random", "ga"]) == "ga" and strategies.reference(["tpe", "random"]) == "tpe"
    with pytest.raises(ValueError, match="search.methods"):
        spec_of(["ga", "nope"])


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"name": "Lowest-1"}, "name 'Lowest-1' must be lowercase letters"),
        ({"name": "baseline"}, "name 'baseline' must be"),
        ({"name": "ga"}, "name 'ga' is taken"),
        ({"origin": "elite"}, "origin 'elite' is taken"),
        ({"origin": "child"}, "origin 'child' is taken"),  # the GA's children
        ({"report_ga": True}, "only one method is the report's GA"),
        ({"colour": "C0"}, "colour 'C0' is taken"),  # the GA's: two methods one colour in every figure
        ({"colour": "0.3"}, "colour '0.3' is taken"),  # the baseline's
    ],
)
def test_a_method_that_collides_with_the_registry_is_refused(fields, problem):
    """A method's name is a folder and a wildcard value, its origin marks its rows (early stopping and
    the figures key on it): a module that reuses either is refused when the registry is built."""
    fields = {"name": "lowest", "label": "lowest", "colour": "C5", "origin": "lowest", "propose": None, **fields}
    with pytest.raises(TypeError, match=re.escape(problem)):
        strategies.check_method(strategies.Method(**fields), dict(strategies.methods()), "strategies.lowest")


def test_the_loop_checks_a_strategy_s_proposals(monkeypatch, capsys):
    """The seam's contract is checked by the loop, not trusted to each module: fewer genomes than asked
    is an error; genomes already trained are named in the log (the built-in strategies keep one only
    when the space is nearly exhausted), as such a method trains fewer than the GA's budget."""
    lazy = {
        "short": lambda rnd, n, taken: strategies.methods()["random"].propose(rnd, n - 1, taken),
        "again": lambda rnd, n, taken: [dict(e) for e in rnd.elites][:1] * n,  # re-proposes an elite
    }
    registry = {**strategies.methods(), **{k: strategies.Method(k, k, "C7", k, f) for k, f in lazy.items()}}
    monkeypatch.setattr(strategies, "methods", lambda: registry)
    with pytest.raises(search.DataError, match="search method 'short': proposed 3 genomes, 4 asked"):
        run_search(spec_of(["ga", "short"]), "short")
    capsys.readouterr()
    run_search(spec_of(["ga", "again"]), "again")
    assert "note: search method 'again' proposed 4 genome(s) evaluated in this search" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["ga", "random", "tpe"])
def test_every_method_shares_round_0_and_trains_the_ga_s_budget_of_new_genomes(method):
    spec = spec_of(list(dict.fromkeys(["ga", method])))
    history = run_search(spec, method)
    round0 = sorted((r for r in history if r["round"] == 0), key=lambda r: -r["fitness"])
    elites = [r for r in history if r["round"] == 1 and r["origin"] == "elite"]
    assert [r["lr"] for r in elites] == [r["lr"] for r in round0[:2]]  # round 1 carries round 0's fittest
    keys = [spec["space"].key(r) for r in history if r["origin"] != "elite"]
    assert len(keys) == len(set(keys)) == search.budget(spec) == 6 + 4 * 3  # every training a new genome
    for k in range(1, 4):
        rnd = [r for r in history if r["round"] == k]
        assert [r["origin"] for r in rnd] == ["elite"] * 2 + [strategies.methods()[method].origin] * 4
        assert all(g.contains(r[g.name]) for r in rnd for g in spec["space"].genes)


def test_tpe_proposals_come_from_the_tables_alone_and_differ_by_repeat():
    spec = spec_of(["tpe"])
    a, b = run_search(spec, "tpe"), run_search(spec, "tpe")
    assert a == b  # a fresh study each round, rebuilt from the same rows, seeded from config and round
    other = run_search(spec, "tpe", repeat=1)
    assert [r["lr"] for r in other if r["round"] == 0] != [r["lr"] for r in a if r["round"] == 0]
    assert run_search(spec, "tpe", repeat=1) == other  # every repeat as deterministic as the first


def test_tpe_leans_towards_the_good_region_of_a_simple_landscape():
    spec = spec_of(["tpe", "random"], population=10, elites=2, generations=6)
    tpe, rnd = (run_search(spec, m) for m in ("tpe", "random"))
    late = lambda h: np.mean([r["fitness"] for r in h if r["round"] >= 4 and r["origin"] != "elite"])  # noqa: E731
    assert late(tpe) > late(rnd)


def test_the_propose_cli_writes_a_round_table_from_the_history(tmp_path, prepared):
    spec = json.dumps(
        {"ga": {"population": 4, "elites": 2, "generations": 3, "genes": GENES}, "search": {"methods": ["tpe"]}}
    )
    values = json.dumps({"epochs": 2})
    base = ["--spec", spec, "--settings", values, "--meta", prepared / "meta.json"]
    pop0 = tmp_path / "search/rep0/round0/population.tsv"
    subprocess.run(script_cmd("search.py", "init", *base, "--out", pop0), check=True)
    import formats

    df = formats.read_table("population", pop0)
    for c, v in (("fitness", [0.1, 0.5, 0.3, 0.2]), ("top1", [0.1, 0.5, 0.3, 0.2])):
        df[c] = v
    df = df.assign(
        top3=0.9, top5=1.0, val_loss=1.0, train_loss=1.0, status="ok", epochs=2, epochs_completed=2, process_seconds=3.0
    )
    fit0 = tmp_path / "search/rep0/round0/fitness.tsv"
    formats.write_table("fitness", df, fit0)
    out = tmp_path / "search/rep0/tpe/round1/population.tsv"
    cmd = script_cmd("search.py", "propose", *base, "--method", "tpe", "--round", 1, "--history", fit0, "--out", out)
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r1 = formats.read_table("population", out)
    assert list(r1["origin"]) == ["elite", "elite", "tpe", "tpe"] and list(r1["run"][:2]) == [
        df["run"][1],
        df["run"][2],
    ]
    assert all("_ctx=" in run for run in r1["run"])  # epochs 2 and the generated data: not the defaults


TRIVIAL = '''"""A method added by a test: every new genome at the lower bounds (then mutated to be new)."""

import ga
from strategies import Method


def propose(r, n, taken):
    low = {g.name: (g.choices[0] if g.kind == "categorical" else g.low) for g in r.space.genes}
    out = []
    for _ in range(n):
        child = ga.make_new(dict(low), taken or set(), r.space, 1.0, r.stream(r.number, 9))
        if taken is not None:
            taken.add(r.space.key(child))
        out.append(child)
    return out


METHOD = Method("lowest", "lowest bounds", "C5", "lowest", propose)
'''


@pytest.mark.slow
def test_a_method_added_by_its_module_appears_everywhere(tmp_path):
    work = copy_workflow(tmp_path)
    (work / "scripts" / "strategies" / "lowest.py").write_text(TRIVIAL)
    (work / "mine.yaml").write_text(
        "ga: {generations: 2}\nsearch: {methods: [ga, lowest]}\nfinal: {seeds: 2}\ndegradation: {depths: [8]}\n"
    )
    snakemake(work, *SMOKE, "mine.yaml")
    out = work / "results" / "smoke"
    comparison = (out / "final" / "comparison.tsv").read_text()
    assert "lowest\tlowest bounds" in comparison
    assert "lowest bounds" in (out / "final" / "verdict.txt").read_text()
    assert (out / "search" / "rep0" / "lowest" / "round1" / "population.tsv").exists()
    status = subprocess.run(  # the copy's status.py: the new strategy is a module of its scripts/ alone
        [sys.executable, work / "scripts" / "status.py", "--configfile", "config/smoke.yaml", "mine.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert "lowest bounds, search 0, round 1" in status.stdout, status.stdout + status.stderr
    report = work / "report.html"
    snakemake(work, *SMOKE, "mine.yaml", "--report", report)
    assert "lowest bounds" in report.read_text(errors="replace")  # captions and the front page
    for rule in ("plot_search_progress", "plot_search_space", "plot_final_comparison"):
        assert "lowest bounds" in figure_texts(work, rule), rule


DRAW = """
import sys
sys.path.insert(0, sys.argv[1])
import plots
def texts(fig, out):
    for ax in fig.axes:
        found = [ax.get_title(), *(t.get_text() for t in ax.get_xticklabels())]
        found += [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
        print("\\n".join(found))
plots.save = texts
plots.main(sys.argv[2:])
"""


def figure_texts(work, rule) -> str:
    """The titles, tick labels and legends of a figure rule's figure, drawn by the copy's plots.py with
    the arguments the rule passes (as `snakemake -n -p` prints them)."""
    import shlex

    dry = snakemake(work, *SMOKE, "mine.yaml", "-n", "-p", "--forcerun", rule).stdout
    line = next(x for x in dry.splitlines() if "plots.py" in x and "--out" in x)
    args = shlex.split(line)
    args = args[args.index(next(a for a in args if a.endswith("plots.py"))) + 1 : args.index(">")]
    p = subprocess.run([sys.executable, "-c", DRAW, work / "scripts", *args], cwd=work, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout
