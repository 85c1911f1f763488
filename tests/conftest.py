"""Shared test fixtures."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from gpbench.training.train import Trainer


@pytest.fixture(autouse=True)
def restore_threads():
    """Trainers set torch's thread count from their config; put it back after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def interrupt_at(monkeypatch):
    """``with interrupt_at(k):`` every Trainer in the block stops with KeyboardInterrupt (Ctrl-C) at iteration k."""
    @contextlib.contextmanager
    def interrupting(stop_at: int):
        original = Trainer.train_iteration

        def interrupted(self, iteration):
            if iteration == stop_at:
                raise KeyboardInterrupt
            return original(self, iteration)

        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "train_iteration", interrupted)
            yield
    return interrupting


REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def tiny_suite(tmp_path_factory):
    """configs/tiny.yaml run locally with Ctrl-C after its first finished training run, then resumed by the same
    command: the pipeline test checks the resume and the outputs, the SLURM test compares its own run's tables with
    these (one local run of the tiny suite for both)."""
    folder = tmp_path_factory.mktemp("tiny-local")
    command = [*SNAKEMAKE, "--cores", "2", "--configfile", str(REPO / "configs/tiny.yaml")]
    run = folder / "runs" / "tiny" / "8gaussians" / "wgan-gp" / "seed0"

    def a_run_finished():
        status = run / "status.json"
        return status.is_file() and json.loads(status.read_text())["status"] == "completed"

    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    finished = wait_for(a_run_finished, 240)
    os.killpg(process.pid, signal.SIGINT)                    # Ctrl-C in the terminal, mid-suite
    process.wait(timeout=300)            # Snakemake waits for every interrupted job (120 s ran out on a loaded CI)
    trained_at = (run / "checkpoint.pt").stat().st_mtime_ns if finished else None
    resumed = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
    return types.SimpleNamespace(folder=folder, command=command, finished_before_interrupt=finished,
                                 checkpoint=run / "checkpoint.pt", trained_at=trained_at, resumed=resumed)
