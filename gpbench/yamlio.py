"""Reading YAML strictly: duplicate keys are refused, ``1e-4`` is the number a user meant (YAML 1.1 would
read it as a string), and every problem is one line naming the file, line and column."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml

from gpbench.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_VALUES = 100_000      # values of a document with its aliases expanded (a "billion laughs" stops here)

# YAML 1.2 floats, which YAML 1.1 (PyYAML's default) misses when they have no dot or an unsigned exponent.
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
                        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                        |[-+]?\.(?:inf|Inf|INF)
                        |\.(?:nan|NaN|NAN))$""", re.X)


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) or key is None:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
                    seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _resolve_float_like_yaml_1_2() -> None:
    resolvers = {first: [(tag, regex) for tag, regex in entries if not (tag.endswith(":float") or tag.endswith(":int"))]
                 for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    _StrictLoader.yaml_implicit_resolvers = resolvers
    int_pattern = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
    _StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", int_pattern, list("-+0123456789"))
    _StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


_resolve_float_like_yaml_1_2()


def parse_yaml(text: str, source: str):
    """The YAML document in ``text``; ``source`` names it in the one-line error."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{source} is not valid YAML{where}: {problem}") from None
    if _expanded_size(document, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(f"{source} expands to more than {MAX_CONFIG_VALUES:,} values (nested YAML aliases?); "
                          "a gpbench config is far smaller")
    return document


def _expanded_size(value, budget: int) -> int:
    """How many values ``value`` holds with shared (aliased) parts counted each time, stopping past ``budget``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_yaml(path: str | Path, what: str = "config"):
    """The YAML document in a regular file of at most 1 MiB, in UTF-8."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{what} {path} is not a regular file")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {path} is larger than 1 MiB; is it the right file?")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {error.start})") from None
    return parse_yaml(text, f"{what} {path}")
