"""The one exception type users see for bad input."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the offending key or value and what is allowed."""


class DataError(RuntimeError):
    """Data that is missing, corrupt or malformed: the message says which file goes where."""


class MissingDataError(DataError):
    """Data files that are not there (as opposed to present but corrupt)."""
