"""The model zoo: embedded (trained here on CIFAR-10) and RobustBench (the paper's models)."""
from .registry import (ChecksumError, ModelUnavailableError, Zoo, available_embedded, load, load_cached,
                       read_manifest, spec, zoo_for)

__all__ = ["load", "load_cached", "spec", "zoo_for", "Zoo", "read_manifest", "available_embedded",
           "ModelUnavailableError", "ChecksumError"]
