"""Which runs a suite holds: suite config (configs/<suite>.yaml) -> run configs keyed by their run path.

A run path is ``<dataset>/<method>[-<variant>]/seed<k>`` under ``runs/<suite>/``. The Snakefile asks this
module for the runs and their configs; it holds no paper numbers itself (those stay in the presets).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gpbench.config import resolve
from gpbench.data import get_dataset
from gpbench.errors import ConfigError


@dataclass(frozen=True)
class Run:
    group: str                   # "replication" or "flex"
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
        return f"{self.dataset}/{self.label}/seed{self.seed}"


def load_variants(suite: dict, base: Path = Path(".")) -> dict[str, dict]:
    """The flex sweep's penalty variants: ``flex.variants`` inline, or the file ``flex.variants_file``."""
    flex = suite.get("flex") or {}
    if "variants" in flex:
        return flex["variants"]
    path = base / flex.get("variants_file", "configs/flex.yaml")
    try:
        return yaml.safe_load(path.read_text())["variants"]
    except (OSError, KeyError, TypeError) as error:
        raise ConfigError(f"flex.variants_file: cannot read variants from {path} ({error})") from None


def plan(suite: dict, base: Path = Path(".")) -> list[Run]:
    """Every run of the suite, its config resolved (so a bad override fails before any job runs)."""
    runs: list[Run] = []
    seeds = suite["seeds"]
    common = {"data_root": suite.get("data_root", "data"), "threads": suite.get("threads", 1)}
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
        variants = load_variants(suite, base)
        for dataset in flex["datasets"]:
            overrides = copy.deepcopy((flex.get("overrides") or {}).get(dataset, {}))
            for name, penalty in variants.items():
                config = {**common, "method": flex.get("base_method", "wgan-gp"), "dataset": dataset,
                          **overrides, "penalty": copy.deepcopy(penalty)}
                for seed in flex.get("seeds", seeds):
                    runs.append(Run("flex", dataset, config["method"], name, seed, {**config, "seed": seed}))
    paths = [run.path for run in runs]
    duplicated = sorted({path for path in paths if paths.count(path) > 1})
    if duplicated:
        raise ConfigError(f"the suite defines the run {duplicated[0]} twice; give flex variants distinct names")
    for run in runs:
        try:
            resolve(run.config)
        except ConfigError as error:
            raise ConfigError(f"run {run.path}: {error}") from None
    return runs


def needs_gpu(dataset: str) -> bool:
    return get_dataset(dataset).wants_gpu


def image_datasets(runs: list[Run]) -> list[str]:
    return sorted({run.dataset for run in runs if not get_dataset(run.dataset).is_toy})
