import json
import math
import subprocess

import numpy as np
import pytest

import ga
from helpers import script_cmd
from util import read_tsv, write_tsv

GENES = ga.DEFAULT_GENES


def scored(n=10, seed=0):
    pop = ga.init_population(GENES, n, np.random.default_rng(seed))
    return [{**p, "individual": i, "fitness": round(0.05 * ((7 * i) % n), 3)} for i, p in enumerate(pop)]


def within(genome, genes=GENES):
    return all(genes[g]["low"] <= genome[g] <= genes[g]["high"] for g in ga.GENES)


def test_canonical_text_and_run_id_roundtrip():
    assert ga.fmt(0.0031623) == "3.16e-03" and ga.fmt(0) == "0.00e+00"
    g = {"lr": 0.0031623, "wd": 0.012, "mom": 0.85}
    rid = ga.run_id(g, 0)
    assert rid == "lr=3.16e-03_wd=1.20e-02_mom=8.50e-01_seed=0"
    assert ga.parse_run_id(rid) == {**ga.canonical_genome(g), "seed": 0}
    assert ga.run_id(ga.parse_run_id(rid), 0) == rid  # one canonical form
    with pytest.raises(ValueError):
        ga.parse_run_id("lr=1_wd=2")


def test_initial_population_within_bounds_log_uniform_and_canonical():
    pop = ga.init_population(GENES, 4000, np.random.default_rng(0))
    assert all(within(p) for p in pop)
    assert all(ga.canonical(p[g]) == p[g] for p in pop for g in ga.GENES)
    logs = np.log10([p["lr"] for p in pop])
    # log-uniform over 1e-6..1e-2: each decade holds about a quarter of the draws
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0] / len(pop)
    assert np.all(np.abs(counts - 0.25) < 0.03), counts
    wd = np.array([p["wd"] for p in pop])
    assert abs(np.mean(wd < 0.05) - 0.5) < 0.03  # uniform, not log


def test_elites_are_the_fittest_with_deterministic_ties():
    inds = [{"individual": i, "fitness": f} for i, f in enumerate([0.5, 0.9, 0.5, 0.1, 0.9])]
    assert [e["individual"] for e in ga.select_elites(inds, 3)] == [1, 4, 0]
    assert [e["individual"] for e in ga.select_elites(list(reversed(inds)), 3)] == [1, 4, 0]


def test_single_point_crossover_splits_at_the_point():
    p1, p2 = {"lr": 1.0, "wd": 2.0, "mom": 3.0}, {"lr": 10.0, "wd": 20.0, "mom": 30.0}
    assert ga.crossover(p1, p2, 1) == {"lr": 1.0, "wd": 20.0, "mom": 30.0}  # the middle of 3 genes
    assert ga.crossover(p1, p2, 2) == {"lr": 1.0, "wd": 2.0, "mom": 30.0}


def test_mutation_frequency_close_to_threshold_and_in_bounds():
    rng = np.random.default_rng(1)
    g0 = {"lr": 1e-3, "wd": 0.05, "mom": 0.8}
    n, hits = 3000, {g: 0 for g in ga.GENES}
    for _ in range(n):
        child, mutated = ga.mutate(g0, GENES, 0.3, rng)
        assert within(child)
        for g in ga.GENES:
            assert (g in mutated) or child[g] == g0[g]
            hits[g] += g in mutated
    for g in ga.GENES:
        assert abs(hits[g] / n - 0.3) < 0.03, hits
    assert ga.mutate(g0, GENES, 0.0, rng) == (g0, [])


def test_next_generation_semantics():
    prev = scored(10)
    rng = ga.generation_rng(0, 1)
    nxt = ga.next_generation(prev, GENES, 10, 5, 1, 0.0, rng, generation=1)
    elites = ga.select_elites(prev, 5)
    assert len(nxt) == 10 and [p["origin"] for p in nxt] == ["elite"] * 5 + ["child"] * 5
    for e, p in zip(elites, nxt[:5]):  # elites copied exactly
        assert all(p[g] == e[g] for g in ga.GENES) and p["parents"] == f"gen0:{e['individual']}"
    by_id = {e["individual"]: e for e in elites}
    for child in nxt[5:]:  # with no mutation, genes come from the two parents split at the middle
        a, b = (int(x.split(":")[1]) for x in child["parents"].split(","))
        assert a != b and a in by_id and b in by_id
        assert child["lr"] == by_id[a]["lr"] and child["wd"] == by_id[b]["wd"] and child["mom"] == by_id[b]["mom"]


