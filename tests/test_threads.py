"""Thread defaults of a run that leaves ``threads`` unset (gpbench/training/device.py, docs/performance.md)."""

import pytest
import torch

from gpbench.cli import _set_threads, main
from gpbench.models import build
from gpbench.training.config import resolve
from gpbench.training.device import (ONE_THREAD_BELOW_FLOPS, cpu_list_size, critic_flops, default_threads,
                                     physical_cores)
from gpbench.training.train import Trainer


@pytest.mark.parametrize("text, count", [("0", 1), ("0-1", 2), ("0,2", 2), ("0-3,8", 5), ("0-3,8-9\n", 6)])
def test_cpu_lists_are_counted(text, count):
    assert cpu_list_size(text) == count


def test_small_critics_run_on_one_thread_and_larger_ones_on_every_physical_core():
    assert default_threads(ONE_THREAD_BELOW_FLOPS - 1, cores=8) == 1
    assert default_threads(ONE_THREAD_BELOW_FLOPS, cores=8) == 8
    assert default_threads(1e12, cores=1) == 1
    assert 1 <= physical_cores() <= 4096


def test_critic_flops_are_the_closed_form_and_draw_no_random_numbers():
    generator, critic = build("toy", dim=128)
    state = torch.get_rng_state()
    # 2 FLOPs per multiply-add: 2 -> 128 -> 128 -> 128 -> 1 on 256 samples
    assert critic_flops(generator, critic, 256) == 2 * 256 * (2 * 128 + 2 * 128 * 128 + 128)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("dim, expected", [(128, 1), (512, None)])
def test_a_run_without_threads_takes_the_rule_and_one_with_threads_keeps_them(tmp_path, dim, expected):
    keys = {"method": "wgan-gp", "dataset": "25gaussians", "dim": dim, "iterations": 1, "data_root": str(tmp_path)}
    torch.set_num_threads(3)
    Trainer(resolve(keys), tmp_path / "default", progress=False).lock.release()
    assert torch.get_num_threads() == (expected or physical_cores())
    Trainer(resolve({**keys, "threads": 3}), tmp_path / "set", progress=False).lock.release()
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("verb", [["eval", "runs/none"], ["prepare-metrics", "8gaussians"]])
@pytest.mark.parametrize("threads", ["0", "1025"])
def test_a_thread_count_out_of_range_ends_in_one_line_and_exit_2(tmp_path, capsys, monkeypatch, verb, threads):
    monkeypatch.chdir(tmp_path)
    assert main([*verb, "--threads", threads]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"gpbench {verb[0]}: error: --threads: expected a whole number from 1 to 1,024, got {threads}")
    assert list(tmp_path.iterdir()) == []


def test_eval_and_prepare_metrics_default_to_one_thread_per_physical_core(monkeypatch):
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    _set_threads(None)
    _set_threads(3)
    assert seen == [physical_cores(), 3]
