"""Matplotlib for files, never a screen: the Agg backend is set here, once, before pyplot is imported; every
module that draws takes ``plt`` from here."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (pyplot after the backend)

__all__ = ["plt"]
