"""A folder of images as data: centre crop and box resize, sorted order, the cache and its identity, and one-line
errors for a missing folder, no images, an unreadable file and a size the nets do not take."""

import os

import numpy as np
import pytest
from PIL import Image

from gpbench import DataError
from gpbench.data.imagefolder import load_image_folder


def write(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **kwargs)


def test_images_are_centre_cropped_box_resized_and_sorted(tmp_path):
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = (200, 10, 30)                     # the centre square is one colour; the sides are black
    write(tmp_path / "b" / "wide.png", wide)
    write(tmp_path / "a.jpg", np.full((64, 64, 3), 128), quality=100)
    gray = np.arange(64 * 64).reshape(64, 64) % 256
    write(tmp_path / "c.PNG", gray)                    # grayscale, upper-case suffix
    (tmp_path / "notes.txt").write_text("not an image")
    pixels, source = load_image_folder(tmp_path, 32)
    assert pixels.shape == (3, 3, 32, 32) and pixels.dtype == np.uint8
    assert abs(int(pixels[0].mean()) - 128) <= 1                       # a.jpg first (sorted paths)
    assert (pixels[1].reshape(3, -1).T == (200, 10, 30)).all()       # b/wide.png: only its centre square remains
    box = gray.reshape(32, 2, 32, 2).mean(axis=(1, 3))               # 2x2 area means
    assert np.abs(pixels[2][0].astype(float) - box).max() <= 1 and (pixels[2][0] == pixels[2][1]).all()
    assert "3 images under" in source and "32x32" in source


def test_the_cache_is_used_until_a_file_changes(tmp_path):
    folder, cache = tmp_path / "images", tmp_path / "cache"
    write(folder / "one.png", np.full((8, 8, 3), 50))
    first, _ = load_image_folder(folder, 32, cache)
    [cached] = list(cache.iterdir())
    np.save(cached, np.full_like(first, 7), allow_pickle=False)      # a planted value shows the cache is read
    assert (load_image_folder(folder, 32, cache)[0] == 7).all()
    write(folder / "one.png", np.full((8, 8, 3), 60))
    os.utime(folder / "one.png", ns=(1, 1))                             # a new identity (mtime, size)
    assert (load_image_folder(folder, 32, cache)[0] == 60).all()
    for damaged in cache.iterdir():
        damaged.write_bytes(b"\x93NUMPY garbage")
    assert (load_image_folder(folder, 32, cache)[0] == 60).all()      # damaged: decoded again


def test_bad_folders_and_files_stop_with_one_line_naming_them(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder(tmp_path / "missing", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no PNG or JPEG files"):
        load_image_folder(tmp_path / "empty", 32)
    write(tmp_path / "mixed" / "good.png", np.zeros((8, 8, 3)))
    (tmp_path / "mixed" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError) as error:
        load_image_folder(tmp_path / "mixed", 64)
    message = str(error.value)
    assert "broken.jpg: unreadable image" in message and "\n" not in message
    with pytest.raises(DataError, match="resized to 32 or 64 pixels"):
        load_image_folder(tmp_path / "mixed", 48)


def test_an_image_folder_dataset_holds_out_every_20th_image_and_trains_figure2_at_64_pixels(tmp_path):
    from gpbench.training.config import resolve
    from gpbench.data import get_dataset
    from gpbench.training.rundir import RunDir
    from gpbench.training.train import Trainer

    for index in range(25):
        write(tmp_path / "data" / "imagefolder64" / f"{index:02d}.png", np.full((70, 90, 3), 10 * index))
    info = get_dataset("imagefolder64")
    train, labels, source = info.load(str(tmp_path / "data"), "train")
    test, _, _ = info.load(str(tmp_path / "data"), "test")
    assert train.shape == (23, 3, 64, 64) and test.shape == (2, 3, 64, 64) and (labels == -1).all()
    assert [int(image[0, 0, 0]) for image in test] == [0, 200]          # sorted order, images 0 and 20
    assert "train split: 23 images (all but every 20th image)" in source and "SYNTHETIC" not in source
    assert list((tmp_path / "data" / "cache").glob("imagefolder-*.npy"))  # decoded once, cached under data_root
    config = resolve({"method": "wgan-gp", "dataset": "imagefolder64", "arch": "figure2", "figure2_row": "dcgan",
                      "dim": 4, "batch_size": 8, "iterations": 1, "checkpoint_every": 1, "dev_samples": 2,
                      "threads": 1, "data_root": str(tmp_path / "data")})
    assert Trainer(config, tmp_path / "run", progress=False).run() == "completed"
    assert RunDir(tmp_path / "run").read_status()["status"] == "completed"


def test_the_rehearsal_folder_is_synthetic_says_so_and_is_never_written_over_real_images(tmp_path):
    from gpbench.data import get_dataset
    from gpbench.suite.rehearsal import write_synthetic_image_folder

    write_synthetic_image_folder(tmp_path, "imagefolder32", 12)
    pixels, _, source = get_dataset("imagefolder32").load(str(tmp_path), "train")
    assert pixels.shape == (11, 3, 32, 32) and source.startswith("SYNTHETIC DATA")
    write(tmp_path / "real" / "imagefolder32" / "photo.jpg", np.zeros((8, 8, 3)))
    with pytest.raises(DataError, match="photo.jpg without a SYNTHETIC marker"):
        write_synthetic_image_folder(tmp_path / "real", "imagefolder32", 12)
    assert [path.name for path in (tmp_path / "real" / "imagefolder32").iterdir()] == ["photo.jpg"]


def test_a_16_bit_image_is_scaled_from_its_depth_not_clipped_to_white(tmp_path):
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "deep.png")       # mid-grey at 16 bits
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    pixels, _ = load_image_folder(tmp_path, 32)
    assert (pixels == 128).all()                                         # 32768 * 255 / 65535 = 127.5 -> 128


def test_a_decompression_bomb_is_refused_in_one_line(tmp_path, monkeypatch):
    write(tmp_path / "huge.png", np.zeros((64, 64, 3)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)                 # 4,096 pixels: over twice the limit
    with pytest.raises(DataError, match="huge.png: more pixels than Pillow's decompression-bomb limit .1,000.; "
                                        "shrink the image or remove it"):
        load_image_folder(tmp_path, 32)


def test_one_image_is_too_few_for_a_training_split_and_says_so(tmp_path):
    from gpbench.data.imagefolder import load_split

    write(tmp_path / "only.png", np.zeros((8, 8, 3)))
    with pytest.raises(DataError, match="1 image is too few: every 20th is held out, so the train split is empty; "
                                        "put at least 2 images there"):
        load_split(tmp_path, 32, "train")


def test_a_pixel_cache_that_cannot_be_written_is_skipped_with_a_warning(tmp_path, caplog):
    write(tmp_path / "images" / "one.png", np.full((8, 8, 3), 50))
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    with caplog.at_level("WARNING"):
        pixels, _ = load_image_folder(tmp_path / "images", 32, tmp_path / "cache")
    assert (pixels == 50).all()
    assert "cannot write the pixel cache" in caplog.text and "going on without it" in caplog.text
