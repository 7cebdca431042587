"""The harmonizer loss in PyTorch (needs ``[torch]``): a differentiable tensor to ``.backward()``.

Images are NCHW, human maps ``(B, H, W)`` or ``(B, 1, H, W)``, labels one-hot
``(B, classes)`` or integer classes ``(B,)``. The model returns logits. See
``docs/training.md`` for the loss term by term; the numbers equal the
Harmonization package's TensorFlow ``harmonizer_loss`` (tests compare weight
gradients on the same weights and batch).

Examples
--------
>>> import torch
>>> from neural_datasets.harmonize.torch import HarmonizerLoss
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Sequential(
...     torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 10))
>>> images, heatmaps = torch.rand(2, 3, 16, 16), torch.rand(2, 16, 16)
>>> loss = HarmonizerLoss()(model, images, torch.tensor([3, 7]), heatmaps)
>>> loss.backward()
>>> loss.shape, model[0].weight.grad.shape
(torch.Size([]), torch.Size([4, 3, 3, 3]))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from neural_datasets._checks import framework_import
from neural_datasets.harmonize.definitions import (
    BINOMIAL_KERNEL,
    LABEL_SMOOTHING,
    LAMBDA_HARMONIZATION,
    LAMBDA_WEIGHTS,
    MAX_EPSILON,
    PYRAMID_LEVELS,
    PYRAMID_STRIDE,
    STANDARDIZE_EPSILON,
    is_decayed,
    same_padding,
)

with framework_import("neural_datasets.harmonize.torch"):
    import torch
    import torch.nn.functional as F

__all__ = [
    "HarmonizerLoss",
    "decayed_parameters",
    "harmonizer_loss",
    "pyramidal_mse",
    "pyramidal_representation",
    "standardize_cut",
]

# Module types whose parameters never enter the L2 term (Harmonization skips them by name).
_NOT_DECAYED_MODULES: tuple[type[torch.nn.Module], ...] = (
    torch.nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    torch.nn.LayerNorm,
    torch.nn.GroupNorm,
    torch.nn.LocalResponseNorm,
    torch.nn.Embedding,
    torch.nn.EmbeddingBag,
    *((torch.nn.RMSNorm,) if hasattr(torch.nn, "RMSNorm") else ()),
)
# timm's name for a ViT's class token (Harmonization's Keras ViTs call it class_token).
_TORCH_CLASS_TOKEN = "cls_token"


def standardize_cut(maps: torch.Tensor, epsilon: float = STANDARDIZE_EPSILON) -> torch.Tensor:
    """Standardize each map over its last two (spatial) dimensions, then keep the positive part.

    ``relu((m - mean(m)) / (std(m) + epsilon))`` with the population standard
    deviation, as Harmonization's ``standardize_cut``.

    Examples
    --------
    >>> standardize_cut(torch.tensor([[[0.0, 2.0], [0.0, 2.0]]]))
    tensor([[[0.0000, 1.0000],
             [0.0000, 1.0000]]])
    """
    _check_maps(maps, "maps")
    spatial = (-2, -1)
    mean = maps.mean(spatial, keepdim=True)
    std = maps.std(spatial, keepdim=True, correction=0)
    return torch.relu((maps - mean) / (std + epsilon))


def pyramidal_representation(
    maps: torch.Tensor, levels: int = PYRAMID_LEVELS
) -> list[torch.Tensor]:
    """``maps`` and ``levels`` successive reductions: 5x5 binomial blur, stride 2, TF ``SAME``.

    Parameters
    ----------
    maps
        ``(B, C, H, W)``; each channel is reduced on its own.
    levels
        Reductions to compute; the list holds ``levels + 1`` tensors.

    Examples
    --------
    >>> [tuple(level.shape) for level in pyramidal_representation(torch.ones(1, 1, 30, 30), 3)]
    [(1, 1, 30, 30), (1, 1, 15, 15), (1, 1, 8, 8), (1, 1, 4, 4)]
    """
    if maps.ndim != 4:
        raise ValueError(f"maps must be (B, C, H, W); got shape {tuple(maps.shape)}")
    channels = maps.shape[1]
    kernel = torch.as_tensor(BINOMIAL_KERNEL, dtype=maps.dtype, device=maps.device)
    kernel = kernel.expand(channels, 1, *BINOMIAL_KERNEL.shape)
    pyramid = [maps]
    for _ in range(levels):
        top, bottom = same_padding(maps.shape[-2])
        left, right = same_padding(maps.shape[-1])
        padded = F.pad(maps, (left, right, top, bottom))
        maps = F.conv2d(padded, kernel, stride=PYRAMID_STRIDE, groups=channels)
        pyramid.append(maps)
    return pyramid


def pyramidal_mse(
    true: torch.Tensor,
    pred: torch.Tensor,
    tokens: torch.Tensor | None = None,
    levels: int = PYRAMID_LEVELS,
) -> torch.Tensor:
    """Mean over ``levels`` pyramid levels of the token-weighted mean squared error.

    Level 0 is the maps themselves, level ``i`` their ``i``-th reduction. Each
    level's squared error is multiplied by the sample's token and averaged over
    every element of the batch (samples with token 0 still count in the mean,
    as in Harmonization's ``pyramidal_mse_with_tokens``).

    Parameters
    ----------
    true, pred
        Maps ``(B, H, W)`` or ``(B, 1, H, W)``.
    tokens
        ``(B,)`` weights; 0 marks a sample without a human map. Default: ones.
    levels
        Levels compared (Harmonization: 5).

    Examples
    --------
    >>> true, pred = torch.zeros(2, 8, 8), torch.ones(2, 8, 8)  # zero padding darkens the borders
    >>> [round(pyramidal_mse(true, pred, tokens).item(), 4) for tokens in (None, [1.0, 0.0])]
    [0.4129, 0.2065]
    """
    true, pred = _as_bchw(true, "true"), _as_bchw(pred, "pred")
    if true.shape != pred.shape:
        raise ValueError(
            f"true and pred must have the same shape; got {tuple(true.shape)} "
            f"and {tuple(pred.shape)}"
        )
    weights = _tokens(tokens, true)
    pairs = zip(
        pyramidal_representation(true, levels - 1), pyramidal_representation(pred, levels - 1)
    )
    errors = [((t - p).square() * weights[:, None, None, None]).mean() for t, p in pairs]
    return torch.stack(errors).mean()


def decayed_parameters(model: torch.nn.Module) -> Iterator[torch.nn.Parameter]:
    """The trainable parameters of ``model`` that enter the L2 term.

    Skipped: parameters of normalisation layers (batch, instance, layer,
    group, RMS norm) and embeddings, found by module type, and any parameter
    whose qualified name matches Harmonization's rule
    (:func:`~neural_datasets.harmonize.definitions.is_decayed`: ``norm``,
    ``embed``, ``class_token``...), which catches a ViT's ``pos_embed``, and
    timm's ``cls_token``.
    Each parameter is yielded once, even when shared.

    Examples
    --------
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    >>> [tuple(p.shape) for p in decayed_parameters(model)]
    [(4, 3, 3, 3), (4,)]
    """
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        skip_module = isinstance(module, _NOT_DECAYED_MODULES)
        for name, parameter in module.named_parameters(recurse=False):
            qualified = f"{module_name}.{name}" if module_name else name
            if id(parameter) in seen or not parameter.requires_grad:
                continue
            seen.add(id(parameter))
            if not skip_module and is_decayed(qualified) and _TORCH_CLASS_TOKEN not in qualified:
                yield parameter


def harmonizer_loss(
    model: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    heatmaps: torch.Tensor,
    tokens: torch.Tensor | None = None,
    *,
    lambda_weights: float = LAMBDA_WEIGHTS,
    lambda_harmonization: float = LAMBDA_HARMONIZATION,
    label_smoothing: float = LABEL_SMOOTHING,
) -> torch.Tensor:
    """Harmonization's loss as a scalar tensor: call ``.backward()`` on it.

    ``cross_entropy + lambda_weights * l2 + lambda_harmonization * pyramidal_mse``
    where the saliency (channel mean of the gradient of the labelled logit
    with respect to the images, kept in the graph so the loss can pull on it)
    and the human maps are standardize-cut, and the human maps are rescaled to
    the saliency's maximum (a constant).

    Parameters
    ----------
    model
        Returns logits ``(B, classes)``; its mode (train/eval) is left as is.
        A ``DistributedDataParallel`` wrapper works (the L2 term reads its
        ``module``).
    images
        ``(B, C, H, W)`` floating point; no gradient is needed on them.
    labels
        One-hot ``(B, classes)`` or integer classes ``(B,)``.
    heatmaps
        Human maps ``(B, H, W)`` or ``(B, 1, H, W)``, same ``H, W`` as the images.
    tokens
        ``(B,)`` per-sample weights of the harmonization term (0: no human
        map). Default: ones.
    lambda_weights, lambda_harmonization, label_smoothing
        Harmonization's defaults.

    Returns
    -------
    torch.Tensor
        The float32 scalar loss.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(),
    ...                             torch.nn.Linear(2 * 14 * 14, 5))
    >>> loss = harmonizer_loss(model, torch.rand(4, 3, 16, 16), torch.arange(4),
    ...                        torch.rand(4, 1, 16, 16))
    >>> loss.requires_grad, loss.dtype
    (True, torch.float32)
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a (B, C, H, W) tensor; got {_describe(images)}")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point; got {images.dtype}")
    heatmaps = _as_bchw(heatmaps, "heatmaps")[:, 0]
    if heatmaps.shape[0] != images.shape[0] or heatmaps.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"heatmaps must be (B, H, W) or (B, 1, H, W) matching images {tuple(images.shape)}; "
            f"got {tuple(heatmaps.shape)}"
        )
    images = images.detach().requires_grad_(True)
    logits = model(images)
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise ValueError(f"model must return logits (B, classes); got {_describe(logits)}")
    targets = _one_hot(labels, logits)

    labelled_logit = (logits * targets.to(logits.dtype)).sum()
    (gradient,) = torch.autograd.grad(labelled_logit, images, create_graph=True)
    saliency = standardize_cut(gradient.float().mean(1))
    human = standardize_cut(heatmaps.float())
    saliency_max = saliency.detach().amax((-2, -1), keepdim=True) + MAX_EPSILON
    human = human / (human.amax((-2, -1), keepdim=True) + MAX_EPSILON) * saliency_max
    harmonization = pyramidal_mse(saliency, human, tokens)

    cross_entropy = F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing)
    network = model.module if hasattr(model, "module") else model
    decayed = list(decayed_parameters(network)) if isinstance(network, torch.nn.Module) else []
    weights = sum(
        (p.float().square().sum() for p in decayed), torch.zeros((), device=logits.device)
    )
    return cross_entropy + lambda_weights * weights / 2 + lambda_harmonization * harmonization


