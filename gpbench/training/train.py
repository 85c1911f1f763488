"""Gulrajani's training loop with checkpoints, resume, logging and divergence handling (``gpbench train``).

Each generator iteration: one generator step (skipped at iteration 0), then ``n_critic`` critic steps on
fresh real batches, the generator run without autograd (unless the penalty needs G's graph). The loop only
schedules: the losses and the penalty live in :class:`gpbench.training.losses.GanLoss`, the run's files in
:class:`gpbench.training.rundir.RunDir`, the learning rate and critic steps per iteration in
:class:`gpbench.training.schedule.TrainingSchedule`, what it logs in
:class:`gpbench.training.reporter.RunReporter`, the sample pictures in
:class:`gpbench.training.samples.SamplePictures`, the dev critic cost in
:class:`gpbench.training.devcost.DevCost` and what a checkpoint holds in :mod:`gpbench.training.checkpoints`.
One trainer holds a run directory at a time (a lock); re-running on it resumes bitwise-identically on CPU.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np
import torch

from gpbench.training import samples
from gpbench.training.checkpoints import (Counters, TrainingState, all_finite, check_same_run, checkpoint_state,
                                          restore_checkpoint, snapshot_state)
from gpbench.training.config import display_name, load_run_config, model_options, parse_overrides, run_penalty
from gpbench.training.device import critic_flops, default_threads, physical_cores, resolve_device
from gpbench.data import dev_data, get_dataset, make_stream
from gpbench.training.devcost import DevCost
from gpbench.training.engine import StepParts, build_engine, choose_engine, compiled, memory_format
from gpbench.errors import ConfigError, RunDirError
from gpbench.training.losses import GanLoss, WeightClipping
from gpbench.models import build
from gpbench.training.optim import build_optimizer
from gpbench.training.reporter import RunReporter
from gpbench.training.rundir import CHECKPOINT, RunDir
from gpbench.training.schedule import TrainingSchedule

log = logging.getLogger(__name__)

STATE_BYTES_PER_PARAMETER = 16          # float32 weights, gradients and two Adam moments


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (MemAvailable on a Linux CPU), or None where it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def check_memory(config: dict, device: torch.device) -> None:
    """A ConfigError before anything is allocated when the models' weights, gradients and optimizer state alone
    need more memory than the device has free (the models are built on the meta device: no memory, no RNG)."""
    with torch.device("meta"):
        generator, critic = build(config["arch"], **model_options(config))
    parameters = sum(p.numel() for model in (generator, critic) for p in model.parameters())
    needed, available = STATE_BYTES_PER_PARAMETER * parameters, free_memory(device)
    if available is not None and needed > available:
        raise ConfigError(f"dim: {config['dim']} (depth {config['depth']}) builds {parameters:,} parameters: "
                          f"{needed / 2**30:.1f} GiB with gradients and optimizer state, but this {device.type} has "
                          f"{available / 2**30:.1f} GiB free; lower dim")


class Trainer:
    """One run: build everything from a resolved config, resume from the run directory's checkpoint."""

    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        self.config = config
        self.run_dir = RunDir(out)
        self.out = self.run_dir.path
        self.progress = progress
        if self.out.exists() and not self.out.is_dir():
            raise RunDirError(f"--out {self.out} is a file, not a run directory")
        self.device = resolve_device(config["device"])
        check_memory(config, self.device)
        check_same_run(str(self.out), self.run_dir.read_config(), config)
        self.dataset = get_dataset(config["dataset"])
        data = (config["dataset"], config["seed"], config["data_root"], config["dequantize"], config["train_subset"])
        self.stream, self.data_source = make_stream(config["dataset"], config["batch_size"], *data[1:])
        self.dev = dev_data(config["dataset"], config["dev_samples"], *data[1:])
        if self.dev is None:
            log.warning("%s has no held-out split to speak of: the dev critic cost is not logged", config["dataset"])
        self.run_dir.create()                           # bad configs and missing data failed above
        self.lock = self.run_dir.lock()
        try:
            self._build()
            if self.run_dir.has_checkpoint():
                self._load_checkpoint()
        except BaseException:
            self.lock.release()
            raise

    def _build(self) -> None:
        config = self.config
        random.seed(config["seed"])
        np.random.seed(config["seed"])
        torch.manual_seed(config["seed"])
        generator, critic = build(config["arch"], **model_options(config))
        self.memory_format = memory_format(config, self.device)
        self.generator = generator.to(self.device, memory_format=self.memory_format)
        self.critic = critic.to(self.device, memory_format=self.memory_format)
        self._set_threads()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        engine, capture, why_not = choose_engine(config, self.device)
        if why_not:
            log.warning(why_not)
        capturable = self.device.type == "cuda"          # both engines: the same optimizer arithmetic on a GPU
        self.g_optimizer = build_optimizer(config["optimizer"], self.generator, config["generator_lr"], config["betas"],
                                           capturable)
        self.d_optimizer = build_optimizer(config["optimizer"], self.critic, config["critic_lr"], config["betas"],
                                           capturable)
        self.schedule = TrainingSchedule.from_config(config)
        penalty = run_penalty(config)
        self.loss = GanLoss(config["game"], penalty, real_label=config["real_label"],
                            flip_probability=config["flip_probability"], halve_d_loss=config["halve_d_loss"],
                            autocast=self._autocast)
        # torch.compile: the generator always; the critic only when no penalty differentiates it twice
        self.generator_forward = compiled(self.generator, config)
        self.critic_forward = self.critic if penalty.needs_double_backward else compiled(self.critic, config)
        self.clipping = WeightClipping(config["clip"], config["clip_placement"]) if config["clip"] else None
        self.pictures = samples.SamplePictures(self.dataset, config["seed"], self.generator.noise_dim, self.device)
        self.dev_cost = (DevCost(self.dev, config["seed"], config["batch_size"], self.device)
                         if self.dev is not None else None)
        self.reporter = RunReporter(self.run_dir, penalty.schedule_values,
                                    f"{display_name(config)} {config['dataset']} seed {config['seed']}",
                                    config["iterations"], self.progress)
        self.iteration = 0
        self.first_nonfinite = torch.tensor(-1, device=self.device)
        self.critic_step = 0
        self.elapsed_before = 0.0
        self.checkpointed_iteration: int | None = None      # where a resume starts (None: from the beginning)
        self.last_gradient_norm: torch.Tensor | None = None
        self.training_state = TrainingState(self.generator, self.critic, self.g_optimizer, self.d_optimizer, self.stream)
        self.engine = build_engine(StepParts(
            critic_body=self.critic_body, generator_body=self.generator_body, next_batch=self.next_batch,
            device=self.device, memory_format=self.memory_format, penalty=penalty,
            learning_rates=((self.g_optimizer, config["generator_lr"]), (self.d_optimizer, config["critic_lr"])),
            decaying_lr=config["lr_decay"] != "none"), engine, capture)
        self.critic_parameters = list(self.critic.parameters())
        self.generator_parameters = list(self.generator.parameters())

    def _set_threads(self) -> None:
        """The config's ``threads``; unset, a CPU run takes :func:`default_threads` for its critic and batch."""
        threads = self.config["threads"]
        if threads is None and self.device.type == "cpu":
            flops = critic_flops(self.generator, self.critic, self.config["batch_size"])
            threads = default_threads(flops, physical_cores())
            log.info("threads: %d (a critic forward of one batch is %.0f MFLOP; set threads to choose)", threads,
                     flops / 1e6)
        if threads:
            torch.set_num_threads(threads)

    def _write_status(self, status: str, **extra) -> None:
        self.run_dir.write_status(status, **{"iteration": self.iteration, "data": self.data_source,
                                             "engine": self.engine.name, "captured": self.engine.captured,
                                             **extra})

    def _elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    # --- checkpoints --------------------------------------------------------------------------------

    def _counters(self) -> Counters:
        return Counters(self.iteration, self.critic_step, self._elapsed())

    def _save_checkpoint(self) -> None:
        self.checkpointed_iteration = self.iteration
        self.run_dir.save_checkpoint(checkpoint_state(self.training_state, self._counters(), self.config, self.device,
                                                      self.engine.last_real))

    def _load_checkpoint(self) -> None:
        saved = self.run_dir.load_checkpoint(map_location="cpu")    # the optimizers place their state themselves
        counters, last_real = restore_checkpoint(self.training_state, saved, f"{self.out / CHECKPOINT}", self.config)
        self.iteration, self.critic_step, self.elapsed_before = (counters.iteration, counters.critic_step,
                                                                 counters.elapsed_seconds)
        if last_real is None and self.loss.penalty.on_generator_loss:
            last_real = self.next_batch()      # a checkpoint from before it was saved: draw one batch instead
        if last_real is not None:              # the next generator step's batch for a penalty on g_loss
            self.engine.restore_last_real(last_real)
        self.checkpointed_iteration = self.iteration
        self.run_dir.truncate_metrics(self.iteration)

    # --- steps --------------------------------------------------------------------------------------

    def _noise(self, count: int) -> torch.Tensor:
        return torch.randn(count, self.generator.noise_dim, device=self.device)

    def next_batch(self) -> torch.Tensor:
        """The next real batch from the run's stream, on the host (the engine places it)."""
        return torch.from_numpy(self.stream.next())

    def _set_learning_rate(self, iteration: int) -> None:
        self.engine.set_learning_rate(self.schedule.lr_factor(iteration))

    def _autocast(self):
        """bf16 autocast, its cast cache off (a captured graph must not keep casts made at capture time)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config["amp"] == "bf16",
                              cache_enabled=False)

    def critic_body(self, real: torch.Tensor, step: int, values: dict | None = None) -> dict:
        """One critic step on ``real`` (Gulrajani Algorithm 1, lines 3-9): only tensor work, no host sync, so an
        engine may capture it. ``values``: the penalty's schedule values (None: at ``step``)."""
        with torch.set_grad_enabled(self.loss.critic_needs_generator_graph), self._autocast():
            fake = self.generator_forward(self._noise(self.config["batch_size"]))
        if self.clipping:
            self.clipping.before_step(self.critic)
        total, statistics = self.loss.critic_loss(self.critic_forward, self.generator, real, fake, step, values)
        self.d_optimizer.zero_grad(set_to_none=True)
        total.backward(inputs=self.critic_parameters)      # G's gradients here would be discarded unread
        self.d_optimizer.step()
        if self.clipping:
            self.clipping.after_step(self.critic)
        return statistics

    def generator_body(self, real: torch.Tensor, step: int, values: dict | None = None) -> dict:
        """One generator step (Algorithm 1, lines 11-12); ``real`` is the last critic batch (a penalty on g_loss
        uses it)."""
        with self._autocast():
            fake = self.generator_forward(self._noise(self.config["generator_batch_size"]))
        total, statistics = self.loss.generator_loss(self.critic_forward, self.generator, fake, real, step, values)
        self.g_optimizer.zero_grad(set_to_none=True)
        total.backward(inputs=self.generator_parameters)   # the critic's gradients would be discarded unread
        self.g_optimizer.step()
        return statistics

    def critic_step_once(self) -> dict:
        statistics = self.engine.critic_step(self.critic_step)
        self.critic_step += 1
        return self._keep_gradient_norm(statistics)

    def generator_step_once(self) -> torch.Tensor:
        return self._keep_gradient_norm(self.engine.generator_step(self.critic_step))["g_loss"]

    def _keep_gradient_norm(self, statistics: dict) -> dict:
        """Take the penalty's gradient norm out of a step's statistics, keeping the latest one for the log."""
        gradient_norm = statistics.pop("gradient_norm")
        if gradient_norm is not None:
            self.last_gradient_norm = gradient_norm
        return statistics

    def train_iteration(self, iteration: int) -> tuple[dict, int]:
        """One generator iteration of Gulrajani's loop: the generator step (none at iteration 0), then the
        critic steps. Returns the last step's losses (device tensors) and the samples it drew."""
        self._set_learning_rate(iteration)
        g_loss = self.generator_step_once() if iteration > 0 else None
        critic_steps = self.schedule.critic_steps(iteration)
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
        self.pictures.save(self.generator, self.run_dir.sample_path(self.iteration),
                           f"{display_name(self.config)} - iteration {self.iteration}")

    def dev_statistics(self) -> dict:
        """The dev critic cost at this iteration (:class:`gpbench.training.devcost.DevCost`)."""
        return self.dev_cost.statistics(self.critic_forward, self.generator_forward, self.generator.noise_dim,
                                        self.loss, self.iteration)

    def _log(self, values: dict, elapsed: float) -> dict:
        return self.reporter.record(self.iteration, self.critic_step, values, self.last_gradient_norm, elapsed)

    def _diverged(self, iteration: int, reason: str) -> str:
        kept = (f"{CHECKPOINT} holds the last good state" if self.run_dir.has_checkpoint()
                else "no checkpoint was written before it; `gpbench eval` records the run as diverged")
        self._write_status("diverged", iteration=iteration, message=f"{reason} at iteration {iteration}; {kept}")
        print(f"gpbench train: diverged at iteration {iteration} ({reason}); {kept}")
        return "diverged"

    # --- the loop -----------------------------------------------------------------------------------

    def run(self) -> str:
        try:
            return self._run()
        finally:
            self.lock.release()

    def _run(self) -> str:
        config = self.config
        self.run_dir.write_config(config)
        total = config["iterations"]
        if self.iteration >= total:
            self._write_status("completed")
            return "completed"
        self._write_status("running")
        self.started = time.perf_counter()
        try:
            self.reporter.start(self.iteration)          # TensorBoard's folder: a failure there is the run's too
            while self.iteration < total:
                iteration = self.iteration
                values, samples_drawn = self.train_iteration(iteration)
                self.reporter.count(samples_drawn)
                elapsed = self._elapsed()
                dev_now = iteration % config["dev_every"] == 0 or iteration == total - 1
                logging_now = dev_now or iteration % config["log_every"] == 0
                writing_now = any((iteration + 1) % config[key] == 0 for key in
                                  ("sample_every", "snapshot_every", "checkpoint_every")) or iteration + 1 == total
                if (logging_now or writing_now) and int(self.first_nonfinite) >= 0:   # the only host syncs
                    self._log(values, elapsed)
                    return self._diverged(int(self.first_nonfinite), "non-finite loss")
                if logging_now:
                    if dev_now and self.dev_cost is not None:
                        values.update(self.dev_statistics())
                    self._log(values, elapsed)
                self.iteration += 1
                self.reporter.advance()
                checkpoint_now = self.iteration % config["checkpoint_every"] == 0 or self.iteration == total
                if checkpoint_now and not all_finite((self.generator, self.critic),
                                                     (self.g_optimizer, self.d_optimizer)):
                    return self._diverged(iteration, "non-finite parameters or optimizer state")
                if self.iteration % config["sample_every"] == 0 or self.iteration == total:
                    self.save_samples()
                if self.iteration % config["snapshot_every"] == 0 or self.iteration == total:
                    self.run_dir.save_snapshot(self.iteration, snapshot_state(self.generator, self._counters()))
                if checkpoint_now:
                    self._save_checkpoint()
                    self.reporter.flush()
                    self._write_status("running")
        except KeyboardInterrupt as error:          # Ctrl-C, or SIGTERM from Snakemake or SLURM (cli.main)
            self._record_interruption(error)
            raise
        except BaseException as error:
            self._record_failure(error)
            raise
        finally:
            self.reporter.close()
        self._write_status("completed")
        return "completed"

    def _record_interruption(self, error: KeyboardInterrupt) -> None:
        """status.json says "interrupted", at which iteration, and where the same command resumes: no verb takes
        the run for a finished one."""
        resume = self.checkpointed_iteration
        try:
            self._write_status("interrupted", message=f"{str(error) or 'interrupted'} at iteration {self.iteration} "
                               f"of {self.config['iterations']}; the same command resumes from "
                               f"{'the checkpoint at iteration ' + str(resume) if resume else 'the beginning'}",
                               resumes_from=resume or 0)
        except OSError:
            pass

    def _record_failure(self, error: BaseException) -> None:
        """status.json says "failed" and why, where it can still be written (not on a full disk)."""
        try:
            self._write_status("failed", message=f"{type(error).__name__}: {error}")
        except OSError:
            pass


def train_from_file(config_path: str, out: str, overrides: list[str] | None = None, progress: bool = True) -> int:
    """``gpbench train``: 0 when the run completed or diverged (the status says which)."""
    config = load_run_config(config_path, parse_overrides(overrides or []))
    status = Trainer(config, out, progress=progress).run()
    if status == "completed":
        print(f"gpbench train: completed {config['iterations']} iterations of {display_name(config)} on "
              f"{config['dataset']}; outputs in {out}")
    return 0
