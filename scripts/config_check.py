"""The one validation path of the workflow config: the schema, then the checks it cannot express.

    python scripts/config_check.py config/config.yaml [more.yaml ...]   (later files override)
    python scripts/config_check.py --table      the markdown table of every key, from the schema

The Snakefile calls `check_config` before any job; every error is one line naming its key.
`--config ga='{generations: 8}'` reaches Snakemake as strings ('8'): values the schema wants as
numbers or booleans, and a gene's choices of a number or boolean setting, are converted first, so
command-line overrides of nested keys work. Paths (outdir, data.data_dir) are checked against the
file system here too (a name too long, a file on the way), before Snakemake builds its DAG.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shlex
import sys
from pathlib import Path

import yaml

import formats
from archs import ARCHS
from data import split_error
from search import SEARCH_SEED_STRIDE, budget, largest, search_seed, smallest, spec_from_config
from settings import BY_NAME, MAX_SEED
from util import DataError

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"
_YAML_TYPES = {"integer": int, "number": (int, float), "boolean": bool}


class ConfigError(ValueError):
    pass


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _resolve(schema: dict, root: dict) -> dict:
    return root["$defs"][schema["$ref"].split("/")[-1]] if "$ref" in schema else schema


def _accepts(node: dict, root: dict, value) -> bool:
    import jsonschema

    return jsonschema.Draft202012Validator({**node, "$defs": root.get("$defs", {})}).is_valid(value)


def _child(node: dict, key, root: dict) -> dict:
    """The schema of `key` inside `node`, looking through $ref and the branches of a oneOf."""
    node = _resolve(node, root)
    for branch in node.get("oneOf", []):
        found = _child(branch, key, root)
        if found:
            return found
    if isinstance(key, int):
        return node.get("items", {})
    props = node.get("properties", {})
    if key in props:
        return props[key]
    extra = node.get("additionalProperties", {})
    return extra if isinstance(extra, dict) else {}


def _yaml_value(text: str):
    """The YAML value of a `--config` string; YAML 1.1 (PyYAML) reads 1e-07, without a dot, as text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _types(node: dict, root: dict) -> set[str]:
    """The JSON types the schema names here (in its oneOf branches too)."""
    node = _resolve(node, root)
    types = [node.get("type"), *(_resolve(b, root).get("type") for b in node.get("oneOf", []))]
    return {t for x in types for t in (x if isinstance(x, list) else [x]) if t}


def _wants_integer(node: dict, root: dict) -> bool:
    """The schema takes an integer here and no other number."""
    flat = _types(node, root)
    return "integer" in flat and "number" not in flat


def _typed_as_wanted(node: dict, root: dict, value) -> bool:
    """`value` has a type the schema names here other than text: the schema's own message about it
    (`0 is less than the minimum of 1`) is then the one to show, not `'0' is not of type 'integer'`."""
    wanted = sorted(_types(node, root) - {"string"})
    return bool(wanted) and _accepts({"type": wanted}, root, value)


def coerce_strings(config, schema: dict, root: dict | None = None):
    """`--config` passes nested values as text ('0.01', '1e-07', 'null', 'true', '{low: 1}'): a
    string the schema refuses where it accepts the string's YAML value becomes that value. A whole
    float where the schema wants an integer (1e4, 1.0e+4) becomes that integer: the scripts' flags
    take `10000`, not `10000.0`."""
    root = root or schema
    if isinstance(config, dict):
        return {k: coerce_strings(v, _child(schema, k, root), root) for k, v in config.items()}
    if isinstance(config, list):
        return [coerce_strings(v, _child(schema, i, root), root) for i, v in enumerate(config)]
    if isinstance(config, str) and schema and not _accepts(schema, root, config):
        value = _yaml_value(config)
        value = value if isinstance(value, str) else coerce_strings(value, schema, root)
        return value if _accepts(schema, root, value) or _typed_as_wanted(schema, root, value) else config
    if isinstance(config, float) and config.is_integer() and schema and _wants_integer(schema, root):
        return int(config)
    return config


