"""The IT ceiling: upstream's arithmetic (legacy=True) and the intended computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_datasets as nd
from neural_datasets.metrics import PAPER_WINDOWS, it_ceiling, site_ceiling


def upstream_ceiling_score(neural_array: np.ndarray, time_a: int, time_b: int) -> float:
    """neural_harmonizer's ``ceiling_score`` (Pearson branch), restated with NumPy.

    ``neural_array`` is the raw ``(image, x, y, time, site)`` array, archive orientation.
    """
    window = neural_array[:, :, :, time_a:time_b].mean(axis=3)
    low, high = window.min(), window.max()
    images, sites = neural_array.shape[0], neural_array.shape[-1]
    ceilings = []
    for n in range(images):
        matrix = np.zeros((sites, sites))
        for i in range(sites - 1):
            anchor = np.flipud(window[n, :, :, i]) - low / (high - low)
            for j in range(sites - 1):
                if i >= j:
                    continue
                target = np.flipud(window[n, :, :, j]) - low / (high - low)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rows = [np.corrcoef(a, b)[0, 1] for a, b in zip(anchor, target)]
                matrix[i, j] = np.mean(rows)
        off_diagonal = [matrix[i, j] for i in range(sites) for j in range(sites) if i != j]
        best = -np.inf
        for value in off_diagonal:
            if value > best:
                best = value
        ceilings.append(best)
    return float(np.mean(ceilings))


def intended_ceiling(maps: np.ndarray) -> np.ndarray:
    """Per image: the highest whole-map Pearson correlation between two different sites."""
    out = []
    for image in maps:
        flat = image.reshape(-1, image.shape[-1])
        corr = np.corrcoef(flat.T)
        np.fill_diagonal(corr, np.nan)
        out.append(np.nanmax(corr))
    return np.array(out)


def random_raw(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(5, 6, 6, 12, 1))
    return shared + rng.normal(size=(5, 6, 6, 12, 7)) * rng.uniform(0.5, 3, size=7)


def test_legacy_reproduces_upstream_arithmetic() -> None:
    raw = random_raw(0)
    maps = raw[:, ::-1, ::-1, 2:9].mean(axis=3)  # the loader's orientation, as ITRecordings
    ceiling = site_ceiling(maps, legacy=True)
    assert ceiling.value == pytest.approx(upstream_ceiling_score(raw, 2, 9), abs=1e-12)


def test_intended_uses_every_site_and_whole_maps() -> None:
    raw = random_raw(1)
    maps = raw[:, ::-1, ::-1, 2:9].mean(axis=3)
    maps[0, ..., -1] = 3 * maps[0, ..., 0] + 1  # the pair only the intended ceiling sees
    ceiling = site_ceiling(maps)
    np.testing.assert_allclose(ceiling.per_image, intended_ceiling(maps), atol=1e-12)
    assert ceiling.per_image[0] == pytest.approx(1.0)
    assert site_ceiling(maps, legacy=True).per_image[0] < 0.99


def test_legacy_never_below_zero_and_skips_constant_maps() -> None:
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(2, 4, 4, 3))
    maps[..., 1] = -maps[..., 0]  # legacy compares sites 0 and 1 only: r = -1
    assert site_ceiling(maps, legacy=True).per_image.tolist() == [0.0, 0.0]
    maps[1, ..., 2] = 5.0
    intended = site_ceiling(maps)
    assert np.isfinite(intended.per_image).all()


def test_it_ceiling_on_the_sample_equals_upstream_on_the_raw_array() -> None:
    data = nd.Neural_dataset("arcaro2020-sample", progress=False)
    for population in ("george_central_it", "red_central_it"):
        raw = getattr(data, population)
        ceiling = it_ceiling(population, (50, 90), dataset=data, legacy=True)
        assert ceiling.value == pytest.approx(upstream_ceiling_score(raw, 50, 90), abs=1e-12)
        assert ceiling.population == population and ceiling.window == (50, 90)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), legacy=st.booleans())
def test_invariant_to_site_affine_maps_and_flipped_grids(seed: int, legacy: bool) -> None:
    rng = np.random.default_rng(seed)
    maps = random_raw(seed).mean(axis=3)
    scale = rng.uniform(0.1, 10, size=maps.shape[-1])
    moved = (maps * scale + rng.normal(size=maps.shape[-1]))[:, ::-1, ::-1]
    base = site_ceiling(maps, legacy=legacy)
    np.testing.assert_allclose(site_ceiling(moved, legacy=legacy).per_image, base.per_image)
    assert (base.per_image <= 1 + 1e-12).all()


def test_ceiled_scores_and_dict() -> None:
    ceiling = site_ceiling(random_raw(3).mean(axis=3))
    assert ceiling.ceiled(0.3) == pytest.approx(0.3 / ceiling.value)
    assert ceiling.ceiled_squared(0.3) == pytest.approx(0.09 / ceiling.value)
    assert ceiling.to_dict()["value"] == pytest.approx(ceiling.value)


def test_paper_windows_are_the_notebooks() -> None:
    assert PAPER_WINDOWS == {
        "george_central_it": (130, 170),
        "george_posterior_it": (90, 130),
        "red_central_it": (90, 130),
    }


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="Unknown population 'v4'"):
        it_ceiling("v4", dataset="arcaro2020-sample", progress=False)
    with pytest.raises(ValueError, match="not valid for george_central_it"):
        it_ceiling("george_central_it", dataset="arcaro2020-sample", progress=False)
    with pytest.raises(ValueError, match="at least 2 sites"):
        site_ceiling(np.zeros((2, 3, 3, 1)))
    with pytest.raises(TypeError, match="dataset must be"):
        it_ceiling(dataset=3)
