"""Scores a model earns against the data: ClickMe alignment with humans and IT predictivity.

Framework-free: the scores take NumPy arrays, torch tensors and TensorFlow tensors; the model
evaluations import the model's framework only when they are given one. Names are imported on
first use, so ``import neural_datasets.metrics`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clickme import HUMAN_SPEARMAN_CEILING, ClickMeScores, clickme_scores
    from .evaluate import evaluate_clickme
    from .explainers import SALIENCY_DEFINITIONS, saliency_explainer

# name -> module (relative to this package) that defines it
_LAZY = {
    "HUMAN_SPEARMAN_CEILING": "clickme",
    "ClickMeScores": "clickme",
    "clickme_scores": "clickme",
    "evaluate_clickme": "evaluate",
    "SALIENCY_DEFINITIONS": "explainers",
    "saliency_explainer": "explainers",
}

__all__ = [
    "HUMAN_SPEARMAN_CEILING",
    "SALIENCY_DEFINITIONS",
    "ClickMeScores",
    "clickme_scores",
    "evaluate_clickme",
    "saliency_explainer",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
