"""Invariants of the loss's parts (torch; the parity tests tie TF to the same numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.harmonize.definitions import BINOMIAL_KERNEL, same_padding

torch = pytest.importorskip("torch")

from neural_datasets.harmonize.torch import (  # noqa: E402
    pyramidal_mse,
    pyramidal_representation,
    standardize_cut,
)

maps = st.integers(0, 2**32 - 1).map(
    lambda seed: torch.from_numpy(np.random.default_rng(seed).random((2, 9, 13)).astype(np.float32))
)


@settings(max_examples=25, deadline=None)
@given(maps, st.floats(0.5, 20.0), st.floats(-5.0, 5.0))
def test_standardize_cut_ignores_a_positive_affine_change(m, scale, shift) -> None:
    torch.testing.assert_close(
        standardize_cut(m * scale + shift), standardize_cut(m), atol=1e-3, rtol=1e-3
    )


@settings(max_examples=25, deadline=None)
@given(maps, maps, st.lists(st.floats(0.0, 3.0), min_size=2, max_size=2))
def test_pyramidal_mse_is_symmetric_zero_on_equal_maps_and_linear_in_tokens(a, b, tokens) -> None:
    weights = torch.tensor(tokens)
    assert pyramidal_mse(a, a).item() == 0.0
    assert pyramidal_mse(a, b, weights).item() == pytest.approx(
        pyramidal_mse(b, a, weights).item(), rel=1e-6
    )
    per_sample = [pyramidal_mse(a[i : i + 1], b[i : i + 1]).item() for i in range(2)]
    want = sum(t * e for t, e in zip(tokens, per_sample)) / 2  # the mean runs over the batch
    assert pyramidal_mse(a, b, weights).item() == pytest.approx(want, rel=1e-5, abs=1e-9)


@given(st.integers(1, 64))
def test_each_reduction_halves_rounding_up_and_keeps_the_mean_inside(size) -> None:
    before, after = same_padding(size)
    assert before <= after <= before + 1
    ones = torch.ones(1, 1, size, size)
    reduced = pyramidal_representation(ones, 1)[1]
    assert reduced.shape[-1] == -(-size // 2)
    assert reduced.min() > 0 and reduced.max() <= 1 + 1e-6  # zero padding only darkens edges
    assert float(BINOMIAL_KERNEL.sum()) == pytest.approx(1.0)
