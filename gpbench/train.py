"""Gulrajani's training loop with checkpoints, resume, logging and divergence handling (``gpbench train``).

Each generator iteration: one generator step (skipped at iteration 0), then ``n_critic`` critic steps on
fresh real batches, the generator run without autograd (unless a penalty needs G's graph). Weight clipping
per method, linear lr decay for the ResNet preset. A run directory holds config.yaml, metrics.jsonl,
status.json, checkpoint.pt and samples/; re-running on it resumes bitwise-identically on CPU.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from gpbench import samples
from gpbench.config import load_run_config
from gpbench.data import make_stream, toy
from gpbench.errors import ConfigError
from gpbench.losses import WeightClipping, discriminator_loss, generator_loss, wasserstein_estimate
from gpbench.models import build
from gpbench.optim import build_optimizer
from gpbench.penalties import FlexPenalty, build_penalty

CHECKPOINT = "checkpoint.pt"
ARJOVSKY_WARMUP_ITERATIONS, ARJOVSKY_WARMUP_EVERY, ARJOVSKY_WARMUP_STEPS = 25, 500, 100
SAMPLE_COUNT = 64
TOY_SAMPLE_COUNT = 1000


def snapshot_path(run_dir: Path, iteration: int) -> Path:
    return Path(run_dir) / "snapshots" / f"generator_{iteration:06d}.pt"


def torch_save_atomic(payload: dict, path: Path) -> None:
    """Write to a temporary file, then rename: a killed process never leaves a half-written file."""
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def write_json_atomic(path: Path, payload: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload) + "\n")
    os.replace(temporary, path)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device: {name!r} is not a torch device; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} asked for, but this machine has no CUDA GPU; use auto or cpu")
    return device


class Trainer:
    """One run: build everything from a resolved config, resume from ``out/checkpoint.pt`` if present."""

    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.device = _resolve_device(config["device"])
        if config["threads"]:
            torch.set_num_threads(config["threads"])
        self._check_run_directory()
        self.stream, self.data_source = make_stream(config)     # missing data fails before DIR is touched
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "samples").mkdir(exist_ok=True)

        random.seed(config["seed"])
        np.random.seed(config["seed"])
        torch.manual_seed(config["seed"])
        generator, critic = build(config["arch"], config["method"], dim=config["dim"], depth=config["depth"],
                                  generator_batchnorm=config["generator_batchnorm"],
                                  critic_batchnorm=config["critic_batchnorm"])
        self.generator, self.critic = generator.to(self.device), critic.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.g_optimizer = build_optimizer(config, self.generator)
        self.d_optimizer = build_optimizer(config, self.critic)
        self.penalty = build_penalty(config["penalty"])
        # torch.compile: the generator always; the critic only without a gradient penalty (no double backward)
        self.generator_forward = torch.compile(self.generator) if config["compile"] else self.generator
        self.critic_forward = (torch.compile(self.critic) if config["compile"] and self.penalty.kind == "none"
                               else self.critic)
        penalised = self.penalty.kind != "none"
        self.penalise_critic = penalised and self.penalty.loss in ("d_loss", "both")
        self.penalise_generator = penalised and self.penalty.loss in ("g_loss", "both")
        self.critic_needs_generator_graph = (self.penalise_critic and isinstance(self.penalty, FlexPenalty)
                                             and "generator" in self.penalty.components)
        self.clipping = WeightClipping(config["clip"], config["clip_placement"]) if config["clip"] else None
        noise = torch.Generator().manual_seed(config["seed"] + 12345)   # off the training RNG stream
        toy_data = config["arch"] in ("toy", "deep-mlp")
        count = TOY_SAMPLE_COUNT if toy_data else SAMPLE_COUNT
        self.real_for_plots = toy.sample(config["dataset"], count, config["seed"] + 1) if toy_data else None
        self.fixed_noise = torch.randn(count, self.generator.noise_dim, generator=noise).to(self.device)
        self.iteration = 0
        self.first_nonfinite = torch.tensor(-1, device=self.device)
        self.critic_step = 0
        self.elapsed_before = 0.0
        if (self.out / CHECKPOINT).is_file():
            self._load_checkpoint()

    # --- run directory ------------------------------------------------------------------------------

    def _check_run_directory(self) -> None:
        saved = self.out / "config.yaml"
        if saved.is_file():
            previous = yaml.safe_load(saved.read_text())
            differing = sorted(key for key in set(previous) | set(self.config)
                               if previous.get(key) != self.config.get(key))
            if differing:
                key = differing[0]
                raise ConfigError(f"{self.out} holds a run with another config ({key}: {previous.get(key)!r} there, "
                                  f"{self.config.get(key)!r} now); choose another --out or delete that directory")

    def _write_status(self, status: str, **extra) -> None:
        write_json_atomic(self.out / "status.json", {"status": status, "iteration": self.iteration, **extra})

    # --- checkpoints --------------------------------------------------------------------------------

    def _save_checkpoint(self, elapsed: float) -> None:
        state = {
            "iteration": self.iteration,
            "critic_step": self.critic_step,
            "elapsed_seconds": elapsed,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            "stream": self.stream.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None},
        }
        torch_save_atomic(state, self.out / CHECKPOINT)

    def _save_snapshot(self) -> None:
        """The generator alone, kept for metric-vs-iteration curves (``gpbench eval``)."""
        path = snapshot_path(self.out, self.iteration)
        path.parent.mkdir(exist_ok=True)
        torch_save_atomic({"iteration": self.iteration, "generator": self.generator.state_dict(),
                           "elapsed_seconds": self.elapsed_before + time.perf_counter() - self.started}, path)

    def _load_checkpoint(self) -> None:
        state = torch.load(self.out / CHECKPOINT, map_location=self.device, weights_only=False)
        self.iteration, self.critic_step = state["iteration"], state["critic_step"]
        self.elapsed_before = state["elapsed_seconds"]
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        self.stream.load_state_dict(state["stream"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        if state["rng"]["cuda"] is not None:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        """Drop log lines written after the checkpoint (a killed run logged them; it will log them again)."""
        path = self.out / "metrics.jsonl"
        if path.is_file():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["iteration"] < self.iteration]
            path.write_text("".join(line + "\n" for line in kept))

    # --- steps --------------------------------------------------------------------------------------

    def _noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.generator.noise_dim, device=self.device)

    def _real_batch(self) -> torch.Tensor:
        return torch.from_numpy(self.stream.next()).to(self.device, non_blocking=True)

    def _critic_steps_at(self, iteration: int) -> int:
        if self.config["critic_warmup"] and (iteration < ARJOVSKY_WARMUP_ITERATIONS or
                                             iteration % ARJOVSKY_WARMUP_EVERY == 0):
            return ARJOVSKY_WARMUP_STEPS
        return self.config["n_critic"]

    def _set_learning_rate(self, iteration: int) -> None:
        factor = max(0.0, 1.0 - iteration / self.config["iterations"]) if self.config["lr_decay"] == "linear" else 1.0
        for optimizer in (self.g_optimizer, self.d_optimizer):
            for group in optimizer.param_groups:
                group["lr"] = self.config["lr"] * factor

    def _d_loss(self, real_scores, fake_scores):
        config = self.config
        return discriminator_loss(config["game"], real_scores, fake_scores, real_target=config["real_label"],
                                  flip_probability=config["flip_probability"], halve=config["halve_d_loss"])

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config["amp"] == "bf16")

    def critic_step_once(self) -> dict:
        config = self.config
        real = self._real_batch()
        with torch.set_grad_enabled(self.critic_needs_generator_graph), self._autocast():
            fake = self.generator_forward(self._noise(config["batch_size"]))
        penalise = self.penalise_critic and self.penalty.applies_at(self.critic_step)
        reuse = self.penalty.reuses_scores_of if penalise and self.penalty.fraction == 1.0 else None
        if reuse == "real":        # R1 differentiates the loss's own forward pass instead of a second one
            real.requires_grad_(True)
        elif reuse == "fake":
            fake = fake.detach().requires_grad_(True)
        if self.clipping:
            self.clipping.before_step(self.critic)
        with self._autocast():
            real_scores, fake_scores = self.critic_forward(real), self.critic_forward(fake)
            d_loss = self._d_loss(real_scores.float(), fake_scores.float())
            penalty = (self.penalty(self.critic_forward, real, fake, self.generator, step=self.critic_step,
                                    real_scores=real_scores, fake_scores=fake_scores)
                       if penalise else d_loss.new_zeros(()))
        self.d_optimizer.zero_grad(set_to_none=True)
        (d_loss + penalty).backward()
        self.d_optimizer.step()
        if self.clipping:
            self.clipping.after_step(self.critic)
        self.critic_step += 1
        self.last_real = real
        return {"d_loss": d_loss.detach(), "penalty": penalty.detach(),
                "wasserstein_estimate": wasserstein_estimate(real_scores, fake_scores).detach()}

    def generator_step_once(self) -> torch.Tensor:
        with self._autocast():
            fake = self.generator_forward(self._noise(self.config["generator_batch_size"]))
            g_loss = generator_loss(self.config["game"], self.critic_forward(fake).float())
            total = g_loss
            if self.penalise_generator:
                real = self.last_real.detach()
                total = g_loss + self.penalty(self.critic_forward, real, fake[: len(real)], self.generator,
                                              step=self.critic_step)
        self.g_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.g_optimizer.step()
        return g_loss.detach()

    def train_iteration(self, iteration: int) -> tuple[dict, int]:
        """One generator iteration of Gulrajani's loop: the generator step (none at iteration 0), then the
        critic steps. Returns the last step's losses (device tensors) and the samples it drew."""
        self._set_learning_rate(iteration)
        g_loss = self.generator_step_once() if iteration > 0 else None
        critic_steps = self._critic_steps_at(iteration)
        for _ in range(critic_steps):
            values = self.critic_step_once()
        values["g_loss"] = g_loss if g_loss is not None else torch.tensor(float("nan"))
        self._track_divergence(values, iteration)
        generator_samples = self.config["generator_batch_size"] if g_loss is not None else 0
        return values, critic_steps * self.config["batch_size"] + generator_samples

    def _track_divergence(self, values: dict, iteration: int) -> None:
        """Remember the first iteration with a non-finite loss, on the device: no host sync per iteration."""
        finite = torch.isfinite(values["d_loss"]) & torch.isfinite(values["penalty"])
        if iteration > 0:
            finite = finite & torch.isfinite(values["g_loss"])
        fresh = ~finite & (self.first_nonfinite < 0)
        self.first_nonfinite = torch.where(fresh, torch.full_like(self.first_nonfinite, iteration),
                                           self.first_nonfinite)

    # --- outputs ------------------------------------------------------------------------------------

    def save_samples(self) -> None:
        with torch.no_grad():
            generated = self.generator(self.fixed_noise).cpu().numpy()
        path = self.out / "samples" / f"iter_{self.iteration:06d}.png"
        if self.real_for_plots is not None:
            samples.save_scatter(path, self.real_for_plots, generated, f"{self.config['method']} - iteration {self.iteration}")
        else:
            value_range = (0.0, 1.0) if self.config["arch"] == "mnist" else (-1.0, 1.0)
            samples.save_image_grid(path, generated, value_range)

    def _log(self, values: dict, elapsed: float, samples_seen: int, interval: float) -> dict:
        line = {"iteration": self.iteration, "seconds": round(elapsed, 3)}
        line.update({key: _finite_or_none(float(value)) for key, value in values.items()})
        line["gradient_norm"] = (_finite_or_none(float(self.penalty.last_gradient_norm))
                                 if self.penalty.last_gradient_norm is not None else None)
        line["samples_per_s"] = round(samples_seen / interval, 1) if interval > 0 else None
        line.update(self.penalty.schedule_values(self.critic_step))
        with open(self.out / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(line) + "\n")
        return line

    # --- the loop -----------------------------------------------------------------------------------

    def run(self) -> str:
        config = self.config
        (self.out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        total = config["iterations"]
        if self.iteration >= total:
            self._write_status("completed")
            return "completed"
        self._write_status("running", data=self.data_source)
        start = self.started = time.perf_counter()
        last_log_time, samples_seen = start, 0
        bar = tqdm(total=total, initial=self.iteration, disable=not self.progress, dynamic_ncols=True,
                   desc=f"{config['method']} {config['dataset']} seed {config['seed']}", unit="it")
        try:
            while self.iteration < total:
                iteration = self.iteration
                values, samples = self.train_iteration(iteration)
                samples_seen += samples
                elapsed = self.elapsed_before + time.perf_counter() - start
                logging_now = iteration % config["log_every"] == 0 or iteration == total - 1
                writing_now = any((iteration + 1) % config[key] == 0 for key in
                                  ("sample_every", "snapshot_every", "checkpoint_every")) or iteration + 1 == total
                if (logging_now or writing_now) and int(self.first_nonfinite) >= 0:   # the only host syncs
                    diverged_at = int(self.first_nonfinite)
                    self._log(values, elapsed, samples_seen, time.perf_counter() - last_log_time)
                    self._write_status("diverged", data=self.data_source, iteration=diverged_at,
                                       message=f"non-finite loss at iteration {diverged_at}; "
                                               "checkpoint.pt holds the last good state")
                    print(f"gpbench train: diverged at iteration {diverged_at} (non-finite loss); "
                          f"last good checkpoint kept in {self.out / CHECKPOINT}")
                    return "diverged"
                if logging_now:
                    now = time.perf_counter()
                    line = self._log(values, elapsed, samples_seen, now - last_log_time)
                    last_log_time, samples_seen = now, 0
                    bar.set_postfix(d_loss=f"{line['d_loss']:.4g}", w=f"{line['wasserstein_estimate']:.4g}",
                                    g_loss="-" if line["g_loss"] is None else f"{line['g_loss']:.4g}")
                self.iteration += 1
                bar.update(1)
                if self.iteration % config["sample_every"] == 0 or self.iteration == total:
                    self.save_samples()
                if self.iteration % config["snapshot_every"] == 0 or self.iteration == total:
                    self._save_snapshot()
                if self.iteration % config["checkpoint_every"] == 0 or self.iteration == total:
                    self._save_checkpoint(self.elapsed_before + time.perf_counter() - start)
                    self._write_status("running", data=self.data_source)
        except BaseException as error:
            if not isinstance(error, KeyboardInterrupt):
                self._write_status("failed", data=self.data_source, message=f"{type(error).__name__}: {error}")
            raise
        finally:
            bar.close()
        self._write_status("completed", data=self.data_source)
        return "completed"


def parse_overrides(overrides: list[str]) -> dict:
    """``KEY=VALUE`` strings (VALUE parsed as YAML) -> dict."""
    parsed = {}
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set iterations=200")
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def train_from_file(config_path: str, out: str, overrides: list[str] | None = None, progress: bool = True) -> int:
    """``gpbench train``: 0 when the run completed or diverged (the status says which)."""
    config = load_run_config(config_path, parse_overrides(overrides or []))
    status = Trainer(config, out, progress=progress).run()
    if status == "completed":
        print(f"gpbench train: completed {config['iterations']} iterations of {config['method']} on "
              f"{config['dataset']}; outputs in {out}")
    return 0
