"""gpbench: gradient penalties for GAN training, benchmarked and replicated (Gulrajani et al. 2017)."""

from gpbench.errors import ConfigError, DataError

__all__ = ["ConfigError", "DataError", "__version__"]
__version__ = "0.1.0"
