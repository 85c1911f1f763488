"""Progress bars that keep logs small: on a terminal tqdm redraws about ten times a second; when stderr is a
file or a pipe (every pipeline job), the bar is written at most once a minute."""

from __future__ import annotations

import sys

from tqdm import tqdm

LOG_INTERVAL_SECONDS = 60.0


def progress_bar(iterable=None, **options) -> tqdm:
    """``tqdm(iterable, **options)`` with the redraw interval chosen for where stderr goes."""
    if not sys.stderr.isatty():
        options.setdefault("mininterval", LOG_INTERVAL_SECONDS)
        options.setdefault("maxinterval", LOG_INTERVAL_SECONDS)
        options["dynamic_ncols"] = False
    return tqdm(iterable, **options)
