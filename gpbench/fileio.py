"""Files written whole or not at all, and read back safely: atomic text, JSON, numpy and torch writes (a temporary
file renamed over the target, removed if the write fails; every helper takes the path first), JSON-lines logs that
survive a kill or a full disk (a partial last line is dropped with a warning), torch files read as tensors and
plain values only, and a digest of a saved state. The run directory, the data and reference-statistics caches, the
LeNet cache, the Inception weights, the pipeline's files and the report all write through here."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from gpbench.errors import RunDirError

log = logging.getLogger(__name__)


def replace_atomically(path: Path, write) -> None:
    """``write(temporary_path)``, then rename it over ``path``: a killed process never leaves half a file, a
    failed write (a full or read-only disk) leaves no temporary file behind, and processes writing the same file at
    once (two jobs filling one cache) each write their own temporary."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(path)           # say which file could not be written
        raise


def write_text_atomic(path: Path, text: str) -> None:
    replace_atomically(path, lambda temporary: temporary.write_text(text))


def write_csv_atomic(path: Path, fieldnames: list[str], rows: list[dict]) -> None:
    """A CSV table with a header, atomically; keys a row lacks are left empty."""
    import csv

    def write(temporary: Path) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames, restval="", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    replace_atomically(path, write)


def save_figure_atomic(figure, path: Path) -> None:
    """A matplotlib figure saved atomically, in the format its suffix names."""
    replace_atomically(path, lambda temporary: figure.savefig(temporary, format=Path(path).suffix.lstrip(".") or "png"))


def save_arrays_atomic(path: Path, arrays: dict[str, np.ndarray] | np.ndarray) -> None:
    """numpy arrays atomically, under exactly ``path``: one array as .npy, a mapping of them as .npz."""
    def save(temporary: Path) -> None:
        with open(temporary, "wb") as handle:          # a handle: numpy would append its suffix to a name
            if isinstance(arrays, dict):
                np.savez(handle, **arrays)
            else:
                np.save(handle, arrays, allow_pickle=False)

    replace_atomically(path, save)


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload) + "\n")


def torch_save_atomic(path: Path, payload: dict) -> None:
    """torch.save, atomically; its RuntimeError on a failed write (a full disk: "file write failed", or the zip
    writer's "unexpected pos") becomes the OSError every other write raises, naming the file."""
    def save(temporary: Path) -> None:
        try:
            torch.save(payload, temporary)
        except RuntimeError as error:
            if not any(sign in str(error).lower() for sign in ("write", "unexpected pos", "inline_container")):
                raise
            raise OSError(errno.ENOSPC, f"writing failed ({str(error).splitlines()[0]}); is the disk full?",
                          str(path)) from None

    replace_atomically(path, save)


def read_jsonl(path: Path, required: tuple[str, ...] = ("iteration",)) -> list[dict]:
    """Every record of a JSON-lines file; [] when the file does not exist. A partial last line is dropped with a
    warning; a damaged line before it, or a record without a whole-number ``required`` field, is a RunDirError
    naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            if all(not rest.strip() for rest in lines[number:]):
                log.warning("%s: dropped a partial last line (line %d), as a full disk or a kill leaves it",
                            path, number)
                break
            raise RunDirError(f"{path} is damaged at line {number} (not a JSON record); repair or remove that "
                              "line (the other lines hold the run's record)") from None
        missing = [key for key in required if isinstance(record.get(key), bool) or not isinstance(record.get(key), int)]
        if missing:
            raise RunDirError(f"{path} line {number} has no whole-number {missing[0]!r} (every record needs one); "
                              "repair or remove that line")
        records.append(record)
    return records


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record. A last line without its newline is first ended (a whole record) or cut off (a partial
    one, as a kill or a full disk leaves it, which read_jsonl drops too), so that the record never lands on it."""
    path = Path(path)
    with open(path, "ab+") as handle:
        size = handle.seek(0, 2)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                handle.seek(0)
                content = handle.read()
                start = content.rfind(b"\n") + 1
                try:
                    whole = isinstance(json.loads(content[start:]), dict)
                except ValueError:
                    whole = False
                if whole:
                    handle.write(b"\n")
                else:
                    log.warning("%s: cut off a partial last line (line %d) before appending", path,
                                content.count(b"\n") + 1)
                    handle.truncate(start)
        handle.seek(0, 2)
        handle.write((json.dumps(record) + "\n").encode())


def load_torch(path: Path, map_location=None) -> dict:
    """A run file (checkpoint, snapshot, LeNet cache) read as tensors and plain containers only: a forged file
    raises UnpicklingError instead of running code (torch.load with weights_only=True)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        raise RunDirError(f"{path}: refused: it holds {found.group(1) if found else 'objects'} besides tensors and "
                          "plain values (a forged or foreign file; gpbench never runs code from a run file)") from None


def _digest(hasher, value) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"tensor {tensor.dtype} {tuple(tensor.shape)}".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        hasher.update(f"array {value.dtype} {value.shape}".encode())
        hasher.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        for key, item in value.items():
            hasher.update(f"key {key!r}".encode())
            _digest(hasher, item)
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__} {len(value)}".encode())
        for item in value:
            _digest(hasher, item)
    else:
        hasher.update(repr(value).encode())


def state_digest(state: dict) -> str:
    """sha256 over every tensor, array and value of a checkpoint's state (what a flipped byte changes)."""
    hasher = hashlib.sha256()
    _digest(hasher, state)
    return hasher.hexdigest()