def coerce_choices(config: dict) -> None:
    """A gene's choices as its setting's type (scripts/settings.py): `--config` gives them as text
    ('true', '64'), and the schema, where choices may be of any setting's type, cannot tell. A gene's
    keys set to null are dropped: Snakemake merges config files key by key, so a file that turns
    config.yaml's `lr: {low, high, log}` into `lr: {choices: [...]}` nulls low, high and log."""
    ga = config.get("ga")
    genes = ga.get("genes") if isinstance(ga, dict) else None
    if not isinstance(genes, dict):
        return  # not a mapping: the schema names it
    for name, gene in genes.items():
        if isinstance(gene, dict):  # a later file nulls an earlier file's keys to change the gene's kind
            for key in [k for k, v in gene.items() if v is None]:
                del gene[key]
        setting = BY_NAME.get(name)
        if setting is not None and isinstance(gene, dict) and isinstance(gene.get("choices"), list):
            gene["choices"] = [_as_kind(c, setting.kind) for c in gene["choices"]]


def _as_kind(choice, kind: type):
    """A choice given as text, as its YAML value where that is of type `kind` (an int for a float)."""
    if not isinstance(choice, str) or kind not in (bool, int, float):
        return choice
    value = _yaml_value(choice)
    if kind is bool:
        return value if isinstance(value, bool) else choice
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if number and (kind is float or isinstance(value, int)) else choice


def check_finite(config, path=()) -> None:
    """No inf or nan anywhere (YAML's .inf/.nan): every bound and rate must be a real number."""
    if isinstance(config, dict):
        for k, v in config.items():
            check_finite(v, (*path, k))
    elif isinstance(config, list):
        for i, v in enumerate(config):
            check_finite(v, (*path, i))
    elif isinstance(config, float) and not math.isfinite(config):
        raise ConfigError(f"config key {_key(path)}: must be a finite number, got {config}")


def check_schema(config: dict, schema: dict) -> None:
    """JSON-schema validation with a one-line message naming the key (Snakemake's is a dump)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"config key {_key(error.absolute_path)}: {error.message}")


def normal_outdir(outdir: str) -> str:
    """outdir without trailing slashes or dots; never empty, '.', the root of the file system, a file,
    a path through a file or one with a name too long."""
    out = os.path.normpath(outdir) if outdir else ""
    if out in ("", ".", os.sep, "//"):
        raise ConfigError(f"config key outdir: {outdir!r} is not a folder of its own (use e.g. 'results')")
    check_folder_path("outdir", out)
    return out


def _nearest_existing(key: str, path: str) -> str:
    """The nearest of `path` (absolute) and the folders above it that exists: below it a name is
    missing, too long or behind a file (the root always exists)."""
    while True:
        try:
            os.stat(path)
            return path
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                raise ConfigError(f"config key {key}: {path}: {e.strerror}") from None  # EACCES, ELOOP, ESTALE
        path = os.path.dirname(path)


def check_names(key: str, path: str) -> str:
    """No name on `path` longer than its file system takes (PC_NAME_MAX, else 255 bytes): Snakemake
    and the scripts would each stop at it with a traceback; no brace, which Snakemake reads as a
    wildcard in the paths made from it. Returns the nearest part that exists."""
    if "{" in path or "}" in path:
        raise ConfigError(f"config key {key}: {path!r} holds a brace, which Snakemake reads as a wildcard")
    full = os.path.abspath(path)
    found = _nearest_existing(key, full)
    try:
        limit = os.pathconf(found, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for name in Path(os.path.relpath(full, found)).parts:
        if len(os.fsencode(name)) > limit:
            raise ConfigError(
                f"config key {key}: the name {name[:16]}... in {path!r} is {len(os.fsencode(name))} bytes long "
                f"(the file system takes at most {limit})"
            )
    return found


def check_folder_path(key: str, path: str) -> None:
    """A folder the workflow makes: no file at it or on its way, no name too long. Checked here:
    Snakemake, building its DAG, would end in a traceback."""
    full = os.path.abspath(path)
    found = check_names(key, path)
    if not os.path.isdir(found):
        shown = found if os.path.isabs(path) else os.path.relpath(found)  # as the user wrote it
        where = "is a file" if found == full else f"goes through {shown!r}, a file"
        raise ConfigError(f"config key {key}: {path!r} {where}, not a folder")


def check_seeds(config: dict) -> None:
    """The final seeds (search.final_seed_range) and each repeat's search seed (search.search_seed) fit
    in a seed, and no final seed is another repeat's search seed."""
    seed, repeats, finals = config["train"]["seed"], config["search"]["repeats"], config["final"]["seeds"]
    if repeats > 1 and repeats * finals >= SEARCH_SEED_STRIDE:  # one repeat: no search seed past train.seed
        raise ConfigError(
            f"config key final.seeds: search.repeats x final.seeds ({repeats * finals}) reaches "
            f"{SEARCH_SEED_STRIDE}, the seed offset of repeat 1's search"
        )
    top = seed + max(repeats * finals, search_seed(0, repeats - 1))
    if top > MAX_SEED:
        raise ConfigError(
            f"config key train.seed: train.seed + the largest final or search seed offset of "
            f"{repeats} repeat(s) ({top}) exceeds {MAX_SEED}"
        )


