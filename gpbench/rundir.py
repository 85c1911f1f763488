"""The run directory: the one module that knows a run's file names and formats (docs/architecture.md).

    runs/<suite>/<dataset>/<method>[-<variant>]/seed<k>/
        run.yaml          the run config the pipeline wrote (input of `gpbench train`)
        config.yaml       the resolved run config, every default filled in
        metrics.jsonl     one JSON line per logged iteration
        status.json       running | completed | diverged | failed, with the iteration
        checkpoint.pt     models, optimizers, RNG and data-stream state
        snapshots/generator_NNNNNN.pt   generator weights kept for metric curves
        samples/iter_NNNNNN.png         sample pictures
        eval.json         final metrics with their protocol (`gpbench eval`)
        eval.jsonl        metrics of every snapshot (`gpbench eval`)
        train.log, eval.log, train.benchmark.tsv   what the pipeline's jobs printed and timed

Every write is atomic (a temporary file renamed over the target); every helper takes the path first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import yaml

PIPELINE_CONFIG = "run.yaml"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
STATUS = "status.json"
CHECKPOINT = "checkpoint.pt"
SNAPSHOTS = "snapshots"
SAMPLES = "samples"
EVAL = "eval.json"
EVAL_CURVE = "eval.jsonl"
TRAIN_LOG = "train.log"
EVAL_LOG = "eval.log"
TRAIN_BENCHMARK = "train.benchmark.tsv"


def _replace_atomically(path: Path, write) -> None:
    """``write(temporary_path)``, then rename it over ``path``: a killed process never leaves half a file."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    os.replace(temporary, path)


def write_text_atomic(path: Path, text: str) -> None:
    _replace_atomically(path, lambda temporary: temporary.write_text(text))


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload) + "\n")


def torch_save_atomic(path: Path, payload: dict) -> None:
    _replace_atomically(path, lambda temporary: torch.save(payload, temporary))


def read_jsonl(path: Path) -> list[dict]:
    """Every record of a JSON-lines file; [] when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def load_torch(path: Path, map_location=None) -> dict:
    return torch.load(path, map_location=map_location, weights_only=False)


class RunDir:
    """One run directory: paths, status, metrics log, checkpoints, snapshots, samples and evaluation files."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    def create(self) -> None:
        self.file(SAMPLES).mkdir(parents=True, exist_ok=True)

    # --- config and status --------------------------------------------------------------------------

    def read_config(self) -> dict | None:
        path = self.file(CONFIG)
        return yaml.safe_load(path.read_text()) if path.is_file() else None

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.file(CONFIG), yaml.safe_dump(config, sort_keys=False))

    def read_status(self) -> dict:
        path = self.file(STATUS)
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_status(self, status: str, iteration: int, **extra) -> None:
        write_json_atomic(self.file(STATUS), {"status": status, "iteration": iteration, **extra})

    # --- metrics log --------------------------------------------------------------------------------

    def read_metrics(self) -> list[dict]:
        return read_jsonl(self.file(METRICS))

    def append_metrics(self, line: dict) -> None:
        append_jsonl(self.file(METRICS), line)

    def truncate_metrics(self, before_iteration: int) -> None:
        """Drop the lines of iterations >= ``before_iteration`` (a killed run logged them; it will again)."""
        path = self.file(METRICS)
        if path.is_file():
            kept = [line for line in self.read_metrics() if line["iteration"] < before_iteration]
            write_text_atomic(path, "".join(json.dumps(line) + "\n" for line in kept))

    # --- checkpoints and snapshots ------------------------------------------------------------------

    def has_checkpoint(self) -> bool:
        return self.file(CHECKPOINT).is_file()

    def save_checkpoint(self, state: dict) -> None:
        torch_save_atomic(self.file(CHECKPOINT), state)

    def load_checkpoint(self, map_location=None) -> dict:
        return load_torch(self.file(CHECKPOINT), map_location)

    def snapshot_path(self, iteration: int) -> Path:
        return self.file(SNAPSHOTS) / f"generator_{iteration:06d}.pt"

    def save_snapshot(self, iteration: int, payload: dict) -> None:
        path = self.snapshot_path(iteration)
        path.parent.mkdir(exist_ok=True)
        torch_save_atomic(path, payload)

    def snapshots(self) -> list[Path]:
        return sorted(self.file(SNAPSHOTS).glob("generator_*.pt"))

    def sample_path(self, iteration: int) -> Path:
        return self.file(SAMPLES) / f"iter_{iteration:06d}.png"

    def sample_pictures(self) -> list[Path]:
        return sorted(self.file(SAMPLES).glob("iter_*.png"))

    # --- evaluation ---------------------------------------------------------------------------------

    def read_eval(self) -> dict | None:
        path = self.file(EVAL)
        return json.loads(path.read_text()) if path.is_file() else None

    def write_eval(self, result: dict) -> None:
        write_json_atomic(self.file(EVAL), result)

    def read_eval_curve(self) -> list[dict]:
        return read_jsonl(self.file(EVAL_CURVE))

    def append_eval_curve(self, line: dict) -> None:
        append_jsonl(self.file(EVAL_CURVE), line)
