"""The run directory: the one module that knows a run's file names and formats (docs/architecture.md).

    runs/<suite>/<dataset>/<method>[-<variant>]/seed<k>/
        run.yaml          the run config the pipeline wrote (input of `gpbench train`)
        config.yaml       the resolved run config, every default filled in
        metrics.jsonl     one JSON line per logged iteration (with the dev critic cost every dev_every iterations)
        status.json       running | completed | diverged | interrupted | failed, with the iteration
        train.done        the pipeline's mark that `gpbench train` returned 0 (the train rule's output, so that
                          Snakemake, which deletes a job's outputs before rerunning it, never deletes status.json)
        checkpoint.pt     models, optimizers, RNG and data-stream state, the run's identity and a checksum
        checkpoint.prev.pt  the checkpoint before it, kept until the new one is written and verified
        .lock             held by the one trainer of this directory
        snapshots/generator_NNNNNN.pt   generator weights kept for metric curves
        samples/iter_NNNNNN.png         sample pictures
        eval.json         final metrics with their protocol (`gpbench eval`)
        eval.jsonl        metrics of every snapshot (`gpbench eval`)
        diagnosis.json, diagnosis.png   the checks of `gpbench diagnose --write` and the health plot
        train.log, eval.log, train.benchmark.tsv   what the pipeline's jobs printed and timed

Every write is atomic and every JSON-lines log survives a kill (:mod:`gpbench.fileio`); a checkpoint that fails
to load or fails its checksum falls back to the previous one.
"""

from __future__ import annotations

import datetime
import fcntl
import io
import json
import logging
import os
import shutil
import socket
from pathlib import Path

import torch
import yaml

from gpbench.errors import RunDirError
from gpbench.fileio import (append_jsonl, load_torch, read_jsonl, replace_atomically, state_digest, torch_save_atomic,
                            write_json_atomic, write_text_atomic)
from gpbench.yamlio import parse_yaml

log = logging.getLogger(__name__)

# The fields of every metrics.jsonl line (scheduled penalty values are logged beside them under their own names).
METRICS_FIELDS = ("iteration", "seconds", "d_loss", "g_loss", "wasserstein_estimate", "penalty", "gradient_norm",
                  "samples_per_s", "dev_d_loss", "dev_wasserstein_estimate", "dev_train_wasserstein_estimate",
                  "dev_gap_standard_error")
PIPELINE_CONFIG = "run.yaml"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
STATUS = "status.json"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
LOCK = ".lock"
SNAPSHOTS = "snapshots"
SAMPLES = "samples"
EVAL = "eval.json"
EVAL_CURVE = "eval.jsonl"
DIAGNOSIS = "diagnosis.json"
DIAGNOSIS_PLOT = "diagnosis.png"
DIAGNOSE_LOG = "diagnose.log"
TRAIN_LOG = "train.log"
EVAL_LOG = "eval.log"
TRAIN_BENCHMARK = "train.benchmark.tsv"
TRAIN_DONE = "train.done"
TENSORBOARD = "tensorboard"          # event files of the logged statistics: `tensorboard --logdir runs/`


def run_path(dataset: str, label: str, seed: int | str) -> str:
    """A suite's run path under runs/<suite>/: ``<dataset>/<label>/seed<k>`` (the label: method[-variant])."""
    return f"{dataset}/{label}/seed{seed}"


def label_in_run_path(path: Path, dataset: str, seed: int) -> str | None:
    """The label of a run directory laid out as :func:`run_path` says for ``dataset`` and ``seed``, else None."""
    path = Path(path)
    return path.parent.name if path.parts[-3:] == tuple(run_path(dataset, path.parent.name, seed).split("/")) else None


# What every checkpoint holds (train.Trainer._save_checkpoint writes them; a file without one is damaged).
CHECKPOINT_KEYS = ("iteration", "critic_step", "elapsed_seconds", "config", "generator", "critic", "g_optimizer",
                   "d_optimizer", "stream", "rng")


