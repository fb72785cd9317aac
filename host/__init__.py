"""kws: a keyword-spotting toolkit for microcontrollers (host side)."""

import os

# Quiet TensorFlow's start-up chatter and keep its CPU kernels deterministic.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
