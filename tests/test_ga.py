"""The GA's operators on any search space, and the report's GA exactly as before: the populations of
the default, smoke and plain-GA configs against the ones the three-gene GA made before the space
became data (tests/data/ga_regression.json, written by that code for a fixed fitness landscape)."""

import json
import math

import numpy as np
import pytest

import ga
import search
import space as spaces
import strategies
from helpers import ROOT

REPORT_GENES = {
    "lr": {"low": 1e-6, "high": 1e-2, "log": True},
    "wd": {"low": 0.0, "high": 0.1},
    "mom": {"low": 0.1, "high": 1.5},
}
SPACE = spaces.from_config(REPORT_GENES)
REGRESSION = json.loads((ROOT / "tests" / "data" / "ga_regression.json").read_text())


def landscape(p):
    """The fixed fitness the regression file was made with."""
    return round(max(0.0, 1 - abs(math.log10(p["lr"]) + 2.5) / 4 - abs(p["wd"] - 0.01) - abs(p["mom"] - 0.9) / 2), 3)


def spec_of(cfg: dict) -> dict:
    genes = {**REPORT_GENES, **cfg.get("genes", {})}
    return search.spec_from_config({"ga": {**cfg, "genes": genes}, "search": {"methods": ["ga", "random"]}})


def evolve(spec: dict, method: str = "ga"):
    """The search loop of search.py on the fixed landscape (no training): every round's rows."""
    rows = search.initial_population(spec, 0)
    history, rounds = [], []
    for k in range(spec["rounds"]):
        scored = [
            {**r, "individual": i, "fitness": landscape(r), "round": k, "run": f"r{k}-{i}"} for i, r in enumerate(rows)
        ]
        rounds.append(scored)
        history += scored
        if k + 1 < spec["rounds"]:
            rows = search.propose_round(spec, method, history, k + 1, 0)
    return rounds


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_the_report_s_ga_makes_the_same_populations_as_before(name):
    expected = REGRESSION[name]
    got = evolve(spec_of(expected["spec"]))
    assert len(got) == len(expected["generations"])
    for g, (rows, old) in enumerate(zip(got, expected["generations"])):
        assert [{k: r[k] for k in ("lr", "wd", "mom", "origin", "parents")} for r in rows] == old, f"generation {g}"


@pytest.mark.parametrize("name", ["default", "smoke"])
def test_the_random_search_draws_the_same_genomes_as_before(name):
    spec = spec_of(REGRESSION[name]["spec"])
    rounds = evolve(spec, "random")
    drawn = [r for r in rounds[0]] + [r for rnd in rounds[1:] for r in rnd if r["origin"] == "random"]
    assert [{g: r[g] for g in ("lr", "wd", "mom")} for r in drawn] == REGRESSION[name]["random"]
    assert len(drawn) == search.budget(spec)


def test_initial_population_within_bounds_log_uniform_and_canonical():
    pop = ga.init_population(SPACE, 4000, np.random.default_rng(0))
    assert all(g.contains(p[g.name]) for p in pop for g in SPACE.genes)
    logs = np.log10([p["lr"] for p in pop])
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0] / len(pop)  # a quarter of the draws per decade
    assert np.all(np.abs(counts - 0.25) < 0.03), counts
    assert abs(np.mean([p["wd"] < 0.05 for p in pop]) - 0.5) < 0.03  # uniform, not log


def test_elites_are_the_fittest_with_deterministic_ties():
    inds = [{"individual": i, "fitness": f} for i, f in enumerate([0.5, 0.9, 0.5, 0.1, 0.9])]
    assert [e["individual"] for e in ga.select_elites(inds, 3)] == [1, 4, 0]
    assert [e["individual"] for e in ga.select_elites(list(reversed(inds)), 3)] == [1, 4, 0]


