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
    from .it import (
        PAPER_WINDOWS,
        ITCeiling,
        ITPredictivity,
        it_ceiling,
        it_predictivity,
        site_ceiling,
    )
    from .it_model import LayerScore, ModelScore, features_on_grid, score_model
    from .pls import PLSFits, fit_pls

# Public name -> module that defines it; imported on first use, so that
# ``import neural_datasets.metrics`` loads neither torch, TensorFlow nor scikit-learn.
_LAZY = {
    "HUMAN_SPEARMAN_CEILING": "clickme",
    "ClickMeScores": "clickme",
    "clickme_scores": "clickme",
    "evaluate_clickme": "evaluate",
    "SALIENCY_DEFINITIONS": "explainers",
    "saliency_explainer": "explainers",
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

__all__ = [  # literal, so that linters and type checkers see the lazy names
    "ClickMeScores",
    "HUMAN_SPEARMAN_CEILING",
    "ITCeiling",
    "ITPredictivity",
    "LayerScore",
    "ModelScore",
    "PAPER_WINDOWS",
    "PLSFits",
    "SALIENCY_DEFINITIONS",
    "clickme_scores",
    "evaluate_clickme",
    "features_on_grid",
    "fit_pls",
    "it_ceiling",
    "it_predictivity",
    "saliency_explainer",
    "score_model",
    "site_ceiling",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
