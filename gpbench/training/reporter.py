"""Where the training loop's statistics go (as stylegan2-ada reports them out through one reporter): one
metrics.jsonl line per logged iteration, the source of truth; the same scalars as TensorBoard events
(``tensorboard --logdir runs/``); and the progress bar with the latest losses. The loop hands over the step's
values; the reporter owns the fields of a line."""

from __future__ import annotations

import math
import time

from gpbench.progress import progress_bar
from gpbench.training.rundir import RunDir


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class RunReporter:
    def __init__(self, run_dir: RunDir, schedule_values, description: str, total: int, progress: bool = True):
        self.run_dir = run_dir
        self.schedule_values = schedule_values        # critic step -> the scheduled penalty values to log
        self.description, self.total, self.progress = description, total, progress
        self.board = self.bar = None

    def start(self, iteration: int) -> None:
        """Open the TensorBoard writer (its events past ``iteration``, a resume's checkpoint, are purged) and the
        progress bar; the throughput clock starts now."""
        self.board = self.run_dir.tensorboard_writer(iteration)
        self.bar = progress_bar(total=self.total, initial=iteration, disable=not self.progress,
                                desc=self.description, unit="it")
        self.last_time, self.samples_seen = time.perf_counter(), 0

    def count(self, samples: int) -> None:
        """Samples (real and generated) drawn since the last line, for its throughput."""
        self.samples_seen += samples

    def record(self, iteration: int, critic_step: int, values: dict, gradient_norm, elapsed: float) -> dict:
        """Write one line: the step's losses (device tensors, read here: the host syncs of a logged iteration),
        the penalty's last gradient norm, samples per second since the last line and the scheduled values."""
        now = time.perf_counter()
        line = {"iteration": iteration, "seconds": round(elapsed, 3)}
        line.update({key: _finite_or_none(float(value)) for key, value in values.items()})
        line["gradient_norm"] = _finite_or_none(float(gradient_norm)) if gradient_norm is not None else None
        interval = now - self.last_time
        line["samples_per_s"] = round(self.samples_seen / interval, 1) if interval > 0 else None
        line.update(self.schedule_values(critic_step))
        self.run_dir.append_metrics(line)
        for key, value in line.items():
            if key != "iteration" and value is not None:
                self.board.add_scalar(key, value, iteration)
        self.last_time, self.samples_seen = now, 0
        self.bar.set_postfix(d_loss=_number(line["d_loss"]), w=_number(line["wasserstein_estimate"]),
                             g_loss=_number(line["g_loss"]), refresh=False)
        return line

    def advance(self) -> None:
        self.bar.update(1)

    def flush(self) -> None:
        self.board.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.board.close()


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
