"""Which runs a suite holds: suite config (configs/<suite>.yaml) -> run configs keyed by their run path.

A run path is ``<dataset>/<method>[-<variant>]/seed<k>`` under ``runs/<suite>/``. The Snakefile asks this
module for the runs and their configs; it holds no paper numbers itself (those stay in the presets).
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gpbench.paper import FIGURE2_METHODS, FIGURE4_DATASET, FIGURE4_METHODS, FIGURE4_SUBSET, TABLE1_METHODS, preset
from gpbench.training.config import resolve
from gpbench.suite.costfile import projected_seconds, signature
from gpbench.data import get_dataset
from gpbench.errors import ConfigError
from gpbench.metrics import METRICS
from gpbench.training.rundir import run_path
from gpbench.penalties.schedules import is_number
from gpbench.yamlio import read_yaml


GROUPS = ("replication", "flex", "figure4", "architectures", "random_architectures")
RANDOM_LABEL = "random"                                          # run label <method>-random<k>
TIME_MATCHED = "time-matched"                                    # ... and ns-gan-random<k>-time-matched
# Names that become run paths, Snakemake wildcards and shell words: letters, digits, "." and "-", starting with a
# letter or digit ("_" separates the fields of sample file names). No quote, "$", parenthesis, backtick, space or
# slash can reach a job's command.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


# What to change when two runs of a group get the same path.
DUPLICATE_ADVICE = {
    "replication": "list each dataset and method once across the replication groups (or give the groups another "
                   "arch)",
    "flex": "give flex variants distinct names",
    "figure4": "list each method once in figure4.methods",
    "architectures": "list each row once in architectures.rows and each method once in architectures.methods",
    "random_architectures": "list each method once in random_architectures.methods",
}


# A name becomes part of file names (<dataset>_<method>-<variant>_seed<k>.png, report entries) that must stay
# under the 255-byte limit of common filesystems with room to spare.
MAX_NAME = 100


def check_name(name, key: str) -> str:
    """``name`` if it matches NAME_PATTERN and is at most MAX_NAME characters, else a ConfigError naming the key
    and what is allowed."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{key}: {name!r} is not allowed as a name; use letters, digits, '.' and '-', "
                          "starting with a letter or digit")
    if len(name) > MAX_NAME:
        raise ConfigError(f"{key}: {name[:40]}... is {len(name)} characters; a name becomes part of file names, "
                          f"keep it to {MAX_NAME}")
    return name


@dataclass(frozen=True)
class Run:
    group: str                   # "replication", "flex" or "figure4"
    dataset: str
    method: str
    variant: str | None
    seed: int
    config: dict = field(compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.method}-{self.variant}" if self.variant else self.method

    @property
    def path(self) -> str:
        return run_path(self.dataset, self.label, self.seed)


def _merge(base: dict, update: dict) -> dict:
    """Snakemake's config merge: nested mappings are merged key by key, everything else replaced."""
    merged = dict(base)
    for key, value in update.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def load_suite(paths: list[str | Path], overrides: dict | None = None) -> dict:
    """The suite config as Snakemake merges ``--configfile`` files and ``--config`` values, each file read
    strictly (duplicate keys refused, ``1e-4`` a number)."""
    suite: dict = {}
    for path in paths:
        content = read_yaml(path, "suite config")
        if not isinstance(content, dict):
            raise ConfigError(f"suite config {path} must hold a mapping of keys to values")
        suite = _merge(suite, content)
    suite = _merge(suite, dict(overrides or {}))
    check_suite_schema(suite, ", ".join(map(str, paths)))
    return suite


SCHEMA = Path(__file__).resolve().parents[2] / "configs" / "schema.yaml"      # the Snakefile validates against it