def train_images(config: dict) -> int | None:
    """How many training images the data holds (before the validation split), where known before it
    is prepared (generated data) or from the prepared folder's meta.json of a download; None otherwise
    (the prepare step checks it then, before any training job)."""
    data = config["data"]
    if data["dataset"] == "synthetic":
        return data["synthetic"]["train"]
    meta = Path(config["outdir"], "data", "prepared", data["dataset"], "meta.json")
    if data["data_dir"] and meta.exists() and not prepared_since(meta, Path(data["data_dir"])):
        return None  # the user's folder itself changed since: Snakemake prepares it again, and counts
    if meta.exists():
        try:
            return formats.read_record("meta", meta)["train_size"]  # its contract, as every reader's
        except (OSError, ValueError, DataError):
            return None  # a bad meta.json is named (file and field) where the workflow reads it next
    return None


def newest_folder(data_dir: Path) -> Path:
    """The folder of data_dir changed last (links followed, each folder once, in a fixed order): adding,
    removing or renaming an image changes its folder's mtime."""
    newest, when, seen = Path(data_dir), Path(data_dir).stat().st_mtime, set()
    for root, dirs, _ in os.walk(data_dir, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link loop, or a folder linked twice
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        t = Path(root).stat().st_mtime
        if t > when:
            newest, when = Path(root), t
    return newest


def prepared_since(meta: Path, data_dir: Path) -> bool:
    """Whether the prepared data (its meta.json) is newer than every folder of data_dir. Snakemake
    compares the prepare step's input, data_dir, by its own mtime only: a folder inside it changed
    since (an image added to a class) is an error naming it; data_dir itself changed is Snakemake's
    to prepare again (False)."""
    try:
        written = meta.stat().st_mtime
        newest = newest_folder(data_dir)
        if newest.stat().st_mtime <= written:
            return True
        if Path(data_dir).stat().st_mtime > written:
            return False
    except OSError:
        return False
    raise ConfigError(
        f"config key data.data_dir: {newest} changed after the data was prepared ({meta}), and Snakemake "
        f"sees only the folder's own changes: run `touch {shlex.quote(str(data_dir))}` to prepare it again"
    )


def check_data(config: dict, spec: dict) -> None:
    data, train = config["data"], config["train"]
    data_dir = data["data_dir"]
    if data_dir:
        check_names("data.data_dir", data_dir)
    if data_dir and not os.path.isdir(data_dir):
        raise ConfigError(f"config key data.data_dir: folder {data_dir!r} does not exist")
    if data_dir and data["dataset"] == "synthetic":
        raise ConfigError("config key data.data_dir: must be empty for dataset synthetic (the workflow generates it)")
    if not data_dir and data["dataset"] == "folder":
        raise ConfigError("config key data.data_dir: dataset folder reads your images from it (train/, test/)")
    if data["dataset"] != "folder" and data["image_size"] != 32:
        raise ConfigError(
            f"config key data.image_size: {data['image_size']} applies to dataset folder only "
            f"({data['dataset']} images are 32x32)"
        )
    n_train = train_images(config)
    batch = max([train["batch_size"], *largest(spec, "batch_size")])
    error = split_error(n_train, data["val_size"], train["max_train"], batch) if n_train else None
    if error:
        raise ConfigError(f"config key {error[0]}: {error[1]}")
    for g in spec["space"].named("max_train"):  # a cap below the batch gives no step, whatever the data holds
        caps = list(g.choices) if g.kind == "categorical" else [g.low or g.low + g.step]
        low = min([c for c in caps if c > 0], default=0)
        genome_batch = max(largest(spec, "batch_size") or [train["batch_size"]])  # what a genome trains with
        if 0 < low < genome_batch:
            key = bound_key(g, "low")
            raise ConfigError(f"config key {key}: a cap of {low} training images is below the batch of {genome_batch}")


def bound_key(gene, end: str = "high") -> str:
    """The config key that holds a gene's `end` (low or high) value: its choices where it has them."""
    return f"ga.genes.{gene.name}.{'choices' if gene.kind == 'categorical' else end}"


def check_genes(config: dict, spec: dict) -> None:
    """The space's genes against the registry of architectures and the schedule's settings."""
    archs = [config["train"]["arch"]]
    for gene in spec["space"].named("arch"):
        bad = [a for a in gene.choices if a not in ARCHS]
        if bad:
            raise ConfigError(f"config key ga.genes.arch.choices: unknown architecture(s) {', '.join(bad)}")
        archs = list(gene.choices)
    check_shortcut_gene(spec, archs)
    check_early_stop(config, spec)
    check_space_size(spec)


def check_space_size(spec: dict) -> None:
    """With unique genomes, round 0 needs a population of distinct genomes (an error), and every method
    the budget's (a note: the searches then repeat genomes, each named in its step's log)."""
    size, needed = spec["space"].size(), budget(spec)
    if not spec["unique"] or size >= needed:
        return
    what = f"ga.genes: the space holds {size} distinct genomes"
    if size < spec["population"]:
        raise ConfigError(
            f"config key {what}, fewer than ga.population ({spec['population']}): widen a gene, or set ga.unique: false"
        )
    print(f"note: {what}, fewer than the {needed} every method trains: they will repeat genomes", file=sys.stderr)


def check_shortcut_gene(spec: dict, archs: list) -> None:
    """A shortcut gene only where every net of the search takes the option (a CIFAR resnetN): a net that
    fixes its own (the ImageNet ResNets' projections, the plain nets' none) would train one net under a
    run id per value of the gene, the budget spent twice (settings.effective records the same)."""
    fixed = [a for a in archs if ARCHS[a].shortcut != "config"]
    if "shortcut" in spec["space"].names and fixed:
        raise ConfigError(
            f"config key ga.genes.shortcut: a net of the search ({', '.join(archs)}) takes no shortcut option "
            f"({', '.join(fixed)}): its genomes would train one net under a run id per value; search the shortcut "
            "over CIFAR resnetN nets only"
        )


def check_early_stop(config: dict, spec: dict) -> None:
    """Early stopping stops only a search's new genomes of a round >= 1 (search.NEVER_STOPPED; never the
    baseline or a final run): its epoch must be below the fewest epochs such a genome trains, the epochs
    gene's smallest where epochs is searched (train.epochs is then the baseline's only)."""
    stop = config["ga"]["early_stop"]
    gene = smallest(spec, "epochs")
    fewest, source = (gene[0], "ga.genes.epochs' smallest") if gene else (config["train"]["epochs"], "train.epochs")
    if stop and stop["epoch"] >= fewest:
        raise ConfigError(
            f"config key ga.early_stop.epoch: {stop['epoch']} must be below the fewest epochs a search run "
            f"trains ({source}: {fewest})"
        )


def check_final_lr(config: dict, spec: dict) -> None:
    """The one-cycle schedule ends at lr / (div_factor x final_div): at most its peak, lr, for the
    baseline's fixed values and for the genes' smallest (the schedule figure checks that lr peaks)."""
    train = config["train"]
    pairs = [(train["div_factor"], train["final_div"], "train.final_div")]
    genes = spec["space"].named("final_div") or spec["space"].named("div_factor")
    if genes:
        div = (smallest(spec, "div_factor") or [train["div_factor"]])[0]
        pairs.append((div, (smallest(spec, "final_div") or [train["final_div"]])[0], bound_key(genes[0], "low")))
    for div, final, key in pairs:
        if div * final < 1:
            raise ConfigError(
                f"config key {key}: div_factor x final_div = {div * final:g} is below 1: the schedule would end "
                "above its peak lr"
            )


def check_augment(config: dict, spec: dict) -> None:
    """Cutout's square and the crop padding below the image side (data.image_size: 32 for CIFAR and the
    generated data, an image folder's resize): at the side or more a Cutout square can zero a whole
    image (every image from about twice the side) and a crop of the padded image can hold padding only.
    The fixed train.* values too: the baseline and the LR range test train them whatever is searched."""
    side = config["data"]["image_size"]
    why = {"cutout": "a Cutout square that large can zero a whole image", "crop_pad": "a crop can hold padding only"}
    for name, reason in why.items():
        genes = spec["space"].named(name)
        values = [(f"train.{name}", config["train"][name]), *zip(map(bound_key, genes), largest(spec, name))]
        for key, value in values:
            if value >= side:
                raise ConfigError(f"config key {key}: {value} must be below the image side ({side} px): {reason}")


def check_optimizer(config: dict, spec: dict) -> None:
    """AdamW's beta1 follows the momentum curve: its fixed ends must be < 1 wherever AdamW can train
    (train.optimizer, or a choice of the optimizer gene). Genomes whose mom or max_momentum gene
    reaches 1 stay allowed: such a run is not trained and gets status invalid, fitness 0."""
    adamw = config["train"]["optimizer"] == "adamw" or any(
        "adamw" in g.choices for g in spec["space"].named("optimizer")
    )
    train, names = config["train"], spec["space"].names
    fixed = [(f"train.{k}", train[k]) for k in ("mom", "max_momentum") if k not in names]  # every genome's
    if train["optimizer"] == "adamw":  # the baseline trains with train.optimizer and max_momentum
        fixed = [("train.max_momentum", train["max_momentum"]), ("baseline.mom", config["baseline"]["mom"])]
        fixed += [("train.mom", train["mom"])] if "mom" not in names else []
    for key, value in fixed if adamw else []:
        if value >= 1:
            raise ConfigError(
                f"config key {key}: {value} is not a valid AdamW beta1 where AdamW trains (train.optimizer, "
                "ga.genes.optimizer; must be < 1)"
            )


def check_archs(config: dict) -> None:
    """Architectures by name from the registry (archs.py), not a copy of it in the schema."""
    arch = config["train"]["arch"]
    if arch not in ARCHS:
        raise ConfigError(f"config key train.arch: unknown architecture {arch!r}; valid names: {', '.join(ARCHS)}")
    for depth in config["degradation"]["depths"]:
        if f"plain{depth}" not in ARCHS:
            cifar = sorted({int(a[5:]) for a in ARCHS if a.startswith("plain")})
            raise ConfigError(f"config key degradation.depths: {depth} is not one of the CIFAR depths {cifar}")


def check_ranges(config: dict) -> None:
    lo, hi = config["lr_find"]["start_lr"], config["lr_find"]["end_lr"]
    if not lo < hi:
        raise ConfigError(f"config key lr_find.start_lr: {lo} must be below lr_find.end_lr ({hi})")
    if config["lr_find"]["steps"] < 40:  # benchmarks/lr_find_noise.py: 16 in 300 flat curves pass at 20
        print("note: lr_find.steps below 40: the LR finder may take noise for a descent", file=sys.stderr)
    d = config["degradation"]
    late = [m for m in d["milestones"] if m >= d["iterations"]]
    if late:
        raise ConfigError(
            f"config key degradation.milestones: {late} not below degradation.iterations ({d['iterations']})"
        )


def check_config(config: dict) -> dict:
    """Validate the config in place (schema defaults filled in); return it. Raises ConfigError."""
    schema = yaml.safe_load(SCHEMA.read_text())
    if "random_search" in config:
        raise ConfigError("config key random_search: replaced by search.methods (e.g. search: {methods: [ga, random]})")
    config.update(coerce_strings(config, schema))
    coerce_choices(config)
    check_finite(config)
    check_schema(config, schema)
    from snakemake.utils import validate  # fills in the schema's defaults

    validate(config, str(SCHEMA))
    config["outdir"] = normal_outdir(config["outdir"])
    try:
        spec = spec_from_config(config)
    except ValueError as e:
        raise ConfigError(f"config key {e}") from None
    check_seeds(config)
    check_archs(config)
    check_genes(config, spec)
    check_data(config, spec)
    check_augment(config, spec)
    check_final_lr(config, spec)
    check_ranges(config)
    check_optimizer(config, spec)
    return config


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _at(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"  # PyYAML counts from 0


def yaml_problem(e: yaml.YAMLError, text: str) -> str:
    """A YAML error in one line, with where it is (1-based): PyYAML's first line alone is often only
    its context ('while parsing a flow node'), without the problem or its line."""
    mark = getattr(e, "problem_mark", None)
    if mark is not None:
        context = getattr(e, "context", None)
        where = getattr(e, "context_mark", None)
        around = f" ({context} from {_at(where)})" if context and where is not None else ""
        return f"unreadable YAML at {_at(mark)}: {e.problem}{around}"
    if isinstance(e, yaml.reader.ReaderError) and isinstance(e.position, int):  # a control character
        line = text.count("\n", 0, e.position)
        column = e.position - (text.rfind("\n", 0, e.position) + 1)
        shown = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        return f"unreadable YAML at line {line + 1}, column {column + 1}: {e.reason} ({shown})"
    return f"unreadable YAML ({str(e).splitlines()[0]})"


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML as Snakemake reads it, but a key given twice in one mapping is an error: Snakemake (and
    PyYAML) keep the last silently, so a second `train:` block would undo the first."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden here
                continue
            key = "=" if key_node.tag == "tag:yaml.org,2002:value" else self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                continue  # a list or mapping as a key: PyYAML's own error names it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def unique_pairs(path, pairs: list) -> dict:
    """A JSON object whose keys are distinct (json, as PyYAML, keeps a repeated key's last value)."""
    keys = [k for k, _ in pairs]
    twice = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if twice is not None:
        raise ConfigError(f"{path}: key {twice!r} given twice")
    return dict(pairs)


def _kind(value) -> str:
    """What a YAML document is, where it must be a mapping."""
    if value is None:
        return "empty or null"
    for kind, name in ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "list")):
        if isinstance(value, kind):
            return f"a YAML {name}"
    return f"a YAML {type(value).__name__}"  # a date, a timestamp, binary data


