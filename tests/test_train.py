"""Presets, the training loop, resume after SIGKILL, divergence and bad configs."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from gpbench import ConfigError
from gpbench.cli import main
from gpbench.training.config import resolve
from gpbench.training.checkpoints import all_finite
from gpbench.training.train import Trainer

# docs/replication.md, "Hyperparameters": (arch, method) -> what the preset must resolve to.
PAPER_TABLE = {
    ("toy", "wgan-gp"): dict(optimizer="adam", lr=1e-4, betas=[0.5, 0.9], n_critic=5, penalty=0.1, batch_size=256,
                             iterations=100_000, dim=512, clip=None),
    ("toy", "wgan-clip"): dict(optimizer="rmsprop-tf", lr=5e-5, n_critic=5, penalty=None, batch_size=256,
                               iterations=100_000, dim=512, clip=0.01),
    ("mnist", "wgan-gp"): dict(optimizer="adam", lr=1e-4, betas=[0.5, 0.9], n_critic=5, penalty=10.0, batch_size=50,
                               iterations=200_000, dim=64, clip=None),
    ("mnist", "wgan-clip"): dict(optimizer="rmsprop-tf", lr=5e-5, n_critic=5, penalty=None, batch_size=50,
                                 iterations=200_000, dim=64, clip=0.01),
    ("mnist", "ns-gan"): dict(optimizer="adam", lr=2e-4, betas=[0.5, 0.999], n_critic=1, penalty=None, batch_size=50,
                              iterations=200_000, dim=64, clip=None, halve_d_loss=True, game="ns"),
    ("cifar10", "wgan-gp"): dict(optimizer="adam", lr=1e-4, betas=[0.5, 0.9], n_critic=5, penalty=10.0, batch_size=64,
                                 iterations=200_000, dim=128),
    ("cifar10", "wgan-clip"): dict(optimizer="rmsprop-tf", lr=5e-5, n_critic=5, batch_size=64, iterations=200_000,
                                   dim=128, clip=0.01),
    ("cifar10", "ns-gan"): dict(optimizer="adam", lr=2e-4, betas=[0.5, 0.999], n_critic=1, batch_size=64,
                                iterations=200_000, dim=128),
    ("cifar10-resnet", "wgan-gp"): dict(optimizer="adam", lr=2e-4, betas=[0.0, 0.9], lr_decay="linear", n_critic=5,
                                        penalty=10.0, batch_size=64, generator_batch_size=128, iterations=100_000,
                                        dim=128, dequantize=True),
}
DATASET_FOR_ARCH = {"toy": "8gaussians", "mnist": "mnist", "cifar10": "cifar10", "cifar10-resnet": "cifar10"}


@pytest.mark.parametrize("arch, method", list(PAPER_TABLE))
def test_presets_resolve_to_the_papers_hyperparameters(arch, method):
    config = resolve({"method": method, "dataset": DATASET_FOR_ARCH[arch], "arch": arch})
    for key, expected in PAPER_TABLE[(arch, method)].items():
        if key == "penalty":
            assert (config["penalty"]["lambda"] if expected is not None else config["penalty"]["kind"]) == \
                (expected if expected is not None else "none")
        else:
            assert config[key] == expected, key
    assert config["preset_source"].startswith("Gulrajani")


def test_the_lsgan_preset_is_gan_64x64s_lsgan_mode():
    config = resolve({"method": "lsgan", "dataset": "cifar10"})
    assert (config["game"], config["optimizer"], config["lr"], config["n_critic"]) == ("ls", "rmsprop-tf", 1e-4, 1)
    assert config["critic_batchnorm"] and "extrapolation" in config["preset_source"]   # not in gan_cifar.py


def test_mnist_batchnorm_follows_gan_mnist_py_except_dcgans_generator():
    placement = {method: (config["generator_batchnorm"], config["critic_batchnorm"], config["preset_source"])
                 for method in ("wgan-gp", "wgan-clip", "ns-gan")
                 for config in [resolve({"method": method, "dataset": "mnist"})]}
    assert placement["wgan-gp"][:2] == (False, False) and placement["wgan-clip"][:2] == (True, True)
    assert placement["ns-gan"][:2] == (True, False) and "DCGAN's batchnorm in G" in placement["ns-gan"][2]
    script_net = resolve({"method": "ns-gan", "dataset": "mnist", "generator_batchnorm": False})
    assert script_net["generator_batchnorm"] is False


@pytest.mark.parametrize("dataset", ["8gaussians", "mnist", "cifar10"])
def test_the_r3gan_preset_is_its_cifar10_configs_starting_point(dataset):
    """brownvc/R3GAN: RpGAN + (gamma/2)(R1 + R2) = the rp game with r1r2 at lambda = gamma 0.05; Adam(2e-4, betas
    (0, 0.9)); one critic step; no batchnorm in the critic under the per-sample penalty; said to be extrapolated."""
    config = resolve({"method": "r3gan", "dataset": dataset})
    assert (config["game"], config["penalty"], config["optimizer"], config["lr"], config["betas"],
            config["n_critic"]) == ("rp", {"kind": "r1r2", "lambda": 0.05}, "adam", 2e-4, [0.0, 0.9], 1)
    assert config["critic_batchnorm"] is False
    assert config["preset_source"].startswith("R3GAN's CIFAR-10 preset") and "extrapolated" in config["preset_source"]


def test_overrides_win_and_extrapolated_presets_say_so():
    config = resolve({"method": "mm-gan", "dataset": "25gaussians", "lr": 3e-4, "penalty": {"kind": "r1"}})
    assert config["lr"] == 3e-4 and config["game"] == "mm" and config["penalty"] == {"kind": "r1"}
    assert "extrapolation" in config["preset_source"]


def tiny(tmp_path, **overrides):
    config = {"method": "wgan-gp", "dataset": "25gaussians", "dim": 16, "batch_size": 32, "iterations": 6,
              "checkpoint_every": 2, "log_every": 1, "seed": 0, "threads": 1, "data_root": str(tmp_path / "data")}
    config.update(overrides)
    return resolve(config)


@pytest.mark.parametrize("method, warmup, critic_steps", [
    ("wgan-gp", False, 6 * 5), ("wgan-clip", False, 6 * 5), ("ns-gan", False, 6 * 1), ("mm-gan", False, 6),
    ("lsgan", False, 6), ("r3gan", False, 6),
    ("wgan-clip", True, 6 * 100)])
def test_loop_step_counts_per_method(tmp_path, monkeypatch, method, warmup, critic_steps):
    trainer = Trainer(tiny(tmp_path, method=method, critic_warmup=warmup), tmp_path / "run", progress=False)
    generator_steps = []
    original = trainer.generator_step_once
    monkeypatch.setattr(trainer, "generator_step_once", lambda: generator_steps.append(1) or original())
    assert trainer.run() == "completed"
    assert trainer.critic_step == critic_steps
    assert len(generator_steps) == 5                      # skipped at iteration 0
    if method == "wgan-clip":
        assert max(p.abs().max().item() for p in trainer.critic.parameters()) <= 0.01


def test_run_directory_files(tmp_path):
    out = tmp_path / "run"
    assert Trainer(tiny(tmp_path), out, progress=False).run() == "completed"
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["penalty"] == {"kind": "wgan-gp", "lambda": 0.1} and saved["optimizer"] == "adam"
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in lines] == list(range(6))
    assert {"seconds", "d_loss", "g_loss", "wasserstein_estimate", "penalty", "gradient_norm",
            "samples_per_s"} <= set(lines[-1])
    assert lines[0]["g_loss"] is None and lines[-1]["g_loss"] is not None
    assert lines[-1]["wasserstein_estimate"] == pytest.approx(-lines[-1]["d_loss"])
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=False)
    assert checkpoint["iteration"] == 6 and {"generator", "critic", "g_optimizer", "stream", "rng"} <= set(checkpoint)
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["iter_000002.png", "iter_000004.png",
                                                                    "iter_000006.png"]


@pytest.mark.slow
def test_mnist_run_on_the_offline_subset(tmp_path, monkeypatch):
    from gpbench.data import images

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    out = tmp_path / "mnist"
    config = tiny(tmp_path, dataset="mnist", dim=4, iterations=2, batch_size=8)
    assert Trainer(config, out, progress=False).run() == "completed"
    status = json.loads((out / "status.json").read_text())
    assert "SUBSET" in status["data"]
    assert (out / "samples" / "iter_000002.png").is_file()


def test_linear_lr_decay_reaches_zero_at_the_end(tmp_path):
    trainer = Trainer(tiny(tmp_path, lr_decay="linear", lr=1e-3), tmp_path / "run", progress=False)
    trainer._set_learning_rate(3)
    assert trainer.g_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)
    trainer._set_learning_rate(6)
    assert trainer.d_optimizer.param_groups[0]["lr"] == 0.0


def test_divergence_sets_status_keeps_checkpoint_and_exits_zero(tmp_path, monkeypatch):
    out = tmp_path / "run"
    trainer = Trainer(tiny(tmp_path), out, progress=False)
    original = trainer.critic_step_once

    def poisoned():
        values = original()
        if trainer.iteration == 3:
            values["d_loss"] = torch.tensor(float("nan"))
        return values

    monkeypatch.setattr(trainer, "critic_step_once", poisoned)
    assert trainer.run() == "diverged"
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "diverged" and status["iteration"] == 3
    assert torch.load(out / "checkpoint.pt", weights_only=False)["iteration"] == 2


def test_the_checkpoint_check_reads_parameters_and_every_optimizer_state_tensor():
    critic = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(critic.parameters())
    critic(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert torch.is_tensor(optimizer.state[critic.weight]["step"])        # on the CPU even when the net is on a GPU
    assert all_finite([critic], [optimizer])
    optimizer.state[critic.weight]["exp_avg_sq"][0, 1] = float("nan")
    assert not all_finite([critic], [optimizer])
    optimizer.state[critic.weight]["exp_avg_sq"][0, 1] = 0.0
    with torch.no_grad():
        critic.bias.fill_(float("inf"))
    assert not all_finite([critic], [optimizer])


def write_config(path, **values):
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.mark.parametrize("values, named", [
    ({"method": "wgan-gp", "dataset": "25gaussians", "learning_rate": 1e-4}, "learning_rate"),
    ({"method": "wgan-gp", "dataset": "25gaussians", "lr": -1e-4}, "lr"),
    ({"method": "wgan-gp", "dataset": "25gaussians", "iterations": "many"}, "iterations"),
    ({"method": "wgan-gpp", "dataset": "25gaussians"}, "method"),
    ({"method": "wgan-gp", "dataset": "cifar100"}, "dataset"),
    ({"method": "wgan-gp", "dataset": "mnist", "arch": "resnet"}, "arch"),
    ({"method": "wgan-gp", "dataset": "mnist", "arch": "toy"}, "arch"),
    ({"method": "wgan-gp", "dataset": "mnist", "penalty": {"kind": "wgan-gp", "lambda": -10}}, "lambda"),
])
def test_bad_configs_get_a_one_line_error_and_nothing_is_written(tmp_path, capsys, values, named):
    out = tmp_path / "run"
    assert main(["train", write_config(tmp_path / "bad.yaml", **values), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and named in error and error.startswith("gpbench train: error:")
    assert not out.exists()


def test_a_run_directory_refuses_a_different_config(tmp_path):
    out = tmp_path / "run"
    Trainer(tiny(tmp_path), out, progress=False).run()
    with pytest.raises(ConfigError, match="seed"):
        Trainer(tiny(tmp_path, seed=1), out, progress=False)


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
    settings = dict(method="wgan-gp", dataset="25gaussians", dim=32, batch_size=64, iterations=400,
                    checkpoint_every=20, log_every=50, seed=3, threads=1, data_root=str(tmp_path / "data"))
    reference = Trainer(resolve(settings), tmp_path / "reference", progress=False)
    assert reference.run() == "completed"

    out = tmp_path / "killed"
    config_path = write_config(tmp_path / "run.yaml", **settings)
    process = subprocess.Popen([sys.executable, "-m", "gpbench.cli", "train", config_path, "--out", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = torch.load(out / "checkpoint.pt", weights_only=False)["iteration"]
    assert json.loads((out / "status.json").read_text())["status"] == "running" and killed_at < 400

    resumed = Trainer(resolve(settings), out, progress=False)
    assert resumed.iteration == killed_at
    assert resumed.run() == "completed"
    for name, tensor in reference.generator.state_dict().items():
        assert torch.equal(tensor, resumed.generator.state_dict()[name]), name
    lines = [json.loads(line)["iteration"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines == sorted(set(lines))                        # no duplicated log lines after the resume


def test_missing_data_is_a_one_line_error_naming_the_folder_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    from gpbench.data import images

    monkeypatch.setattr(images, "_cifar_checksums", lambda: ({}, "0" * 32))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)     # no download attempt: offline
    out = tmp_path / "run"
    config = write_config(tmp_path / "cifar.yaml", method="wgan-gp", dataset="cifar10",
                          data_root=str(tmp_path / "data"))
    assert main(["train", config, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "cifar-10-python.tar.gz" in error and str(tmp_path / "data") in error
    assert not out.exists()


def test_set_overrides_reach_the_resolved_config_and_are_validated(tmp_path, capsys):
    config = write_config(tmp_path / "toy.yaml", method="wgan-gp", dataset="8gaussians", dim=8, batch_size=16,
                          iterations=50, threads=1)
    out = tmp_path / "run"
    assert main(["train", config, "--out", str(out), "--set", "iterations=2", "--set", "log_every=1"]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["iterations"] == 2 and saved["log_every"] == 1 and saved["dim"] == 8
    assert main(["train", config, "--out", str(tmp_path / "other"), "--set", "n_critic=0"]) == 2
    assert main(["train", config, "--out", str(tmp_path / "other"), "--set", "iterations"]) == 2
    assert "n_critic" in capsys.readouterr().err


@pytest.mark.parametrize("penalty", [{"kind": "wgan-gp"}, {"kind": "r1"}])
def test_bf16_autocast_training_runs_with_finite_losses(tmp_path, penalty):
    trainer = Trainer(tiny(tmp_path, amp="bf16", penalty=penalty), tmp_path / "run", progress=False)
    assert trainer.run() == "completed"
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(line["d_loss"] is not None and line["penalty"] is not None for line in lines)


def test_r1_training_reuses_the_critic_forward_pass(tmp_path, monkeypatch):
    trainer = Trainer(tiny(tmp_path, penalty={"kind": "r1"}, iterations=1), tmp_path / "run", progress=False)
    calls = []
    original_forward = trainer.critic.forward
    monkeypatch.setattr(trainer.critic, "forward", lambda x: calls.append(1) or original_forward(x))
    trainer.critic_step_once()
    assert len(calls) == 2                      # real and fake scores; R1 differentiates the real ones


def constant_critic(trainer, value):
    """D(x) = value for every x: the toy critic's output layer with zero weights."""
    with torch.no_grad():
        last = [m for m in trainer.critic.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()
        last.bias.fill_(value)


@pytest.mark.parametrize("method", ["wgan-gp", "ns-gan"])
def test_the_dev_cost_of_a_constant_critic_is_exactly_the_training_one(tmp_path, method):
    config = tiny(tmp_path, method=method, dataset="8gaussians")
    trainer = Trainer({**config, "dev_samples": config["batch_size"]}, tmp_path / "run", progress=False)
    constant_critic(trainer, 0.7)
    real = trainer.next_batch()
    fake = trainer.generator(trainer._noise(real.shape[0]))
    _, training = trainer.loss.critic_loss(trainer.critic, trainer.generator, real, fake, step=1)
    dev = trainer.dev_statistics()
    assert dev["dev_d_loss"].item() == training["d_loss"].item()
    assert dev["dev_wasserstein_estimate"].item() == training["wasserstein_estimate"].item() == 0.0
    assert dev["dev_train_wasserstein_estimate"].item() == 0.0
    assert dev["dev_gap_standard_error"].item() == pytest.approx(0.0, abs=1e-6)     # float32 rounding of var()


def test_dev_logging_leaves_training_bitwise_and_resumes_bitwise(tmp_path, interrupt_at):
    settings = dict(dataset="8gaussians", iterations=12, checkpoint_every=4, log_every=100, dev_samples=64)
    without = Trainer(tiny(tmp_path, dev_every=10**6, **settings), tmp_path / "without", progress=False)
    without.run()
    reference = Trainer(tiny(tmp_path, dev_every=3, **settings), tmp_path / "reference", progress=False)
    reference.run()
    for name, tensor in without.generator.state_dict().items():    # the dev cost does not touch training
        assert torch.equal(tensor, reference.generator.state_dict()[name]), name

    with interrupt_at(6), pytest.raises(KeyboardInterrupt):
        Trainer(tiny(tmp_path, dev_every=3, **settings), tmp_path / "resumed", progress=False).run()
    resumed = Trainer(tiny(tmp_path, dev_every=3, **settings), tmp_path / "resumed", progress=False)
    assert resumed.iteration == 4 and resumed.run() == "completed"
    for name, tensor in reference.generator.state_dict().items():
        assert torch.equal(tensor, resumed.generator.state_dict()[name]), name
    dev_lines = [[{k: v for k, v in line.items() if k.startswith("dev_")} for line in trainer.run_dir.read_metrics()
                  if "dev_d_loss" in line] for trainer in (reference, resumed)]
    assert [len(lines) for lines in dev_lines] == [5, 5] and dev_lines[0] == dev_lines[1]   # 0, 3, 6, 9, 11


@pytest.mark.slow
def test_train_subset_draws_a_fixed_subset_and_says_so(tmp_path, monkeypatch):
    from gpbench.data import images, make_stream

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    root = str(tmp_path / "data")
    first, source = make_stream("mnist", 10, 0, root, train_subset=100)
    again, _ = make_stream("mnist", 10, 0, root, train_subset=100)
    assert len(first.data) == 100 and np.array_equal(first.data, again.data)
    assert "fixed random subset of 100 examples (seed 0)" in source
    assert not np.array_equal(first.data, make_stream("mnist", 10, 1, root, train_subset=100)[0].data)
    with pytest.raises(ConfigError, match="train_subset"):
        resolve({"method": "wgan-gp", "dataset": "8gaussians", "train_subset": 100})
    config = tiny(tmp_path, dataset="mnist", dim=4, batch_size=10, iterations=2, train_subset=100)
    Trainer(config, tmp_path / "run", progress=False).run()
    assert "subset of 100" in json.loads((tmp_path / "run" / "status.json").read_text())["data"]


def test_tensorboard_events_hold_the_logged_statistics_once_each_after_a_resume(tmp_path, interrupt_at):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    settings = dict(dataset="8gaussians", iterations=8, checkpoint_every=4, log_every=1)
    with interrupt_at(6), pytest.raises(KeyboardInterrupt):                  # iterations 4 and 5 logged twice
        Trainer(tiny(tmp_path, **settings), tmp_path / "run", progress=False).run()
    trainer = Trainer(tiny(tmp_path, **settings), tmp_path / "run", progress=False)
    assert trainer.run() == "completed"
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    logged = trainer.run_dir.read_metrics()
    assert [line["iteration"] for line in logged] == list(range(8))
    for key in ("d_loss", "penalty", "wasserstein_estimate", "g_loss", "gradient_norm"):
        scalars, expected = events.Scalars(key), [line for line in logged if line[key] is not None]   # g_loss: none at 0
        assert [event.step for event in scalars] == [line["iteration"] for line in expected], key
        assert [event.value for event in scalars] == pytest.approx([line[key] for line in expected], rel=1e-6), key
