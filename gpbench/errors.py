"""The one exception type users see for bad input."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the offending key or value and what is allowed."""


class DataError(RuntimeError):
    """Data that is missing, corrupt or malformed: the message says which file goes where."""
