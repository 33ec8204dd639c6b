"""Random search, the control (Bergstra & Bengio 2012): uniform draws from every gene's distribution,
each new. Its draws come from one stream for the whole search, [seed, 0, 1], continued round after
round (replayed from the start each time: cheap), so it draws what a one-shot random search of the
same budget would."""

from __future__ import annotations

import ga
from strategies import Method, Round


def propose(r: Round, n: int, taken: set | None) -> list[dict]:
    first = [row for row in r.history if row["round"] == 0]
    total = len(first) + n * r.number
    draws = ga.init_population(r.space, total, r.stream(0, 1), unique=taken is not None, first=first)
    return draws[-n:]


METHOD = Method("random", "random search", "C1", "random", propose)
