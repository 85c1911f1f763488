"""Feature extractors (Inception through its real weights-path code, LeNet) and `gpbench eval` end to end."""

import json
import logging
import re

import numpy as np
import pytest
import torch

from gpbench import DataError
from gpbench.cli import main
from gpbench.training.config import resolve
from gpbench.data import get_dataset
from gpbench.analysis.evaluate import EVAL_SEED, Evaluator, evaluate_run
from gpbench.metrics import IS_SPLITS, inception_score
from gpbench.metrics import features as feature_module
from gpbench.metrics.features import InceptionFeatures
from gpbench.metrics.lenet import LeNetFeatures, train_lenet
from gpbench.fileio import load_torch
from gpbench.training.train import Trainer

from test_data import write_idx


@pytest.fixture
def random_inception_weights(tmp_path, monkeypatch):
    """A random state dict of torch-fidelity's Inception architecture, saved to a file (no download)."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    with monkeypatch.context() as patch:
        patch.setattr(inception, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        model = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    path = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(model.state_dict(), path)
    return path


def test_inception_loads_weights_from_a_path_and_repeats_grayscale(random_inception_weights):
    extractor = InceptionFeatures(random_inception_weights, batch_size=2)
    rng = np.random.RandomState(0)
    gray = rng.randint(0, 256, size=(3, 1, 28, 28)).astype(np.uint8)
    features = extractor(gray)
    assert features["pool"].shape == (3, 2048) and features["logits"].shape == (3, 1008)
    assert features["pool"].dtype == np.float64 and np.isfinite(features["pool"]).all()
    rgb = extractor(np.repeat(gray, 3, axis=1))
    np.testing.assert_allclose(features["pool"], rgb["pool"], rtol=1e-6)


def test_missing_inception_weights_offline_is_an_actionable_error(tmp_path, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    monkeypatch.setattr(feature_module, "default_inception_weights", lambda: tmp_path / "hub" / "weights.pth")

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(inception, "load_state_dict_from_url", offline)
    with pytest.raises(DataError) as caught:
        InceptionFeatures()
    message = str(caught.value)
    assert "could not be downloaded" in message and str(tmp_path / "hub" / "weights.pth") in message
    assert "github.com" in message
    with pytest.raises(DataError, match="not found"):
        InceptionFeatures(tmp_path / "nowhere.pth")


def test_the_inception_weights_verb_copies_the_cached_file_or_says_where_to_put_one(tmp_path, monkeypatch, capsys):
    import hashlib

    out = tmp_path / "data" / feature_module.INCEPTION_WEIGHTS_FILE
    hub = tmp_path / "hub" / "weights.pth"
    monkeypatch.setattr(feature_module, "default_inception_weights", lambda: hub)

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert main(["inception-weights", "--out", str(out)]) == 2              # offline, nothing cached
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"gpbench inception-weights: error: {out}:")
    assert "github.com" in error and "eval.inception_weights" in error
    assert not out.exists() and not list(out.parent.glob("*.tmp"))

    hub.parent.mkdir()
    hub.write_bytes(b"not the official weights")
    assert main(["inception-weights", "--out", str(out)]) == 2              # a cached file of another hash
    assert "not the official 6726825d" in capsys.readouterr().err and not out.exists()

    digest = hashlib.sha256(hub.read_bytes()).hexdigest()
    monkeypatch.setattr(feature_module, "INCEPTION_WEIGHTS_SHA256_PREFIX", digest[:8])   # as if it were official
    assert main(["inception-weights", "--out", str(out)]) == 0
    assert out.read_bytes() == hub.read_bytes() and "copied from the torch hub cache" in capsys.readouterr().out


def test_lenet_trained_on_a_small_slice_separates_two_classes():
    rng = np.random.RandomState(0)
    images = np.zeros((200, 1, 28, 28), dtype=np.uint8)
    labels = np.arange(200) % 2
    images[labels == 0, :, :, :14] = 255          # left half lit vs right half lit
    images[labels == 1, :, :, 14:] = 255
    images = np.clip(images.astype(int) + rng.randint(-40, 40, size=images.shape), 0, 255).astype(np.uint8)
    extractor = LeNetFeatures(train_lenet(images, labels, epochs=2, progress=False))
    assert extractor.accuracy(images, labels) == 1.0
    features = extractor(images[:5])
    assert features["pool"].shape == (5, 1024) and features["logits"].shape == (5, 10)


def toy_run(tmp_path, **overrides):
    settings = dict(method="wgan-gp", dataset="8gaussians", dim=16, batch_size=32, iterations=4, checkpoint_every=2,
                    snapshot_every=2, log_every=1, seed=0, threads=1, data_root=str(tmp_path / "data"))
    settings.update(overrides)
    out = tmp_path / "run"
    Trainer(resolve(settings), out, progress=False).run()
    return out


def test_eval_on_a_toy_run_writes_curves_and_final_metrics_with_protocol(tmp_path, capsys):
    out = toy_run(tmp_path)
    assert main(["eval", str(out), "--samples", "300", "--curve-samples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "modes" in printed and "protocol" in printed and "300" in printed
    result = json.loads((out / "eval.json").read_text())
    assert result["iteration"] == 4 and result["status"] == "completed"
    assert result["protocol"]["samples"] == 300
    assert set(result["metrics"]) == {"modes", "total_modes", "high_quality", "emd", "swd", "sample_spread"}
    assert result["metrics"]["total_modes"] == 8 and 0 <= result["metrics"]["high_quality"] <= 1
    shown = float(re.search(r"high_quality: ([\d.e+-]+) %", printed)[1])          # printed in percent, as the tables
    assert shown == pytest.approx(100 * result["metrics"]["high_quality"], rel=1e-5)
    curve = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in curve] == [2, 4] and all(line["samples"] == 200 for line in curve)
    # re-running does not score the same snapshots again
    evaluate_run(out, samples=300, curve_samples=200, progress=False)
    assert len((out / "eval.jsonl").read_text().splitlines()) == 2


def test_eval_final_metrics_are_reproducible(tmp_path):
    out = toy_run(tmp_path)
    first = evaluate_run(out, samples=200, curves=False, progress=False)["metrics"]
    second = evaluate_run(out, samples=200, curves=False, progress=False)["metrics"]
    assert first == second


@pytest.mark.slow
def test_eval_on_an_mnist_like_run_uses_a_cached_lenet(tmp_path, monkeypatch, caplog):
    import gpbench.metrics.lenet as lenet

    monkeypatch.setattr(lenet, "LENET_MIN_SAMPLE_PASSES", 1)           # 2 epochs on the small slice
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    labels = np.arange(400) % 10
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.randint(0, 256, size=(400, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.randint(0, 256, size=(50, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(50) % 10)
    out = toy_run(tmp_path, dataset="fashion-mnist", dim=4, batch_size=20, iterations=2)
    result = evaluate_run(out, samples=100, curves=False, progress=False)
    assert set(result["metrics"]) == {"fid_lenet", "is_lenet", "is_lenet_std", "sample_spread"}
    assert result["metrics"]["fid_lenet"] > 0 and 1.0 <= result["metrics"]["is_lenet"] <= 10.0
    assert "50-image test split" in result["protocol"]["lenet"]
    cached = sorted(p.name for p in (tmp_path / "data" / "cache").iterdir())
    assert any(name.startswith("lenet-fashion-mnist-400-") and name.endswith("-2epochs.pt") for name in cached)
    stats = [name for name in cached if re.fullmatch(r"stats-fashion-mnist-train-lenet-lenet-[0-9a-f]{16}-100-of-400"
                                                     r"-v\d+\.npz", name)]
    assert len(stats) == 1                        # keyed by the LeNet's weights and the reference protocol
    # the floor: FID (LeNet) between those 100 training images and 100 others of the split
    assert any(name.startswith("stats-fashion-mnist-train-disjoint-lenet-lenet-") for name in cached)
    floor = result["protocol"]["real_floor"]
    assert floor["images"] == 100 and 0 < floor["fid_lenet"] < result["metrics"]["fid_lenet"]
    # the real data's own score: the IS of the LeNet's logits on the reference statistics' 100 images
    real = result["protocol"]["real_score"]
    evaluator = Evaluator(get_dataset("fashion-mnist"), str(tmp_path / "data"), tmp_path / "data" / "cache",
                          ["is_lenet"], None, False, None, "cpu")
    pixels = evaluator.real_images()[0]
    chosen = np.sort(np.random.RandomState(EVAL_SEED).permutation(len(pixels))[:100])
    expected = inception_score(evaluator.extractor("lenet")(pixels[chosen], progress=False)["logits"], splits=IS_SPLITS)
    assert real == {"is_lenet": pytest.approx(expected[0]), "is_lenet_std": pytest.approx(expected[1]), "images": 100}
    again = evaluate_run(out, samples=100, curves=False, progress=False)
    assert again["metrics"] == result["metrics"]                      # cached LeNet and statistics
    cache = tmp_path / "data" / "cache"
    (cache / stats[0]).write_bytes((cache / stats[0]).read_bytes()[:50])          # a kill mid-write, a full disk
    [lenet_file] = cache.glob("lenet-*.pt")
    lenet_file.write_bytes(lenet_file.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        repaired = evaluate_run(out, samples=100, curves=False, progress=False)
    assert "training the LeNet again" in caplog.text and "unreadable (" in caplog.text
    assert repaired["metrics"] == result["metrics"]      # the same seeded LeNet again, the statistics recomputed
    assert load_torch(lenet_file)["accuracy"] > 0
    # statistics stored under this key but made with other weights (stale): recomputed, never used
    np.savez(cache / stats[0], mu=np.zeros(3), sigma=np.eye(3), extractor=np.array("lenet-0000000000000000"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert evaluate_run(out, samples=100, curves=False, progress=False)["metrics"] == result["metrics"]
    assert "made with other weights (lenet-0000000000000000); recomputing" in caplog.text


def test_eval_rejects_metrics_that_do_not_fit_and_missing_runs(tmp_path, capsys):
    out = toy_run(tmp_path)
    assert main(["eval", str(out), "--metrics", "fid"]) == 2
    assert "does not apply to 8gaussians" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    assert "gpbench train" in capsys.readouterr().err


def test_eval_refuses_a_run_another_process_is_training(tmp_path, capsys):
    from gpbench.training.rundir import RunDir

    out = toy_run(tmp_path)
    lock = RunDir(out).lock()                     # as a live trainer holds it
    try:
        assert main(["eval", str(out), "--samples", "300"]) == 2
        error = capsys.readouterr().err
        assert f"{out} is being trained by process " in error and "evaluate it once training has stopped" in error
        assert not (out / "eval.json").exists()
    finally:
        lock.release()
    assert RunDir(out).trained_by() is None
    assert main(["eval", str(out), "--samples", "300", "--curve-samples", "200"]) == 0
