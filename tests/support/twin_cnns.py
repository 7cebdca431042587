"""A tiny CNN with the same weights in PyTorch and Keras, for scoring tests across frameworks."""

from __future__ import annotations

from typing import Any

CLASSES = 1000


def twin_cnns(seed: int = 0, classes: int = CLASSES) -> tuple[Any, Any]:
    """A small CNN in PyTorch and the same network, with the same weights, in Keras."""
    import keras
    import torch

    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(3, 4, 5, stride=4)
    dense = torch.nn.Linear(4, classes)
    torch_model = torch.nn.Sequential(
        conv, torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), dense
    ).eval()
    keras_model = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(4, 5, strides=4, activation="tanh"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes),
        ]
    )
    keras_model.layers[0].set_weights(
        [conv.weight.detach().numpy().transpose(2, 3, 1, 0), conv.bias.detach().numpy()]
    )
    keras_model.layers[2].set_weights(
        [dense.weight.detach().numpy().T, dense.bias.detach().numpy()]
    )
    return torch_model, keras_model
