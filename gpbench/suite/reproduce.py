"""``gpbench reproduce``'s training: chosen runs of a suite trained from scratch in a fresh folder and evaluated
as the suite evaluates them (final checkpoint, the suite's sample counts); the page comparing them with the
committed numbers is :mod:`gpbench.report.reproducibility`'s."""

from __future__ import annotations

from pathlib import Path

from gpbench.analysis.evaluate import evaluate_run
from gpbench.errors import ConfigError
from gpbench.metrics import displayed
from gpbench.suite.pipeline import Run, plan
from gpbench.training.config import resolve
from gpbench.training.train import Trainer


def chosen_runs(suite: dict, paths: list[str], suite_file: str) -> list[Run]:
    """The suite's planned runs named by ``paths`` (as the pipeline names them), refusing a name it does not plan."""
    runs = {run.path: run for run in plan(suite)}
    unknown = [path for path in paths if path not in runs]
    if unknown:
        raise ConfigError(f"--runs: {unknown[0]!r} is not a run of {suite_file}; e.g. {', '.join(list(runs)[:3])}")
    return [runs[path] for path in paths]


def check_fresh(work: Path, runs: list[Run]) -> None:
    """Every re-run trains from scratch: none of their folders under ``work`` may hold anything yet."""
    used = [work / run.path for run in runs if (work / run.path).is_dir() and any((work / run.path).iterdir())]
    if used:
        raise ConfigError(f"--work: {used[0]} already holds a run; reproduce trains each run from scratch: give an "
                          "empty --work folder or remove that one")


def rerun(suite: dict, runs: list[Run], work: Path, threads: int) -> dict[tuple[str, str, int], dict]:
    """(dataset, label, seed) -> the re-run's final metrics as the tables display them."""
    evaluation = suite.get("eval") or {}
    reruns = {}
    for run in runs:
        run_dir = work / run.path
        Trainer(resolve({**run.config, "threads": threads}), run_dir).run()
        result = evaluate_run(run_dir, samples=(evaluation.get("samples") or {}).get(run.dataset), curves=False,
                              metrics=(evaluation.get("metrics") or {}).get(run.dataset),
                              lenet_epochs=evaluation.get("lenet_epochs"))
        reruns[(run.dataset, run.label, run.seed)] = {metric: displayed(metric, value)
                                                      for metric, value in (result.get("metrics") or {}).items()}
    return reruns
