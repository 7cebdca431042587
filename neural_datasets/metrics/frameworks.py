"""Which deep-learning framework a model or a tensor belongs to, found without importing any.

Scoring and training accept PyTorch and Keras objects alike. The framework is read from the
object's type (its class's module), so ``import neural_datasets.metrics`` stays light and a
NumPy-only user never pays for torch or TensorFlow.
"""

from __future__ import annotations

from typing import Any, Literal

Framework = Literal["torch", "keras"]


def _module_roots(obj: Any) -> set[str]:
    return {klass.__module__.split(".")[0] for klass in type(obj).__mro__}


def framework_of(model: Any, argument: str = "model") -> Framework:
    """``"torch"`` for a ``torch.nn.Module``, ``"keras"`` for a Keras model (Keras 2 or 3).

    Parameters
    ----------
    model
        The object to classify.
    argument
        The argument's name, used in the error message.

    Raises
    ------
    TypeError
        For any other object, naming the argument and what was given.

    Examples
    --------
    >>> framework_of(object())
    Traceback (most recent call last):
    ...
    TypeError: model must be a torch.nn.Module or a Keras model; got object
    """
    roots = _module_roots(model)
    if "torch" in roots:
        import torch

        if isinstance(model, torch.nn.Module):
            return "torch"
    if roots & {"keras", "tf_keras", "tensorflow"}:
        import tensorflow as tf

        keras_model_types: tuple[type, ...] = (tf.keras.Model,)
        try:
            import keras

            keras_model_types += (keras.Model,)
        except ImportError:
            pass
        if isinstance(model, keras_model_types):
            return "keras"
    raise TypeError(
        f"{argument} must be a torch.nn.Module or a Keras model; got {type(model).__name__}"
    )


def is_torch_tensor(value: Any) -> bool:
    """True for a ``torch.Tensor`` (checked without importing torch when it is not loaded).

    Examples
    --------
    >>> import numpy as np
    >>> is_torch_tensor(np.zeros(3))
    False
    """
    return "torch" in _module_roots(value) and type(value).__name__ in {"Tensor", "Parameter"}


def is_tf_tensor(value: Any) -> bool:
    """True for a TensorFlow tensor or variable (eager or symbolic).

    Examples
    --------
    >>> is_tf_tensor([1.0, 2.0])
    False
    """
    return "tensorflow" in _module_roots(value)


def to_numpy(value: Any, argument: str = "array") -> Any:
    """A NumPy array holding ``value``: a NumPy array, a torch tensor (any device) or a TF tensor.

    Examples
    --------
    >>> to_numpy([[1, 2], [3, 4]]).shape
    (2, 2)
    """
    import numpy as np

    if is_torch_tensor(value):
        return value.detach().cpu().numpy()
    if is_tf_tensor(value):
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    try:
        return np.asarray(value)
    except Exception as exc:  # an object NumPy cannot hold: say which argument it was
        raise TypeError(
            f"{argument} must be a NumPy array, a torch tensor or a TensorFlow tensor; "
            f"got {type(value).__name__}"
        ) from exc
