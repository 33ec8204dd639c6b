"""The rules' conda environments pin what requirements.txt pins."""

import re

import pytest
import yaml

from helpers import ROOT


def requirements():
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
            out[name] = line
    return out


@pytest.mark.parametrize("env", sorted(p.name for p in (ROOT / "envs").glob("*.yaml")))
def test_env_pins_match_requirements(env):
    spec = yaml.safe_load((ROOT / "envs" / env).read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = requirements()
    assert pip, env
    for line in pip:
        name = re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
        assert name in reqs, f"{env}: {name} is not in requirements.txt"
        assert line == reqs[name], f"{env}: {line!r} differs from requirements.txt's {reqs[name]!r}"


def test_every_rule_env_exists():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for rel in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / rel).resolve().is_file(), f"{smk.name}: {rel}"