def check_suite_schema(suite: dict, where: str) -> None:
    """The suite against configs/schema.yaml, so every verb that reads a suite (cost, reproduce) refuses what the
    pipeline refuses, in one line naming the key (skipped where the package is installed without configs/)."""
    if not SCHEMA.is_file():
        return
    import jsonschema

    validator = jsonschema.Draft202012Validator(read_yaml(SCHEMA, "suite schema"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(suite))
    if error is not None:
        key = ".".join(map(str, error.absolute_path)) or "suite"
        allowed = (f"; allowed: {', '.join(error.schema.get('properties', {}))}"
                   if error.validator == "additionalProperties" else "")
        raise ConfigError(f"{where}: {key}: {error.message}{allowed}")


def load_variants(suite: dict, base: Path = Path(".")) -> dict[str, dict]:
    """The penalty sweep's (``flex:``) variants: ``flex.variants`` inline, or the file ``flex.variants_file``."""
    flex = suite.get("flex") or {}
    if "variants" in flex:
        return flex["variants"]
    path = base / flex.get("variants_file", "configs/flex.yaml")
    content = read_yaml(path, "flex.variants_file")
    if not isinstance(content, dict) or not isinstance(content.get("variants"), dict):
        raise ConfigError(f"flex.variants_file: {path} must hold a mapping 'variants: {{name: penalty}}'")
    return content["variants"]


def inherit_lambda(penalty: dict, config: dict) -> dict:
    """A flex variant that does not set lambda takes the base method's preset lambda for the run's dataset
    (toys 0.1, images 10 for wgan-gp), so that the sweep compares penalties at the strength the paper used."""
    penalty = copy.deepcopy(penalty)
    if isinstance(penalty, dict) and "lambda" not in penalty and penalty.get("kind") != "none":
        arch = config.get("arch") or get_dataset(config["dataset"]).default_arch
        base = preset(arch, config["method"]).get("penalty")
        if base and "lambda" in base:
            penalty["lambda"] = base["lambda"]
    return penalty


def lambda_variants(variants: dict[str, dict], grid: dict | None) -> dict[str, dict | None]:
    """The penalty sweep's variants with ``flex.lambdas`` applied: a variant listed there runs once per lambda, as
    ``<name>-lambda<value>``; the others keep their own lambda or inherit the preset's (value None)."""
    grid = grid or {}
    expanded: dict[str, dict | None] = {}
    for name in variants:
        check_name(name, "flex.variants")
    for name in grid:
        if name not in variants:
            raise ConfigError(f"flex.lambdas: {name!r} is not a flex variant; variants: {', '.join(variants)}")
        if not isinstance(variants[name], dict) or "lambda" in variants[name] or \
                variants[name].get("kind") == "none":
            raise ConfigError(f"flex.lambdas: variant {name!r} sets its own lambda (or has none); grid only "
                              "variants without one")
    for name, penalty in variants.items():
        if name not in grid:
            expanded[name] = penalty
            continue
        for value in grid[name]:
            if not is_number(value) or value < 0:
                raise ConfigError(f"flex.lambdas.{name}: expected numbers >= 0, got {value!r}")
            expanded[f"{name}-lambda{value:g}"] = {**penalty, "lambda": value}
    return expanded

def check_eval_metrics(evaluation: dict) -> None:
    """``eval.metrics``: every metric applies to its dataset (caught before any job, not after training)."""
    for dataset, metrics in (evaluation.get("metrics") or {}).items():
        allowed = get_dataset(dataset).metrics
        for metric in metrics or []:
            if metric not in allowed:
                raise ConfigError(f"eval.metrics.{dataset}: {metric!r} does not apply to {dataset}; allowed: "
                                  f"{', '.join(allowed)}")


def random_variant(index: int) -> str:
    return f"{RANDOM_LABEL}{index:03d}"


def _architecture_runs(suite: dict, common: dict, seeds: list[int]) -> list[Run]:
    """Figure 2 (``architectures``: each row under each method) and Table 1 (``random_architectures``: draw k of
    the sweep under each method); one preset per method, as the paper."""
    from gpbench.models.zoo import FIGURE2_ROWS

    runs: list[Run] = []
    grid = suite.get("architectures")
    if grid:
        rows = grid.get("rows", FIGURE2_ROWS)
        deciding = chosen_names(grid.get("deciding_rows", []), rows, "architectures.deciding_rows", "rows")
        for dataset in grid["datasets"]:
            for row in rows:
                row_seeds = grid.get("deciding_seeds", seeds) if row in deciding else grid.get("seeds", seeds)
                for method in grid.get("methods", FIGURE2_METHODS):
                    config = {**common, "method": method, "dataset": dataset, "arch": "figure2", "figure2_row": row,
                              **copy.deepcopy(grid.get("overrides", {}))}
                    runs += [Run("architectures", dataset, method, row, seed, {**config, "seed": seed})
                             for seed in row_seeds]
    sweep = suite.get("random_architectures")
    if sweep:
        for index in range(sweep["count"]):
            drawn = {"seed": sweep.get("sweep_seed", 0), "index": index, "space": sweep.get("space", "cpu")}
            for method, variant, iterations in _table1_arms(sweep, index):
                config = {**common, "method": method, "dataset": sweep["dataset"], "arch": "random",
                          "random_architecture": drawn, **copy.deepcopy(sweep.get("overrides", {}))}
                if iterations:
                    config["iterations"] = iterations
                runs += [Run("random_architectures", sweep["dataset"], method, variant, seed,
                             {**config, "seed": seed}) for seed in sweep.get("seeds", [seeds[0]])]
    return runs


def chosen_names(names: list[str], allowed, key: str, what: str) -> list[str]:
    """``names`` if each is one of ``allowed`` (the suite's own rows or variants), else one line naming it."""
    outside = [name for name in names if name not in allowed]
    if outside:
        raise ConfigError(f"{key}: {outside[0]!r} is not one of the suite's {what} ({', '.join(allowed)})")
    return names


def _table1_arms(sweep: dict, index: int) -> list[tuple[str, str, int | None]]:
    """(method, run variant, iterations or None for the sweep's) of Table 1's arms on draw ``index``: each method,
    and with ``time_matched_iterations`` the GAN again for that many iterations, so that it gets about WGAN-GP's
    training seconds (speed told apart from robustness)."""
    arms = [(method, random_variant(index), None) for method in sweep.get("methods", TABLE1_METHODS)]
    if sweep.get("time_matched_iterations"):
        arms.append((TABLE1_METHODS[0], f"{random_variant(index)}-{TIME_MATCHED}", sweep["time_matched_iterations"]))
    return arms


def plan(suite: dict, base: Path = Path(".")) -> list[Run]:
    """Every run of the suite, its config resolved (so a bad override fails before any job runs)."""
    runs: list[Run] = []
    seeds = suite["seeds"]
    check_name(suite.get("suite"), "suite")
    common = {"data_root": suite.get("data_root", "data")}
    if suite.get("penalty_modules"):                 # modules registering the suite's own penalty kinds
        common["penalty_modules"] = list(suite["penalty_modules"])
    for group in suite.get("replication", []):
        for dataset in group["datasets"]:
            for method in group["methods"]:
                config = {**common, "method": method, "dataset": dataset, **copy.deepcopy(group.get("overrides", {}))}
                if group.get("arch"):
                    config["arch"] = group["arch"]
                variant = group.get("arch")          # e.g. wgan-gp-cifar10-resnet
                for seed in group.get("seeds", seeds):
                    runs.append(Run("replication", dataset, method, variant, seed, {**config, "seed": seed}))
    flex = suite.get("flex")
    if flex:
        variants = lambda_variants(load_variants(suite, base), flex.get("lambdas"))
        key_variants = chosen_names(flex.get("key_variants", []), list(variants), "flex.key_variants", "variants")
        for dataset in flex["datasets"]:
            overrides = copy.deepcopy((flex.get("overrides") or {}).get(dataset, {}))
            for name, penalty in variants.items():
                config = {**common, "method": flex.get("base_method", "wgan-gp"), "dataset": dataset, **overrides}
                config["penalty"] = inherit_lambda(penalty, config)
                for seed in (flex.get("key_seeds", seeds) if name in key_variants else flex.get("seeds", seeds)):
                    runs.append(Run("flex", dataset, config["method"], name, seed, {**config, "seed": seed}))
    runs += _architecture_runs(suite, common, seeds)
    figure4 = suite.get("figure4")
    if figure4:
        dataset, subset = figure4.get("dataset", FIGURE4_DATASET), figure4.get("train_subset", FIGURE4_SUBSET)
        for method in figure4.get("methods", list(FIGURE4_METHODS)):
            config = {**common, "method": method, "dataset": dataset, "train_subset": subset,
                      **copy.deepcopy(figure4.get("overrides", {}))}
            for seed in figure4.get("seeds", seeds):
                runs.append(Run("figure4", dataset, method, f"subset{subset}", seed, {**config, "seed": seed}))
    check_eval_metrics(suite.get("eval") or {})
    paths = [run.path for run in runs]
    duplicated = sorted({path for path in paths if paths.count(path) > 1})
    if duplicated:
        group = next(run.group for run in runs if run.path == duplicated[0])
        raise ConfigError(f"the suite defines the run {duplicated[0]} twice; {DUPLICATE_ADVICE[group]}")
    for run in runs:
        if run.variant:
            run.config["name"] = run.label         # the run's one name, in its progress line and sample titles too
        try:
            resolve(run.config)
        except ConfigError as error:
            raise ConfigError(f"run {run.path}: {error}") from None
    return runs


GPU_SLOTS = 12            # one GPU in the `gpu_slots` resource: k runs that share a GPU ask 12 / k slots each


def gpu_slots(dataset: str, runs_per_gpu: dict | None = None) -> int:
    """The `gpu_slots` a run of ``dataset`` asks for: GPU_SLOTS / its family's runs_per_gpu (the suite's, else the
    dataset row's). Toys too: on a machine with a GPU they train on it (device auto); a cluster gives them none
    (:func:`job_resources`)."""
    info = get_dataset(dataset)
    return GPU_SLOTS // (runs_per_gpu or {}).get(info.family, info.jobs.runs_per_gpu)


def image_datasets(runs: list[Run]) -> list[str]:
    return sorted({run.dataset for run in runs if not get_dataset(run.dataset).is_toy})


TABLED_GROUPS = ("replication", "flex", "architectures", "random_architectures")   # each its own table
CLAIM_GROUPS = ("figure4", "architectures", "random_architectures")              # judged in the claims table
CURVE_GROUPS = ("replication", "flex")                                           # Figure 3 and training curves
# The report's categories in their order; a suite's report numbers those it has (report_categories).
REPORT_SECTIONS = ("Tables", "Claims", "Figure 1", "Figure 3", "Figure 4", "Training curves", "Samples", "Health",
                   "Architectures (Figure 2, Table 1)", "Dirac-GAN")


def judges_claims(suite: dict, runs: list[Run]) -> bool:
    return "figure1" in suite or any(run.group in CLAIM_GROUPS for run in runs)


def report_categories(suite: dict, runs: list[Run]) -> list[str]:
    """The report sections this suite writes, in REPORT_SECTIONS order: numbered 1, 2, 3... without gaps."""
    groups = {run.group for run in runs}
    present = {"Tables": bool(groups & set(TABLED_GROUPS)), "Claims": judges_claims(suite, runs),
               "Figure 1": "figure1" in suite, "Figure 3": bool(groups & set(CURVE_GROUPS)),
               "Figure 4": "figure4" in groups, "Training curves": bool(groups & set(CURVE_GROUPS)),
               "Samples": bool(runs), "Health": bool(runs),
               "Architectures (Figure 2, Table 1)": "architectures" in groups, "Dirac-GAN": "dirac" in suite}
    return [name for name in REPORT_SECTIONS if present[name]]


def uses_inception(dataset: str, evaluation: dict) -> bool:
    """Whether the suite's evaluation of ``dataset`` (its eval.metrics, else the dataset's defaults) needs the
    Inception network."""
    metrics = (evaluation.get("metrics") or {}).get(dataset) or get_dataset(dataset).default_metrics
    return any(METRICS[metric].features == "inception" for metric in metrics)


def train_priority(run: Run) -> int:
    """The Snakemake priority of a run's train job: longest first (LPT scheduling), so that the image runs,
    minutes to hours each, do not start after the toy runs and stretch the suite's wall-clock. Image runs
    before toy runs, then by critic updates (generator iterations x n_critic)."""
    resolved = resolve(run.config)
    image_first = 0 if get_dataset(run.dataset).is_toy else 1
    return image_first * 10**9 + resolved["iterations"] * resolved["n_critic"]


TIME_SAFETY_FACTOR, TIME_MARGIN_MINUTES = 1.5, 15


def cluster_has_gpus() -> bool:
    """False only where SLURM says its nodes have no GPU (sinfo reports no gpu GRES): image runs then ask for
    none and train on CPU; anywhere else they ask for one."""
    if shutil.which("sinfo") is None:
        return True
    try:
        report = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return report.returncode != 0 or "gpu" in report.stdout


def run_minutes(config: dict, costs: dict) -> int:
    """The time limit of a run: its projected time (measured or assumed), 1.5x, plus 15 minutes."""
    resolved = resolve(config)
    measured = costs.get(signature(resolved))
    if measured:
        seconds = projected_seconds(resolved, measured["seconds_per_iteration"], measured["dev_seconds"])
    else:
        seconds = resolved["iterations"] * get_dataset(resolved["dataset"]).jobs.assumed_seconds_per_iteration
    return math.ceil(TIME_SAFETY_FACTOR * seconds / 60) + TIME_MARGIN_MINUTES


def job_resources(run: Run, job: str, gpus_available: bool, gpu_model: str = "", costs: dict | None = None) -> dict:
    """gpu, gpu_model, mem_mb and runtime (minutes) of a run's "train" or "eval" job (the dataset row's job facts);
    toys never ask for a GPU."""
    info = get_dataset(run.dataset)
    gpu = int(info.wants_gpu and gpus_available)
    minutes = run_minutes(run.config, costs or {}) if job == "train" else info.jobs.eval_minutes
    return {"gpu": gpu, "gpu_model": gpu_model if gpu else "", "mem_mb": info.jobs.memory_mb,
            "runtime": minutes}
