"""Lazy imports of heavy libraries, so importing core (and Home) stays fast.

``import tensorflow`` costs ~5 s and ~700 MB; Prophet pulls cmdstanpy. Only
code that trains or runs such a model calls these.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration.

    TensorFlow's C++ side logs banners on import (oneDNN, absl) straight to fd 2, ignoring
    TF_CPP_MIN_LOG_LEVEL since 2.16; a CLI must print only ``error: ...`` there. Python
    exceptions still propagate and are printed after fd 2 is restored."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _native_stderr_silenced():
        import keras  # noqa: F401  (keras logs its own banner on first import)
        import tensorflow as tf
    return tf


def import_keras() -> ModuleType:
    import_tensorflow()
    import keras

    return keras


def import_prophet() -> type:
    # cmdstanpy logs every chain start/stop at INFO; that is noise in the app and CLI.
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    from prophet import Prophet

    return Prophet
