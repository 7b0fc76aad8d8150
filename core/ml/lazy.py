"""Lazy imports of heavy libraries, so importing core (and Home) stays fast.

``import tensorflow`` costs ~5 s and ~700 MB; Prophet pulls cmdstanpy. Only
code that trains or runs such a model calls these.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType


def import_tensorflow() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