class HarmonizerLoss(torch.nn.Module):
    """:func:`harmonizer_loss` as a module: ``criterion(model, images, labels, heatmaps, tokens)``.

    Parameters
    ----------
    lambda_weights, lambda_harmonization, label_smoothing
        As :func:`harmonizer_loss`.

    Examples
    --------
    >>> HarmonizerLoss(lambda_harmonization=2.0)
    HarmonizerLoss(lambda_weights=1e-05, lambda_harmonization=2.0, label_smoothing=0.1)
    """

    def __init__(
        self,
        *,
        lambda_weights: float = LAMBDA_WEIGHTS,
        lambda_harmonization: float = LAMBDA_HARMONIZATION,
        label_smoothing: float = LABEL_SMOOTHING,
    ) -> None:
        super().__init__()
        self.lambda_weights = lambda_weights
        self.lambda_harmonization = lambda_harmonization
        self.label_smoothing = label_smoothing

    def forward(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        images: torch.Tensor,
        labels: torch.Tensor,
        heatmaps: torch.Tensor,
        tokens: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The loss of ``model`` on the batch; see :func:`harmonizer_loss`."""
        return harmonizer_loss(
            model,
            images,
            labels,
            heatmaps,
            tokens,
            lambda_weights=self.lambda_weights,
            lambda_harmonization=self.lambda_harmonization,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"lambda_weights={self.lambda_weights}, "
            f"lambda_harmonization={self.lambda_harmonization}, "
            f"label_smoothing={self.label_smoothing}"
        )


def _describe(value: object) -> str:
    shape = getattr(value, "shape", None)
    return (
        f"{type(value).__name__} of shape {tuple(shape)}"
        if shape is not None
        else type(value).__name__
    )


def _check_maps(maps: torch.Tensor, argument: str) -> None:
    if not isinstance(maps, torch.Tensor) or maps.ndim < 2:
        raise ValueError(f"{argument} must be a tensor of maps (..., H, W); got {_describe(maps)}")


def _as_bchw(maps: torch.Tensor, argument: str) -> torch.Tensor:
    """``(B, H, W)`` or ``(B, 1, H, W)`` maps as ``(B, 1, H, W)``."""
    if isinstance(maps, torch.Tensor) and maps.ndim == 3:
        return maps[:, None]
    if isinstance(maps, torch.Tensor) and maps.ndim == 4 and maps.shape[1] == 1:
        return maps
    raise ValueError(f"{argument} must be (B, H, W) or (B, 1, H, W); got {_describe(maps)}")


def _tokens(tokens: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if tokens is None:
        return torch.ones(like.shape[0], dtype=like.dtype, device=like.device)
    tokens = torch.as_tensor(tokens, device=like.device).to(like.dtype)
    if tokens.shape != (like.shape[0],):
        raise ValueError(f"tokens must be ({like.shape[0]},); got shape {tuple(tokens.shape)}")
    return tokens


def _one_hot(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """float32 one-hot targets from one-hot or integer ``labels``."""
    labels = torch.as_tensor(labels, device=logits.device)
    batch, classes = logits.shape
    if labels.shape == (batch,) and not labels.is_floating_point():
        return F.one_hot(labels.long(), classes).float()
    if labels.shape == (batch, classes):
        return labels.float()
    raise ValueError(
        f"labels must be integer classes ({batch},) or one-hot ({batch}, {classes}); "
        f"got {labels.dtype} of shape {tuple(labels.shape)}"
    )
