"""``gpbench eval``: metrics of a run's generator snapshots and final checkpoint, with their protocol.

Writes next to the run: ``eval.jsonl`` (one line per generator snapshot: the curve, scored on
``curve_samples``) and ``eval.json`` (the final checkpoint, scored on ``samples``, with the protocol).
The statistics are :mod:`gpbench.metrics`' pure functions; the feature extractors, the LeNet and the real-data
reference statistics are built and cached by the metrics package; this module only orchestrates.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from gpbench.training import samples as sample_pictures
from gpbench.training.config import model_options
from gpbench.training.device import resolve_device
from gpbench.data import Dataset, get_dataset, toy
from gpbench.errors import ConfigError, RunDirError
from gpbench.metrics import (FEATURE_METRICS, IS_SPLITS, KID_SUBSET_SIZE, KID_SUBSETS, METRICS, PERCENT, displayed,
                             feature_statistics, fid_from_stats, inception_score, kid_from_features)
from gpbench.metrics.features import ExtractorSettings, FeatureExtractor
from gpbench.metrics.collapse import relative_spread
from gpbench.metrics.reference import reference_statistics_cached, reference_statistics_path
from gpbench.metrics.registry import build_extractor
from gpbench.metrics.toy import EMD_MAX_SAMPLES
from gpbench.models import build
from gpbench.training.rundir import CHECKPOINT, RunDir

log = logging.getLogger(__name__)

EVAL_SEED = 2020                  # noise for generated samples and the choice of real samples
MAX_SAMPLES = {"toy": 1_000_000, "image": 100_000}   # generated samples one evaluation holds in memory
MAX_LENET_EPOCHS = 1000


def check_sample_count(option: str, count: int | None, dataset: Dataset, metrics: list[str]) -> None:
    """A sample count every requested metric can use: FID needs 2 (a covariance), IS one per split."""
    if count is None:
        return
    low = IS_SPLITS if any(METRICS[m].features and m in ("is", "is_lenet") for m in metrics) else 2
    high = MAX_SAMPLES["toy" if dataset.is_toy else "image"]
    if isinstance(count, bool) or not isinstance(count, int) or not low <= count <= high:
        raise ConfigError(f"{option}: expected a whole number from {low:,} to {high:,} for {', '.join(metrics)} "
                          f"on {dataset.name}, got {count!r}")


def _generator_from(config: dict, state: dict, device: torch.device, where: Path) -> torch.nn.Module:
    """The generator ``config`` builds, with the weights saved in ``where`` (one line when they do not fit)."""
    generator, _ = build(config["arch"], **model_options(config))
    try:
        generator.load_state_dict(state["generator"])
    except (RuntimeError, KeyError, TypeError) as error:
        raise RunDirError(f"{where} holds a generator of another shape than the run's config.yaml builds "
                          f"({type(error).__name__}: {str(error).splitlines()[0][:160]}); it was written by another "
                          "config: train again into a fresh --out") from None
    return generator.to(device)


@torch.no_grad()
def generate(generator: torch.nn.Module, count: int, batch_size: int, seed: int = EVAL_SEED) -> np.ndarray:
    """``count`` samples from seeded noise, in batches of the training batch size (batchnorm uses batch
    statistics, as in training). The noise is drawn on the CPU, so every device sees the same noise."""
    device = next(generator.parameters()).device
    noise = torch.randn(count, generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([generator(chunk.to(device)).cpu() for chunk in noise.split(batch_size)]).numpy()


def check_lenet_epochs(epochs: int | None) -> None:
    if epochs is not None and (isinstance(epochs, bool) or not 1 <= epochs <= MAX_LENET_EPOCHS):
        raise ConfigError(f"--lenet-epochs: expected a whole number from 1 to {MAX_LENET_EPOCHS}, got {epochs!r}")


class Evaluator:
    """Scores generators of one dataset with one protocol; holds extractors and cached references."""

    def __init__(self, dataset: Dataset, data_root: str, cache_dir: Path, metrics: list[str],
                 inception_weights: str | None = None, progress: bool = True, lenet_epochs: int | None = None,
                 device: str = "cpu"):
        for metric in metrics:
            if metric not in dataset.metrics:
                raise ConfigError(f"--metrics: {metric!r} does not apply to {dataset.name}; allowed: "
                                  f"{', '.join(dataset.metrics)}")
        self.dataset = dataset
        self.metrics = metrics
        self.progress = progress
        self.settings = ExtractorSettings(dataset, data_root, Path(cache_dir), inception_weights, lenet_epochs,
                                          progress, str(device))
        self._extractors: dict[str, FeatureExtractor] = {}
        self._real_images: tuple[np.ndarray, np.ndarray, str] | None = None

    # --- real data and features ---------------------------------------------------------------------

    def real_images(self) -> tuple[np.ndarray, np.ndarray, str]:
        if self._real_images is None:
            self._real_images = self.dataset.load(self.settings.data_root, "train")
        return self._real_images

    def extractor(self, kind: str) -> FeatureExtractor:
        if kind not in self._extractors:
            self._extractors[kind] = build_extractor(kind, self.settings)
        return self._extractors[kind]

    def feature_kinds(self) -> list[str]:
        return sorted({METRICS[metric].features for metric in self.metrics if METRICS[metric].features})

    def reference_statistics(self, kind: str, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mu, sigma, features-or-None) of ``count`` real training images (a seeded choice), cached per
        (dataset, split, extractor, n); features are cached too when KID needs them."""
        pixels = self.real_images()[0]
        count = min(count, len(pixels))
        identity = self.extractor(kind).identity
        path = reference_statistics_path(self.settings.cache_dir, self.dataset.name, "train", kind, count,
                                         len(pixels), identity)

        def extract():
            return self.extractor(kind)(pixels[self._reference_choice(count)], progress=self.progress)["pool"]

        return reference_statistics_cached(path, extract, "kid" in self.metrics and kind == "inception", identity)

    def real_floor(self, kind: str, count: int) -> dict:
        """The Fréchet distance between two disjoint sets of real training images of ``count`` each (at most half
        the split): what a generator as good as the data scores at this sample size. The first set is the
        reference statistics' own images; the second, the next ``count`` of the same seeded order."""
        pixels = self.real_images()[0]
        count = min(count, len(pixels) // 2)
        mu, sigma, _ = self.reference_statistics(kind, count)
        identity = self.extractor(kind).identity
        path = reference_statistics_path(self.settings.cache_dir, self.dataset.name, "train-disjoint", kind, count,
                                         len(pixels), identity)

        def extract():
            chosen = self._reference_choice(count, skip=count)
            return self.extractor(kind)(pixels[chosen], progress=self.progress)["pool"]

        other_mu, other_sigma, _ = reference_statistics_cached(path, extract, False, identity)
        return {FEATURE_METRICS[kind][0]: fid_from_stats(mu, sigma, other_mu, other_sigma), "images": count}

    def real_score(self, kind: str, count: int) -> dict:
        """The Inception score (with ``kind``'s classifier) of the reference statistics' ``count`` real training
        images: what a generator as good as the data scores; Table 1's thresholds read against it."""
        pixels = self.real_images()[0]
        count = min(count, len(pixels))
        logits = self.extractor(kind)(pixels[self._reference_choice(count)], progress=self.progress)["logits"]
        is_key = FEATURE_METRICS[kind][1]
        value, std = inception_score(logits, splits=IS_SPLITS)
        return {is_key: value, f"{is_key}_std": std, "images": count}

    def _reference_choice(self, count: int, skip: int = 0) -> np.ndarray:
        """Indices (sorted) of ``count`` training images after the first ``skip`` of one seeded order: the
        reference set (skip 0) and the disjoint floor set (skip = count)."""
        order = np.random.RandomState(EVAL_SEED).permutation(len(self.real_images()[0]))
        return np.sort(order[skip:skip + count])

    # --- scoring ------------------------------------------------------------------------------------

    def score(self, generated: np.ndarray) -> dict:
        """Metrics of generated samples (model outputs) against the real data."""
        if self.dataset.is_toy:
            return self._score_points(generated)
        pixels = sample_pictures.to_uint8(generated, self.dataset.value_range)
        real = self.real_images()[0]
        results: dict[str, float | int] = {"sample_spread": relative_spread(pixels, real[:len(pixels)])}
        for kind in self.feature_kinds():
            features = self.extractor(kind)(pixels, progress=self.progress)
            fid_key, is_key = FEATURE_METRICS[kind]
            wants_kid = kind == "inception" and "kid" in self.metrics
            if fid_key in self.metrics or wants_kid:
                mu, sigma, real_features = self.reference_statistics(kind, len(pixels))
                if fid_key in self.metrics:
                    results[fid_key] = fid_from_stats(*feature_statistics(features["pool"]), mu, sigma)
                if wants_kid:
                    size = min(KID_SUBSET_SIZE, len(pixels), len(real_features))
                    results["kid"], results["kid_std"] = kid_from_features(features["pool"], real_features,
                                                                           subsets=KID_SUBSETS, subset_size=size)
            if is_key in self.metrics:
                results[is_key], results[f"{is_key}_std"] = inception_score(features["logits"], splits=IS_SPLITS)
        return results

    def _score_points(self, generated: np.ndarray) -> dict:
        real = toy.sample(self.dataset.name, len(generated), EVAL_SEED)
        results: dict[str, float | int] = {"sample_spread": relative_spread(generated, real)}
        for name, info in METRICS.items():          # in the table's order, as eval.json has always listed them
            if name in self.metrics:
                results.update(info.points(generated, real, self.dataset.name, EVAL_SEED))
        return results

    def protocol(self, count: int) -> dict:
        protocol = {"samples": count, "metrics": self.metrics, "noise_seed": EVAL_SEED}
        if self.dataset.is_toy:
            protocol["real"] = f"{count} fresh samples of {self.dataset.name} (seed {EVAL_SEED})"
            protocol["high_quality"] = "within 3 std of the nearest mode (VEEGAN/PacGAN)"
            if "emd" in self.metrics and count > EMD_MAX_SAMPLES:
                protocol["emd"] = f"exact, on a seeded subset of {EMD_MAX_SAMPLES:,} of the {count:,} samples of each set"
        else:
            pixels, _, source = self.real_images()
            protocol["real"] = f"{min(count, len(pixels)):,} images of {source} (seed {EVAL_SEED})"
            protocol["is_splits"] = IS_SPLITS
            protocol["device"] = self.settings.device
            protocol.update(self.notes())
        return protocol

    def notes(self) -> dict:
        """What the extractors built so far say about themselves (weights, LeNet accuracy)."""
        return {key: value for extractor in self._extractors.values() for key, value in extractor.notes.items()}


def evaluate_run(run_dir: str | Path, samples: int | None = None, curve_samples: int | None = None,
                 metrics: list[str] | None = None, cache_dir: str | Path | None = None,
                 inception_weights: str | None = None, curves: bool = True, progress: bool = True,
                 lenet_epochs: int | None = None, device: str = "auto") -> dict:
    """Evaluate a run directory; returns the eval.json payload. A run that diverged before its first
    checkpoint is recorded as such, with no metrics. The generator and Inception run on ``device``."""
    run = RunDir(run_dir)
    config = run.require_config()
    dataset = get_dataset(config["dataset"])
    metrics = metrics or list(dataset.default_metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"--metrics: unknown metric {unknown[0]!r}; allowed: {', '.join(METRICS)}")
    check_sample_count("--samples", samples, dataset, metrics)
    check_sample_count("--curve-samples", curve_samples, dataset, metrics)
    check_lenet_epochs(lenet_epochs)
    device = resolve_device(device, "--device")
    status = run.read_status()
    trainer = run.trained_by()
    if trainer:
        raise RunDirError(f"{run_dir} is being trained by {trainer} (iteration {status.get('iteration')} of "
                          f"{config['iterations']}); evaluate it once training has stopped")
    if not run.has_checkpoint():
        if status.get("status") != "diverged":
            raise RunDirError(f"{run_dir} has no checkpoint yet (status: {status.get('status', 'none')}); train it "
                              "first")
        return _record_without_checkpoint(run, config, status)
    if status.get("status") not in ("completed", "diverged"):
        log.warning("%s did not finish (status %s at iteration %s of %s): its numbers are scored but count nowhere "
                    "until it resumes and completes", run_dir, status.get("status", "none"), status.get("iteration"),
                    config["iterations"])
    samples = samples or dataset.eval_samples
    curve_samples = curve_samples or dataset.curve_samples
    cache_dir = Path(cache_dir) if cache_dir else Path(config["data_root"]) / "cache"
    evaluator = Evaluator(dataset, config["data_root"], cache_dir, metrics, inception_weights, progress, lenet_epochs,
                          device)
    batch = config["generator_batch_size"]

    if curves:
        done = {(line.get("iteration"), line.get("samples"), tuple(line.get("metrics_requested", ())))
                for line in run.read_eval_curve()}
        for iteration, snapshot in run.snapshots():
            if (iteration, curve_samples, tuple(metrics)) in done:
                continue
            state = run.load_snapshot(snapshot)
            if state is None:
                continue
            generated = generate(_generator_from(config, state, device, snapshot), curve_samples, batch)
            run.append_eval_curve({"iteration": state["iteration"], "elapsed_seconds": state.get("elapsed_seconds"),
                                   "samples": curve_samples, "metrics_requested": metrics,
                                   **evaluator.score(generated)})

    state = run.load_checkpoint(map_location="cpu")   # a GPU-trained run evaluates on any machine
    generated = generate(_generator_from(config, state, device, run.file(CHECKPOINT)), samples, batch)
    result = {**_run_facts(run, config, status), "iteration": state["iteration"],
              "elapsed_seconds": state.get("elapsed_seconds"), "metrics": evaluator.score(generated),
              "protocol": evaluator.protocol(samples)}
    if "fid_lenet" in metrics:           # the MNIST-like tables' floor (the LeNet is cheap; Inception is not)
        result["protocol"]["real_floor"] = evaluator.real_floor("lenet", samples)
    if "is_lenet" in metrics:            # and the real data's own score, the ceiling of the IS columns
        result["protocol"]["real_score"] = evaluator.real_score("lenet", samples)
    run.write_eval(result)
    return result


def _run_facts(run: RunDir, config: dict, status: dict) -> dict:
    return {"run": str(run.path), "method": config["method"], "dataset": config["dataset"], "seed": config["seed"],
            "status": status.get("status"), "status_iteration": status.get("iteration"), "data": status.get("data")}


def _record_without_checkpoint(run: RunDir, config: dict, status: dict) -> dict:
    """eval.json of a run that diverged before its first checkpoint: nothing to score, said so."""
    result = {**_run_facts(run, config, status), "iteration": 0, "elapsed_seconds": None, "metrics": {},
              "protocol": {"note": f"diverged at iteration {status.get('iteration')} before the first checkpoint: "
                                   "no generator to evaluate"}}
    run.write_eval(result)
    return result


def format_result(result: dict) -> str:
    """A few lines for the terminal: the metrics and the protocol they were measured with."""
    lines = [f"{result['method']} on {result['dataset']} (seed {result['seed']}), iteration {result['iteration']}"
             + (f" - {result['status']} at {result['status_iteration']}" if result["status"] == "diverged" else "")]
    for key, value in result["metrics"].items():
        shown, unit = displayed(key, value), " %" if key in PERCENT else ""
        lines.append(f"  {key:>14}: {shown:.6g}{unit}" if isinstance(shown, float) else f"  {key:>14}: {shown}")
    lines.append("protocol:")
    lines.extend(f"  {key}: {value}" for key, value in result["protocol"].items())
    return "\n".join(lines)


def prepare_metrics(dataset: str, data_root: str, cache_dir: str | Path | None = None, samples: list[int] | None = None,
                    metrics: list[str] | None = None, inception_weights: str | None = None,
                    lenet_epochs: int | None = None, progress: bool = True, device: str = "auto") -> dict:
    """Train/cache the LeNet and compute/cache the real-data reference statistics a dataset's evaluation
    needs, once, before parallel eval jobs read them. Returns the protocol notes."""
    info = get_dataset(dataset)
    if info.is_toy:
        return {"dataset": dataset, "note": "toy data: nothing to prepare"}
    metrics = metrics or list(info.default_metrics)
    for count in samples or []:
        check_sample_count("--samples", count, info, metrics)
    check_lenet_epochs(lenet_epochs)
    evaluator = Evaluator(info, data_root, Path(cache_dir) if cache_dir else Path(data_root) / "cache", metrics,
                          inception_weights, progress, lenet_epochs, resolve_device(device, "--device"))
    for count in samples or [info.eval_samples, info.curve_samples]:
        for kind in evaluator.feature_kinds():
            fid_key, _ = FEATURE_METRICS[kind]
            if fid_key in metrics or (kind == "inception" and "kid" in metrics):
                evaluator.reference_statistics(kind, count)
            else:
                evaluator.extractor(kind)
    return {"dataset": dataset, "metrics": metrics, "real": evaluator.real_images()[2], **evaluator.notes()}
