"""The MNIST data layer: fetch the four files into a verified cache, and check a local copy.

`fetch_mnist(dest)` is what the Pulumi program, the job runner and the demo call; the
`workshop data` commands are thin wrappers around it and `check_mnist`.
"""

from workshop.mnist.check import MnistCheck, SplitSummary, check_mnist
from workshop.mnist.fetch import DownloadRetry, FetchResult, Pace, fetch_files, fetch_mnist
from workshop.mnist.sources import DEFAULT_MIRRORS, ENV_VAR, PUBLISHED, MnistFile

__all__ = [
    "DEFAULT_MIRRORS",
    "ENV_VAR",
    "PUBLISHED",
    "DownloadRetry",
    "FetchResult",
    "MnistCheck",
    "MnistFile",
    "Pace",
    "SplitSummary",
    "check_mnist",
    "fetch_files",
    "fetch_mnist",
]
