"""Feature extractors, kept apart from the statistics, behind one base class (the registry that names them is
:mod:`gpbench.metrics.registry`).

Each takes uint8 images (N, C, H, W) and returns float64 ``{"pool": (N, D), "logits": (N, K)}``:
- ``inception``: torch-fidelity's ``inception-v3-compat`` (TF-1 compatible resize and weights
  ``weights-inception-2015-12-05-6726825d.pth``): pool3 (2048) for FID/KID, the 1008 ``logits_unbiased`` for
  IS; grayscale is repeated to 3 channels;
- ``lenet``: the LeNet classifier of :mod:`gpbench.metrics.lenet`: its 1024 penultimate features for
  "FID (LeNet)" and its logits for "IS (LeNet)" (docs/metrics.md, "MNIST-like data").
"""

from __future__ import annotations

import hashlib
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpbench.errors import DataError
from gpbench.fileio import replace_atomically
from gpbench.progress import progress_bar

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_SHA256_PREFIX = "6726825d"     # torch hub's convention: the file name carries its hash's prefix
INCEPTION_NAME = "inception-v3-compat"
RANDOM_WEIGHTS_SUFFIX = ".random.json"           # the companion `gpbench rehearsal-data` writes beside random weights
RANDOM_INCEPTION = "RANDOM INCEPTION"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def weights_identity(path: Path, digest: str) -> str:
    """What the Inception weights at ``path`` (sha256 ``digest``) are: the official ones, random ones written for
    a rehearsal, or other weights, whose numbers cannot be compared with published ones."""
    if path.with_name(path.name + RANDOM_WEIGHTS_SUFFIX).is_file():
        return f"{RANDOM_INCEPTION}: random weights written by gpbench rehearsal-data ({path}); the numbers mean nothing"
    if digest.startswith(INCEPTION_WEIGHTS_SHA256_PREFIX):
        return f"the official {INCEPTION_WEIGHTS_FILE} (sha256 {digest[:16]}...)"
    return (f"UNOFFICIAL INCEPTION WEIGHTS at {path} (sha256 {digest[:16]}..., not the official "
            f"{INCEPTION_WEIGHTS_SHA256_PREFIX}...): not comparable with published numbers")


@dataclass(frozen=True)
class ExtractorSettings:
    """What any extractor may need to be built: the dataset's name and classifier data, where caches and
    weights are, and whether to show progress."""

    dataset: object                      # gpbench.data.Dataset
    data_root: str
    cache_dir: Path
    inception_weights: str | None = None
    lenet_epochs: int | None = None
    progress: bool = True
    device: str = "cpu"                  # where Inception runs; the LeNet is small and stays on the CPU


class FeatureExtractor:
    """Batches uint8 images through :meth:`features`; ``notes`` says, for the protocol, what was used, and
    ``identity`` (a digest of the weights) keys the cached reference statistics made with it."""

    label = "features"

    def __init__(self, batch_size: int, identity: str):
        self.batch_size = batch_size
        self.identity = identity
        self.notes: dict[str, object] = {}

    def features(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, images: np.ndarray, progress: bool = False) -> dict[str, np.ndarray]:
        pools, logits = [], []
        for start in progress_bar(range(0, len(images), self.batch_size), desc=self.label, unit="batch",
                          total=math.ceil(len(images) / self.batch_size), disable=not progress, leave=False):
            pool, logit = self.features(images[start:start + self.batch_size])
            pools.append(pool.double().cpu().numpy())
            logits.append(logit.double().cpu().numpy())
        return {"pool": np.concatenate(pools), "logits": np.concatenate(logits)}


def default_inception_weights() -> Path:
    """Where torch-fidelity's download puts the weights: the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def _inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def fetch_inception_weights(out: Path) -> str:
    """Put the official Inception weights at ``out`` where the network is (the pipeline's local rule, so that
    cluster jobs never download): a copy of the torch hub cache's file when it is there, a download otherwise;
    checked against the hash prefix in the file's name and written atomically. Returns what was done."""
    out = Path(out)
    cached = default_inception_weights()
    how = (f"copied from the torch hub cache ({cached})" if cached.is_file()
           else f"downloaded from {_inception_url()}")

    def fetch(temporary: Path) -> None:
        try:
            if cached.is_file():
                shutil.copyfile(cached, temporary)
            else:
                torch.hub.download_url_to_file(_inception_url(), str(temporary), progress=False)
        except (OSError, RuntimeError) as error:        # urllib's URLError is an OSError
            raise DataError(f"{out}: the Inception weights could not be fetched ({type(error).__name__}: {error}); "
                            f"download {_inception_url()} where a network is and put it there (or point the "
                            "suite's eval.inception_weights at it)") from None
        digest = file_sha256(temporary)
        if not digest.startswith(INCEPTION_WEIGHTS_SHA256_PREFIX):
            raise DataError(f"{out}: the fetched file has sha256 {digest[:16]}..., not the official "
                            f"{INCEPTION_WEIGHTS_SHA256_PREFIX}...; delete {cached} if it is that file, and fetch "
                            "again")

    out.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(out, fetch)
    return f"{out}: the official {INCEPTION_WEIGHTS_FILE}, {how}"


class InceptionFeatures(FeatureExtractor):
    """``weights_path=None`` uses the torch hub cache file, downloading it when a network is there; offline and
    without the file it raises a DataError saying where to put which file."""

    label = "inception features"

    def __init__(self, weights_path: str | Path | None = None, device: str | torch.device = "cpu",
                 batch_size: int = 64):
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        cached = default_inception_weights()
        if weights_path is None and cached.is_file():
            weights_path = cached
        if weights_path is not None and not Path(weights_path).is_file():
            raise DataError(f"Inception weights not found at {weights_path}; download {_inception_url()} "
                            f"and pass its path, or put it at {cached}")
        try:
            model = FeatureExtractorInceptionV3(INCEPTION_NAME, ["2048", "logits_unbiased"],
                                                feature_extractor_weights_path=None if weights_path is None
                                                else str(weights_path))
        except Exception as error:
            if weights_path is None:
                raise DataError(f"Inception weights could not be downloaded ({type(error).__name__}: {error}). "
                                f"Download {_inception_url()} on a machine with network access and put it at "
                                f"{cached} (or pass its path with --inception-weights FILE)") from None
            raise DataError(f"{weights_path} is not torch-fidelity's {INCEPTION_WEIGHTS_FILE} "
                            f"({type(error).__name__}: {error})") from None
        used = Path(weights_path) if weights_path is not None else cached
        digest = file_sha256(used) if used.is_file() else None
        super().__init__(batch_size, f"inception-{digest[:16]}" if digest else "inception-torch-fidelity-default")
        self.model = model.to(device)
        self.device = torch.device(device)
        self.notes["inception"] = ("torch-fidelity inception-v3-compat: pool3 (2048) for FID/KID, "
                                   "logits_unbiased (1008) for IS")
        if digest:
            self.notes["inception_weights"] = weights_identity(used, digest)

    @classmethod
    def from_settings(cls, settings: ExtractorSettings) -> "InceptionFeatures":
        return cls(settings.inception_weights, device=settings.device)

    def features(self, batch):
        tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        if tensor.shape[1] == 1:
            tensor = tensor.repeat(1, 3, 1, 1)
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):  # float32 convolutions, as on the CPU
            pool, logits = self.model(tensor)
        return pool, logits
