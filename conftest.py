"""Plain `pytest` runs every benchmark once, as a test (benchmarks disabled); `pytest benchmarks
--benchmark-only` (or --benchmark-enable / --benchmark-json) times them."""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    option = config.option
    timing_wanted = any(getattr(option, name, None) for name in ("benchmark_only", "benchmark_enable", "benchmark_json"))
    if hasattr(option, "benchmark_disable") and not timing_wanted:
        option.benchmark_disable = True