def test_next_generation_respects_bounds_and_rounding_with_mutation():
    genes = {"lr": {"low": 1e-3, "high": 1e-1, "log": True}, "wd": GENES["wd"], "mom": GENES["mom"]}
    prev = [
        {**p, "individual": i, "fitness": i / 10}
        for i, p in enumerate(ga.init_population(genes, 10, np.random.default_rng(2)))
    ]
    for gen in range(1, 30):
        nxt = ga.next_generation(prev, genes, 10, 5, 1, 0.5, ga.generation_rng(7, gen), generation=gen)
        assert all(within(p, genes) and ga.canonical_genome(p) == {g: p[g] for g in ga.GENES} for p in nxt)
        prev = [{**p, "individual": i, "fitness": (i * 3) % 10 / 10} for i, p in enumerate(nxt)]


def test_generation_rng_depends_only_on_seed_and_generation():
    a = ga.generation_rng(3, 2).random(5)
    ga.generation_rng(3, 1).random(100)  # draws elsewhere do not matter
    assert np.array_equal(a, ga.generation_rng(3, 2).random(5))
    assert not np.array_equal(a, ga.generation_rng(3, 1).random(5))
    assert not np.array_equal(a, ga.generation_rng(4, 2).random(5))


@pytest.mark.parametrize(
    "genes,key",
    [
        ({"lr": {"low": 1e-2, "high": 1e-6, "log": True}}, "ga.genes.lr"),
        ({"lr": {"low": 0.0, "high": 1e-2, "log": True}}, "ga.genes.lr.low"),
        ({"wd": {"low": 0.0, "high": 0.12345}}, "ga.genes.wd.high"),
    ],
)
def test_bad_bounds_name_the_key(genes, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        ga.spec_from_json(json.dumps({"population": 10, "genes": genes}))


def test_cli_steps_are_deterministic_files(tmp_path):
    spec = json.dumps({"population": 6, "elites": 3, "seed": 5})
    for d in ("a", "b"):
        subprocess.run(script_cmd("ga.py", "init", "--spec", spec, "--out", tmp_path / d / "pop0.tsv"), check=True)
    a, b = (tmp_path / "a" / "pop0.tsv").read_bytes(), (tmp_path / "b" / "pop0.tsv").read_bytes()
    assert a == b
    df = read_tsv(tmp_path / "a" / "pop0.tsv")
    assert list(df.columns) == ga.POP_COLUMNS and list(df["origin"]) == ["init"] * 6
    fit = df.assign(
        fitness=[0.1, 0.6, 0.3, 0.6, 0.2, 0.0], top1=0.0, top3=0.0, top5=0.0, val_loss=1.0, train_loss=1.0, status="ok"
    )
    write_tsv(fit, tmp_path / "fit0.tsv")
    out = tmp_path / "pop1.tsv"
    subprocess.run(
        script_cmd("ga.py", "next", "--spec", spec, "--fitness", tmp_path / "fit0.tsv", "--gen", 1, "--out", out),
        check=True,
    )
    nxt = read_tsv(out)
    assert list(nxt["parents"][:3]) == ["gen0:1", "gen0:3", "gen0:2"]
    assert list(nxt["run"][:3]) == [df["run"][1], df["run"][3], df["run"][2]]  # elites keep their run: reused


def test_best_over_generations_prefers_earliest_on_ties(tmp_path):
    cols = {c: 0.0 for c in ("top1", "top3", "top5", "val_loss", "train_loss")}
    import pandas as pd

    for g, fits in enumerate([[0.2, 0.7], [0.7, 0.5]]):
        df = pd.DataFrame(
            [
                {
                    "individual": i,
                    "run": f"r{g}{i}",
                    "lr": "1.00e-03",
                    "wd": "0.00e+00",
                    "mom": "9.00e-01",
                    "origin": "init",
                    "parents": "",
                    "fitness": f,
                    **cols,
                    "status": "ok",
                }
                for i, f in enumerate(fits)
            ]
        )
        (tmp_path / f"gen{g}").mkdir()
        write_tsv(df, tmp_path / f"gen{g}" / "fitness.tsv")
    best = ga.best_of([tmp_path / "gen0" / "fitness.tsv", tmp_path / "gen1" / "fitness.tsv"])
    assert best.iloc[0]["run"] == "r01" and best.iloc[0]["generation"] == 0
    assert not math.isnan(best.iloc[0]["fitness"])


def test_collect_warns_when_a_generation_mixes_environments(tmp_path, capsys):
    pop = ga.population_frame(
        [{"lr": 0.01, "wd": 0.0, "mom": 0.9, "origin": "init"}, {"lr": 0.02, "wd": 0.0, "mom": 0.9, "origin": "init"}],
        0,
    )
    write_tsv(pop, tmp_path / "population.tsv")
    for run, device in zip(pop["run"], ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"]):
        prov = {
            "torch": "2.11.0",
            "torchvision": "0.26.0",
            "cuda": "13.0",
            "cudnn": "91900",
            "device": device,
            "deterministic": True,
            "threads": 4,
            "commit": "abc",
            "settings_hash": "x",
        }
        result = {
            "fitness": 0.5,
            "top1": 0.5,
            "top3": 0.8,
            "top5": 0.9,
            "val_loss": 1.0,
            "train_loss": 1.0,
            "status": "ok",
            "epochs": 2,
            "epochs_completed": 2,
            "provenance": prov,
            "run": run,
        }
        (tmp_path / run).mkdir()
        (tmp_path / run / "result.json").write_text(json.dumps(result))
    ga.collect(tmp_path / "population.tsv", sorted(tmp_path.glob("*/result.json")))
    err = capsys.readouterr().err
    assert "mixes 2 environments" in err and "A100" in err and "H100" in err
    envs = ga.environments(sorted(tmp_path.glob("*/result.json")))
    assert len(envs) == 2 and list(envs["runs"]) == [1, 1]


def evolve(generations, unique, n=4, k=2, seed=0):
    """A GA run with a synthetic fitness (no training): the populations it makes."""
    genes = {**GENES, "lr": {"low": 1e-3, "high": 1e-1, "log": True}}
    pops = [ga.init_population(genes, n, ga.generation_rng(seed, 0), unique)]
    seen = set()
    for g in range(1, generations):
        scored = [
            {**p, "individual": i, "fitness": round(1 - abs(math.log10(p["lr"]) + 1.5) / 3, 3)}
            for i, p in enumerate(pops[-1])
        ]
        seen |= {ga.genome_key(p) for p in pops[-1]}
        pops.append(
            ga.next_generation(scored, genes, n, k, 1, 0.3, ga.generation_rng(seed, g), g, seen if unique else None)
        )
    return pops


def test_unique_ga_never_trains_a_genome_twice():
    pops = evolve(8, unique=True)
    evaluated = set()
    for g, pop in enumerate(pops):
        keys = [ga.genome_key(p) for p in pop]
        assert len(set(keys)) == len(keys), f"generation {g} holds a genome twice"
        children = {ga.genome_key(p) for p in pop if p.get("origin") == "child"}
        assert not children & evaluated, f"generation {g} re-draws an evaluated genome"
        elites = {ga.genome_key(p) for p in pop if p.get("origin") == "elite"}
        assert elites <= evaluated
        evaluated |= set(keys)
    assert len(evaluated) == 4 + (4 - 2) * (8 - 1)  # population + (population - elites) * (generations - 1)


def test_plain_ga_can_collapse_and_unique_is_deterministic():
    plain = evolve(8, unique=False)
    assert any(len({ga.genome_key(p) for p in pop}) < len(pop) for pop in plain)  # the report's GA repeats genomes
    assert evolve(6, unique=True) == evolve(6, unique=True)


def test_distinct_elites_count_a_genome_once():
    a = {"lr": 0.01, "wd": 0.0, "mom": 0.9}
    inds = [
        {**a, "individual": 0, "fitness": 0.9},
        {**a, "individual": 1, "fitness": 0.9},
        {"lr": 0.02, "wd": 0.0, "mom": 0.9, "individual": 2, "fitness": 0.5},
    ]
    assert [e["individual"] for e in ga.distinct_elites(inds, 2)] == [0, 2]
    assert [e["individual"] for e in ga.select_elites(inds, 2)] == [0, 1]  # plain: duplicates count twice
    b = {"lr": 0.02, "wd": 0.0, "mom": 0.9}
    tied = [
        {**a, "individual": 0, "fitness": 0.5},
        {**b, "individual": 1, "fitness": 0.5},
        {**a, "individual": 2, "fitness": 0.5},
    ]
    assert [e["individual"] for e in ga.distinct_elites(tied, 2)] == [0, 1]  # ties: lower index first


def test_an_exhausted_space_keeps_a_duplicate_with_a_note(capsys):
    genes = {"lr": {"low": 1e-2, "high": 1e-2}, "wd": {"low": 0.0, "high": 0.0}, "mom": {"low": 0.9, "high": 0.9}}
    child = {"lr": 1e-2, "wd": 0.0, "mom": 0.9}
    out = ga.make_new(child, {ga.genome_key(child)}, genes, 1.0, np.random.default_rng(0), tries=5)
    assert out == child and "no new genome after 5 mutations" in capsys.readouterr().err


# ----------------------------------------------------------------------------- random-search control
def test_random_search_reuses_generation_0_then_draws_new_genomes_within_bounds():
    spec = ga.spec_from_json(json.dumps({"population": 6, "elites": 2, "generations": 4}))
    assert ga.ga_budget(spec) == 6 + 4 * 3 and ga.ga_budget(ga.spec_from_json('{"population": 10}')) == 30
    first = ga.init_population(spec["genes"], 6, ga.generation_rng(0, 0), unique=True)
    draws = ga.random_search(first, spec["genes"], ga.ga_budget(spec), np.random.default_rng([0, 0, 1]))
    again = ga.random_search(first, spec["genes"], ga.ga_budget(spec), np.random.default_rng([0, 0, 1]))
    assert draws == again and draws[:6] == [ga.canonical_genome(g) for g in first]
    assert len({ga.genome_key(g) for g in draws}) == len(draws) == 18
    for genome in draws:
        assert all(GENES[g]["low"] <= genome[g] <= GENES[g]["high"] for g in ga.GENES)


def test_random_step_writes_the_control_population(tmp_path):
    spec = json.dumps({"population": 4, "elites": 2, "generations": 3})
    pop0 = tmp_path / "gen0" / "population.tsv"
    subprocess.run(script_cmd("ga.py", "init", "--spec", spec, "--out", pop0), check=True)
    out = tmp_path / "random_search" / "population.tsv"
    subprocess.run(script_cmd("ga.py", "random", "--spec", spec, "--population", pop0, "--out", out), check=True)
    rs, g0 = read_tsv(out), read_tsv(pop0)
    assert len(rs) == 8 and list(rs["run"][:4]) == list(g0["run"]) and rs["run"].is_unique
    assert list(rs["origin"]) == ["init"] * 4 + ["random"] * 4


def test_summary_counts_stopped_runs_and_the_epochs_they_saved(tmp_path):
    import pandas as pd

    def row(i, run, status, completed, origin="child"):
        genes = {"lr": "1.00e-03", "wd": "0.00e+00", "mom": "9.00e-01"}
        scores = {"fitness": 0.5, "top1": 0.5, "top3": 0.5, "top5": 0.5, "val_loss": 1.0, "train_loss": 1.0}
        return {
            "individual": i,
            "run": run,
            **genes,
            "origin": origin,
            "parents": "",
            **scores,
            "status": status,
            "epochs": 6,
            "epochs_completed": completed,
        }

    tables = []
    for g, rows in enumerate(
        [
            [row(0, "a", "ok", 6, "init"), row(1, "b", "ok", 6, "init")],
            [row(0, "a", "ok", 6, "elite"), row(1, "c", "stopped", 2)],
        ]
    ):
        (tmp_path / f"gen{g}").mkdir()
        write_tsv(pd.DataFrame(rows), tmp_path / f"gen{g}" / "fitness.tsv")
        tables.append(tmp_path / f"gen{g}" / "fitness.tsv")
    s = ga.summarize(tables)
    assert list(s["stopped"]) == [0, 1] and list(s["epochs_trained"]) == [12, 2]
    assert list(s["epochs_saved"]) == [0, 4] and list(s["diverged"]) == [0, 0]
