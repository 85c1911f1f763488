"""gpbench: gradient penalties for GAN training, benchmarked and replicated (Gulrajani et al. 2017)."""

from gpbench.errors import ConfigError

__all__ = ["ConfigError", "__version__"]
__version__ = "0.1.0"
