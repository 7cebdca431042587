"""Tests of the bundled ImageNet class names."""

from __future__ import annotations

import pytest

from neural_datasets.datasets.clickme.labels import imagenet_class_names


def test_thousand_clean_names() -> None:
    names = imagenet_class_names()
    assert isinstance(names, tuple) and len(names) == 1000
    assert all(name and name == name.strip() and "_" not in name for name in names)
    assert len(set(names)) == 998  # "crane" and "maillot" name two synsets each


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "tench"),
        (1, "goldfish"),
        (2, "great white shark"),
        (134, "crane"),
        (207, "golden retriever"),
        (281, "tabby"),
        (409, "analog clock"),
        (517, "crane"),
        (607, "jack-o'-lantern"),
        (948, "Granny Smith"),
        (999, "toilet tissue"),
    ],
)
def test_known_indices(index: int, name: str) -> None:
    assert imagenet_class_names()[index] == name


def test_names_are_complete_and_clean() -> None:
    names = imagenet_class_names()
    assert all(name and name == name.strip() and "_" not in name for name in names)
    # Distinct WordNet synsets that share a short name are the only repeats.
    repeats = {name for name in names if names.count(name) > 1}
    assert repeats == {"crane", "maillot"}
    assert [i for i, name in enumerate(names) if name == "crane"] == [134, 517]