def read_config_file(path) -> dict:
    """One config file as its mapping of keys. Anything else is a ConfigError naming the file, as
    Snakemake 9 refuses it too ('Config file must be given as JSON or YAML with keys at top level'):
    an empty file (or one of comments only, or null), a list, a scalar."""
    try:
        text = Path(path).read_text(encoding="utf-8")  # as Snakemake opens it
    except OSError as e:
        raise ConfigError(f"{path}: unreadable config ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: unreadable config (not UTF-8 text: byte {e.start} is {e.object[e.start]:#04x})"
        ) from None
    try:
        config = json.loads(text, object_pairs_hook=lambda pairs: unique_pairs(path, pairs))  # as Snakemake: JSON first
    except ConfigError:
        raise
    except (ValueError, RecursionError):  # not JSON (or past its digit or nesting limits): YAML, as Snakemake
        try:
            config = yaml.load(text, Loader=UniqueKeyLoader)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: {yaml_problem(e, text)}") from None
        except (ValueError, RecursionError) as e:  # an integer past Python's 4300 digits, nesting too deep
            raise ConfigError(f"{path}: unreadable config ({str(e).splitlines()[0] or type(e).__name__})") from None
    try:
        json.dumps(config, default=str)  # an alias inside its own anchor (a: &a [*a]) loops every reader
    except (ValueError, RecursionError):
        raise ConfigError(f"{path}: unreadable config (a value that contains itself, or nesting too deep)") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a mapping of config keys ({_kind(config)})")
    return config


