"""Writes ga_regression.json: the populations the three-gene GA made before the search space became
data (commit 8f6b174), on the fixed fitness landscape of tests/test_ga.py. Kept to show how the file
was made; it runs that commit's scripts/ga.py, not today's:

    git worktree add /tmp/old-ga 8f6b174
    python tests/data/make_ga_regression.py /tmp/old-ga/scripts > tests/data/ga_regression.json
"""

import json
import math
import sys

import numpy as np
import yaml

sys.path.insert(0, sys.argv[1])
import ga  # noqa: E402  (the old module, from the path given)

ROOT = __file__.rsplit("/tests/", 1)[0]


def landscape(p):
    return round(max(0.0, 1 - abs(math.log10(p["lr"]) + 2.5) / 4 - abs(p["wd"] - 0.01) - abs(p["mom"] - 0.9) / 2), 3)


def generations(spec_cfg):
    s = ga.spec_from_json(json.dumps(spec_cfg))
    pop = [
        {**g, "origin": "init", "parents": ""}
        for g in ga.init_population(s["genes"], s["population"], ga.generation_rng(s["seed"], 0), s["unique"])
    ]
    out, seen = [], set()
    for g in range(s["generations"]):
        out.append([{k: p[k] for k in ("lr", "wd", "mom", "origin", "parents")} for p in pop])
        if g + 1 == s["generations"]:
            break
        scored = [{**p, "individual": i, "fitness": landscape(p)} for i, p in enumerate(pop)]
        seen |= {ga.genome_key(p) for p in scored}
        rng = ga.generation_rng(s["seed"], g + 1)
        pop = ga.next_generation(
            scored,
            s["genes"],
            s["population"],
            s["elites"],
            s["point"],
            s["threshold"],
            rng,
            g + 1,
            set(seen) if s["unique"] else None,
        )
    random = ga.random_search(
        [{k: p[k] for k in ga.GENES} for p in out[0]],
        s["genes"],
        ga.ga_budget(s),
        np.random.default_rng([s["seed"], 0, ga.RANDOM_STREAM]),
    )
    return {"spec": spec_cfg, "generations": out, "random": random}


def ga_section(name):
    with open(f"{ROOT}/config/{name}.yaml") as f:
        return yaml.safe_load(f)["ga"]


default = {k: v for k, v in ga_section("config").items() if k != "early_stop"}
smoke = {k: v for k, v in ga_section("smoke").items() if k != "early_stop"}
cases = {"default": default, "smoke": smoke, "plain": {**default, "unique": False}}
json.dump({name: generations(cfg) for name, cfg in cases.items()}, sys.stdout, indent=1)
