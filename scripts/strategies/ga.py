"""The report's genetic algorithm: children of two distinct elites by single-point crossover at the
middle of the gene list, then threshold mutation (ga.py's operators)."""

from __future__ import annotations

import ga
from strategies import Method, Round


def propose(r: Round, n: int, taken: set | None) -> list[dict]:
    """Generation r.number's children; they draw from the generation's own stream [seed, g]."""
    s = r.spec
    return ga.children(
        r.elites, r.space, n, s["point"], s["threshold"], r.stream(r.number), taken, f"gen{r.number - 1}"
    )


METHOD = Method("ga", "GA", "C0", "child", propose, report_ga=True)
