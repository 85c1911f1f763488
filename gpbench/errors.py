"""The one exception type users see for bad input."""


class ConfigError(ValueError):
    """An invalid configuration: the message names the offending key or value and what is allowed."""
