"""Penalty kinds defined outside gpbench: the modules a run names in ``penalty_modules`` are imported before its
penalty is built, and register their kinds with :func:`gpbench.penalties.register_penalty` (docs/penalties.md,
"Your own penalty")."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from gpbench.errors import ConfigError

_LOADED: dict[str, object] = {}          # entry (resolved file or module name) -> its module, imported once


def load_penalty_modules(entries, option: str = "penalty_modules") -> None:
    """Import each entry once: a ``.py`` file (relative to the working directory) or an importable module name;
    ``option`` names the config key or command-line option in errors."""
    if entries is None:
        return
    if not isinstance(entries, (list, tuple)) or not all(isinstance(entry, str) and entry for entry in entries):
        raise ConfigError(f"{option}: expected a list of .py files or module names, got {entries!r}")
    for entry in entries:
        key = str(Path(entry).resolve()) if entry.endswith(".py") else entry
        if key not in _LOADED:
            _LOADED[key] = _import(entry, key, option)


def _import(entry: str, key: str, option: str):
    try:
        if not entry.endswith(".py"):
            return importlib.import_module(entry)
        if not Path(key).is_file():
            raise ConfigError(f"{option}: {entry} does not exist (relative to {Path.cwd()}); give a .py file "
                              "or an importable module name")
        name = f"gpbench_penalty_module_{len(_LOADED)}_{Path(key).stem}"
        spec = importlib.util.spec_from_file_location(name, key)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except ConfigError:
        raise
    except ModuleNotFoundError as error:
        if error.name == entry.split(".")[0] or entry.startswith(f"{error.name}."):
            raise ConfigError(f"{option}: no module named {entry!r} on the Python path; give a .py file "
                              "or install the module") from None
        raise ConfigError(f"{option}: importing {entry} failed: {type(error).__name__}: {error}") from None
    except Exception as error:      # the user's module: any failure is theirs to fix, said in one line
        raise ConfigError(f"{option}: importing {entry} failed: {type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}") from None