def test_single_point_crossover_cuts_the_gene_list_in_the_middle():
    p1, p2 = {"lr": 1.0, "wd": 2.0, "mom": 3.0}, {"lr": 10.0, "wd": 20.0, "mom": 30.0}
    assert SPACE.middle() == 1  # the report's "middle most node" of three genes
    assert ga.crossover(p1, p2, 1, SPACE) == {"lr": 1.0, "wd": 20.0, "mom": 30.0}
    five = spaces.from_config(
        {**REPORT_GENES, "label_smoothing": {"low": 0.0, "high": 0.2}, "cutout": {"low": 0, "high": 8}}
    )
    assert five.middle() == 2


def test_mutation_redraws_each_gene_from_its_own_distribution_at_the_threshold():
    space = spaces.from_config(
        {
            "lr": REPORT_GENES["lr"],
            "arch": {"choices": ["resnet8", "resnet20"]},
            "batch_size": {"low": 64, "high": 256, "step": 64},
        }
    )
    rng = np.random.default_rng(1)
    g0 = {"lr": 1e-3, "arch": "resnet8", "batch_size": 128}
    n, hits = 3000, {g: 0 for g in space.names}
    for _ in range(n):
        child, mutated = ga.mutate(g0, space, 0.3, rng)
        assert all(gene.contains(child[gene.name]) for gene in space.genes)
        for g in space.names:
            assert (g in mutated) or child[g] == g0[g]
            hits[g] += g in mutated
    assert all(abs(hits[g] / n - 0.3) < 0.03 for g in space.names), hits
    assert {ga.mutate(g0, space, 1.0, rng)[0]["batch_size"] for _ in range(200)} == {64, 128, 192, 256}


def test_unique_ga_never_trains_a_genome_twice_and_a_plain_ga_can():
    unique = evolve(
        spec_of(
            {"population": 4, "elites": 2, "generations": 8, "genes": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}}}
        )
    )
    evaluated = set()
    for g, rows in enumerate(unique):
        keys = [SPACE.key(r) for r in rows]
        assert len(set(keys)) == len(keys), f"generation {g} holds a genome twice"
        assert not {SPACE.key(r) for r in rows if r["origin"] == "child"} & evaluated
        evaluated |= set(keys)
    assert len(evaluated) == 4 + 2 * 7
    plain = evolve(spec_of({"population": 4, "elites": 2, "generations": 8, "unique": False}))
    assert any(len({SPACE.key(r) for r in rows}) < len(rows) for rows in plain)


def test_distinct_elites_count_a_genome_once():
    a, b = {"lr": 0.01, "wd": 0.0, "mom": 0.9}, {"lr": 0.02, "wd": 0.0, "mom": 0.9}
    inds = [
        {**a, "individual": 0, "fitness": 0.9},
        {**a, "individual": 1, "fitness": 0.9},
        {**b, "individual": 2, "fitness": 0.5},
    ]
    assert [e["individual"] for e in ga.distinct_elites(inds, 2, SPACE)] == [0, 2]
    assert [e["individual"] for e in ga.select_elites(inds, 2)] == [0, 1]


def test_an_exhausted_space_keeps_a_duplicate_with_a_note(capsys):
    space = spaces.from_config({"arch": {"choices": ["resnet8", "resnet20"]}})
    child = {"arch": "resnet8"}
    taken = {("resnet8",), ("resnet20",)}
    out = ga.make_new(child, taken, space, 1.0, np.random.default_rng(0), tries=5)
    assert space.key(out) in taken and "no new genome after 5 mutations" in capsys.readouterr().err


def test_every_round_stream_depends_only_on_seed_round_and_repeat():
    r = strategies.Round(SPACE, {}, [], [], 2, 3, 0)
    assert strategies.stream_entropy(3, 0, 2) == [3, 2]  # the GA's generation 2 of repeat 0, as always
    a = r.stream(2).random(5)
    assert np.array_equal(a, np.random.default_rng([3, 2]).random(5))
    assert not np.array_equal(a, strategies.Round(SPACE, {}, [], [], 2, 3, 1).stream(2).random(5))  # repeat 1