def load_config(paths, overrides: dict | None = None) -> dict:
    """The workflow's config file (the first) with the later ones (Snakemake's --configfile) and
    `overrides` (its --config) over it, checked; merged in Snakemake's order (Workflow.configfile:
    the command line's config first, the workflow's merged into it, then the command line's again),
    so keys new to the workflow's file come after the command line's, as in a gene list, the
    crossover's order."""
    over = {}
    for path in paths[1:]:
        over = merge(over, read_config_file(path))
    over = merge(over, overrides or {})
    return check_config(merge(merge(over, read_config_file(paths[0])), over) if paths else over)


def _rows(node: dict, prefix: str, root: dict):
    """(key, default, description) of every documented key, depth first (nodes with a description
    are one row; objects without one are opened)."""
    node = _resolve(node, root) if "$ref" in node and "description" not in node else node
    if "properties" in node and ("description" not in node or not prefix):
        for key, child in node["properties"].items():
            yield from _rows(child, f"{prefix}.{key}" if prefix else key, root)
        return
    yield prefix, node.get("default", _resolve(node, root).get("default", "")), node.get("description", "")


def parameter_table(schema: dict | None = None) -> str:
    """The config's keys as the markdown table of config/README.md (the catalog shows it)."""
    schema = schema or yaml.safe_load(SCHEMA.read_text())
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, text in _rows(schema, "", schema):
        shown = json.dumps(default) if not isinstance(default, str) else (f"`{default}`" if default else '`""`')
        lines.append(f"| `{key}` | {shown} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="*", default=["config/config.yaml"], help="config files, later ones override")
    ap.add_argument("--table", action="store_true", help="print the markdown table of every key (config/README.md)")
    args = ap.parse_args(argv)
    if args.table:
        print(parameter_table(), end="")
        return 0
    try:
        load_config(args.configs)
    except ConfigError as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 1
    print("config ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
