"""Scores a model earns against the data: ClickMe alignment with humans and IT predictivity.

Framework-free: the scores take NumPy arrays, torch tensors and TensorFlow tensors; the model
evaluations import the model's framework only when they are given one.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module that defines it; imported on first use, so that
# ``import neural_datasets.metrics`` loads neither torch, TensorFlow nor scikit-learn.
_LAZY = {
    "it_predictivity": "it",
    "ITPredictivity": "it",
    "it_ceiling": "it",
    "ITCeiling": "it",
    "site_ceiling": "it",
    "PAPER_WINDOWS": "it",
    "fit_pls": "pls",
    "PLSFits": "pls",
    "score_model": "it_model",
    "ModelScore": "it_model",
    "LayerScore": "it_model",
    "features_on_grid": "it_model",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