class RunLock:
    """The exclusive lock of a run directory (fcntl.flock on ``.lock``), released by :meth:`release` or by the
    death of its process: a stale lock of a dead process is simply taken over."""

    def __init__(self, path: Path):
        self.handle = open(path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise RunDirError(f"{path.parent} is being trained by {holder}; wait for it to finish, or stop it and "
                              "run the same command again") from None
        self.handle.seek(0)
        self.handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        self.handle.write(f"process {os.getpid()} on {socket.gethostname()} (since {started})\n")
        self.handle.flush()

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


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
        if not path.is_file():
            return None
        config = parse_yaml(path.read_text(errors="replace"), str(path))
        if not isinstance(config, dict):
            raise RunDirError(f"{path} is damaged (not a mapping of keys to values); move it aside and run the "
                              "same `gpbench train` command: it writes the file again, checked against the checkpoint")
        return config

    def require_config(self) -> dict:
        """The run's config; a RunDirError in one line when the directory is not a run."""
        config = self.read_config() if self.path.is_dir() else None
        if config is None:
            raise RunDirError(f"{self.path} is not a gpbench run (no {CONFIG}); run `gpbench train CONFIG --out DIR` "
                              "first")
        return config

    def write_config(self, config: dict) -> None:
        write_text_atomic(self.file(CONFIG), yaml.safe_dump(config, sort_keys=False))

    def read_status(self) -> dict:
        path = self.file(STATUS)
        if not path.is_file():
            return {}
        try:
            status = json.loads(path.read_text(errors="replace"))
            if isinstance(status, dict) and isinstance(status.get("status"), str):
                return status
        except ValueError:
            pass
        log.warning("%s is damaged (not a status record); the next `gpbench train` of this run rewrites it", path)
        return {"status": "unknown"}

    def write_status(self, status: str, iteration: int, **extra) -> None:
        write_json_atomic(self.file(STATUS), {"status": status, "iteration": iteration, **extra})

    # --- metrics log --------------------------------------------------------------------------------

    def read_metrics(self) -> list[dict]:
        return read_jsonl(self.file(METRICS))

    def append_metrics(self, line: dict) -> None:
        append_jsonl(self.file(METRICS), line)

    def tensorboard_writer(self, first_iteration: int):
        """A TensorBoard writer of this run's event files. Events at iterations >= ``first_iteration`` that a
        killed run wrote are purged, as :meth:`truncate_metrics` drops its lines; metrics.jsonl stays the
        source of truth."""
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.file(TENSORBOARD)), purge_step=first_iteration)

    def truncate_metrics(self, before_iteration: int) -> None:
        """Drop the lines of iterations >= ``before_iteration`` (a killed run logged them; it will again)."""
        path = self.file(METRICS)
        if path.is_file():
            kept = [line for line in self.read_metrics() if line["iteration"] < before_iteration]
            write_text_atomic(path, "".join(json.dumps(line) + "\n" for line in kept))

    # --- checkpoints and snapshots ------------------------------------------------------------------

    def lock(self) -> RunLock:
        """Take this directory's trainer lock (RunDirError, in one line, when another process holds it)."""
        return RunLock(self.file(LOCK))

    def trained_by(self) -> str | None:
        """Who holds the trainer lock right now ("process 123 on host (since ...)"), or None when nobody does."""
        path = self.file(LOCK)
        if not path.is_file():
            return None
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None

    def has_checkpoint(self) -> bool:
        return self.file(CHECKPOINT).is_file() or self.file(PREVIOUS_CHECKPOINT).is_file()

    def save_checkpoint(self, state: dict) -> None:
        """Write the state with its checksum, read it back to verify it, keep the last checkpoint as
        checkpoint.prev.pt, then put the new one in place: checkpoint.pt is never missing or half-written."""
        buffer = io.BytesIO()
        torch.save({**state, "checksum": state_digest(state)}, buffer)
        data = buffer.getvalue()
        current, previous = self.file(CHECKPOINT), self.file(PREVIOUS_CHECKPOINT)

        def write_verified(temporary: Path) -> None:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if temporary.read_bytes() != data:
                raise OSError(f"{temporary} does not read back what was written")
            if current.is_file():
                replace_atomically(previous, lambda copy: _link_or_copy(current, copy))

        replace_atomically(current, write_verified)

    def load_checkpoint(self, map_location=None) -> dict:
        """The newest checkpoint that loads and passes its checksum (warning when it falls back to the
        previous one); a RunDirError saying the run must restart when neither does."""
        problems = []
        for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
            path = self.file(name)
            if not path.is_file():
                continue
            try:
                state = load_torch(path, map_location)
                missing = [key for key in CHECKPOINT_KEYS if key not in state] if isinstance(state, dict) else ["all"]
                if missing:
                    raise ValueError(f"not a gpbench checkpoint: no {missing[0]!r}")
                checksum = state.pop("checksum", None)
                if checksum is not None and checksum != state_digest(state):
                    raise ValueError("checksum mismatch")
            except Exception as error:       # a damaged file fails in pickle, zip or torch code alike
                problems.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
                continue
            if problems:
                log.warning("%s cannot be used (%s); resuming from %s at iteration %s", self.file(CHECKPOINT),
                            problems[0], name, state.get("iteration"))
            return state
        raise RunDirError(f"{self.path}: no usable checkpoint ({'; '.join(problems) or 'none written'}); the run "
                          f"must restart: move {self.path} aside (its logs and snapshots stay there) and run the "
                          "same command")

    def snapshot_path(self, iteration: int) -> Path:
        return self.file(SNAPSHOTS) / f"generator_{iteration:06d}.pt"

    def save_snapshot(self, iteration: int, payload: dict) -> None:
        path = self.snapshot_path(iteration)
        path.parent.mkdir(exist_ok=True)
        torch_save_atomic(path, payload)

    def snapshots(self) -> list[tuple[int, Path]]:
        """(iteration, path) of every generator snapshot, in order; files of other names (a copy a person made)
        are passed over, with a warning."""
        found = []
        for path in sorted(self.file(SNAPSHOTS).glob("generator_*.pt")):
            digits = path.stem.removeprefix("generator_")
            if digits.isdigit():
                found.append((int(digits), path))
            else:
                log.warning("%s is not a snapshot gpbench wrote (generator_<iteration>.pt); passed over", path)
        return sorted(found)

    def load_snapshot(self, path: Path) -> dict | None:
        """A snapshot's payload, on the CPU; None, with a warning, when the file is damaged (its curve point is
        skipped)."""
        try:
            return load_torch(path, map_location="cpu")
        except Exception as error:           # a damaged file fails in pickle, zip or torch code alike
            log.warning("%s is damaged (%s: %s); its point on the curves is skipped", path, type(error).__name__, error)
            return None

    def sample_path(self, iteration: int) -> Path:
        return self.file(SAMPLES) / f"iter_{iteration:06d}.png"

    def sample_pictures(self) -> list[Path]:
        return sorted(self.file(SAMPLES).glob("iter_*.png"))

    # --- evaluation ---------------------------------------------------------------------------------

    def _read_report(self, name: str, verb: str) -> dict | None:
        """A JSON file a verb writes into the run (None when absent); damaged, one line saying to run it again."""
        path = self.file(name)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            raise RunDirError(f"{path} is damaged; run `gpbench {verb} {self.path}` again") from None

    def read_eval(self) -> dict | None:
        return self._read_report(EVAL, "eval")

    def write_eval(self, result: dict) -> None:
        write_json_atomic(self.file(EVAL), result)

    def read_diagnosis(self) -> dict | None:
        return self._read_report(DIAGNOSIS, "diagnose")

    def write_diagnosis(self, report: dict) -> None:
        write_json_atomic(self.file(DIAGNOSIS), report)

    def read_eval_curve(self) -> list[dict]:
        return read_jsonl(self.file(EVAL_CURVE))

    def append_eval_curve(self, line: dict) -> None:
        append_jsonl(self.file(EVAL_CURVE), line)
