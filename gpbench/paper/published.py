"""Published numbers pinned to their protocols: ``published.yaml`` beside this file, each entry with the source it
was read from and the protocol fields (docs/published.md); read and checked here, matched to table rows in
:mod:`gpbench.report.published`."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from gpbench.errors import DataError

PUBLISHED = Path(__file__).with_name("published.yaml")
ENTRY_KEYS = ("method", "dataset", "metric", "value", "spread", "spread_over", "source", "protocol")
PROTOCOL_FIELDS = ("data", "architecture", "iterations", "batch_size", "n_critic", "optimizer", "samples",
                   "reference", "features", "aggregation")
OPTIMIZER_KEYS = ("name", "lr", "betas", "decay")
NOT_STATED = "not stated"


def check_entry(entry, index: int, path: Path = PUBLISHED) -> dict:
    """``entry`` if it names its source and every protocol field, else a DataError naming the entry and key."""
    where = f"{path.name} entry {index + 1}"
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected a mapping with {', '.join(ENTRY_KEYS)}")
    missing = [key for key in ENTRY_KEYS if key not in entry]
    if missing:
        raise DataError(f"{where} ({entry.get('source', 'no source')}): missing {', '.join(missing)}")
    if not isinstance(entry["source"], str) or not entry["source"].strip():
        raise DataError(f"{where}: source must say where the number was read")
    protocol = entry["protocol"]
    missing = [key for key in PROTOCOL_FIELDS if not isinstance(protocol, dict) or key not in protocol]
    if missing:
        raise DataError(f"{where} ({entry['source']}): protocol lacks {', '.join(missing)} (write \"{NOT_STATED}\" "
                        "where the source does not say)")
    optimizer = protocol["optimizer"]
    if isinstance(optimizer, dict) and set(optimizer) != set(OPTIMIZER_KEYS):
        raise DataError(f"{where}: protocol.optimizer needs exactly {', '.join(OPTIMIZER_KEYS)}")
    return entry


@functools.lru_cache(maxsize=4)
def load_published(path: Path = PUBLISHED) -> tuple[dict, ...]:
    entries = yaml.safe_load(Path(path).read_text())
    if not isinstance(entries, list):
        raise DataError(f"{Path(path).name}: expected a list of entries")
    return tuple(check_entry(entry, index, Path(path)) for index, entry in enumerate(entries))
