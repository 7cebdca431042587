"""Human-readable names of the 1000 ImageNet-1k classes, which ClickMe labels index."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

__all__ = ["imagenet_class_names"]


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """Return the ImageNet-1k class names in the standard class-index order.

    The names are the short WordNet names used by Keras and torchvision
    (``imagenet_class_index.json``), with underscores replaced by spaces. A few
    names repeat (``crane`` is 134 and 517, ``maillot`` 638 and 639) because
    distinct WordNet synsets share them.

    Returns
    -------
    tuple of str
        1000 names; index ``i`` is the name of label ``i``.

    Examples
    --------
    >>> names = imagenet_class_names()
    >>> len(names), names[1], names[207]
    (1000, 'goldfish', 'golden retriever')
    """
    text = (files(__package__) / "imagenet_classes.txt").read_text("utf-8")
    return tuple(text.splitlines())
