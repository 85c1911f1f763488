"""The exceptions users see. Each message is one line that names the file, key or option and what is allowed;
the CLI prints it and exits 2."""


class GpbenchError(Exception):
    """A failure the user can act on."""


class ConfigError(GpbenchError, ValueError):
    """An invalid configuration or option: the message names the offending key or value and what is allowed."""


class DataError(GpbenchError, RuntimeError):
    """Data that is missing, corrupt or malformed: the message says which file goes where."""


class MissingDataError(DataError):
    """Data files that are not there (as opposed to present but corrupt)."""


class RunDirError(GpbenchError, RuntimeError):
    """A run directory that is busy (another trainer holds it), damaged, or not a run at all."""
