"""Optuna's TPE sampler (Bergstra et al. 2011) through its ask/tell interface. The study lives in
memory only: each round it is rebuilt from the workflow's own fitness tables (every evaluated genome
with its fitness), seeded from the config, the repeat and the round, so the same files give the same
proposals, after any interruption and in any job order, and no database file is needed (no SQLite or
journal on NFS). The round's proposals are asked one after another with the constant liar, so they
spread out instead of repeating the same best guess."""

from __future__ import annotations

import ga
from strategies import Method, Round

MAX_ASKS = 20  # asks per proposal before a repeated genome is redrawn at random


def distribution(gene):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if gene.kind == "categorical":
        return CategoricalDistribution(list(gene.choices))
    if gene.kind == "int":
        return IntDistribution(int(gene.low), int(gene.high), log=gene.log, step=gene.step)
    return FloatDistribution(gene.low, gene.high, log=gene.log)


def study_of(r: Round, sampler):
    """A study holding every distinct evaluated genome of the search, in the order evaluated."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists = {g.name: distribution(g) for g in r.space.genes}
    seen = set()
    for row in r.history:
        if r.space.key(row) in seen:
            continue
        seen.add(r.space.key(row))
        params = {g.name: row[g.name] for g in r.space.genes}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(row["fitness"])))
    return study, dists


def ask_new(study, dists, r: Round, taken: set | None) -> dict:
    import optuna

    for _ in range(MAX_ASKS):
        trial = study.ask(dists)
        genome = r.space.canonical(trial.params)
        if taken is None or r.space.key(genome) not in taken:
            return genome  # left running: the constant liar counts it while the next one is asked
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return ga.make_new(genome, taken, r.space, 1.0, r.stream(r.number, 2, 1))


def sampler(r: Round):
    import optuna

    startup = sum(1 for row in r.history if row["round"] == 0)  # round 0 is the random start-up
    return optuna.samplers.TPESampler(seed=r.int_seed(r.number, 2), n_startup_trials=startup, constant_liar=True)


def propose(r: Round, n: int, taken: set | None, make_sampler=sampler) -> list[dict]:
    study, dists = study_of(r, make_sampler(r))
    out = []
    for _ in range(n):
        genome = ask_new(study, dists, r, taken)
        if taken is not None:
            taken.add(r.space.key(genome))
        out.append(genome)
    return out


METHOD = Method("tpe", "TPE (Optuna)", "C2", "tpe", propose)
