"""IT preview PNGs: population headers, stimulus names, colour bars and the synthetic stamp."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import neural_datasets as nd
from neural_datasets.datasets.arcaro2020 import preview


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    folder = tmp_path_factory.mktemp("it")
    store = nd.fetch("arcaro2020-sample", cache_dir=folder, progress=False)
    out = preview.render(store, folder / "it.png", 4)
    with Image.open(out) as img:
        return np.asarray(img.convert("RGB"))


def _inked(region: np.ndarray) -> int:
    return int((region < 225).any(axis=-1).sum())


def test_one_row_per_population_with_four_stimulus_and_map_pairs(sheet: np.ndarray) -> None:
    row = preview.HEADER + preview.TILE + preview.CAPTION + preview.GAP
    width = 8 * (preview.TILE + preview.GAP) + preview.GAP + preview.BAR + preview.BAR_LABELS
    assert sheet.shape == (preview.TITLE + 3 * row, width, 3)


def test_title_headers_names_and_colour_bars_are_drawn(sheet: np.ndarray) -> None:
    assert _inked(sheet[: preview.TITLE, : sheet.shape[1] // 2]) > 500
    stamp = sheet[: preview.TITLE, sheet.shape[1] // 2 :].astype(int)
    assert ((stamp[..., 0] > 150) & (stamp[..., 1] < 80)).sum() > 200  # SYNTHETIC SAMPLE
    row = preview.HEADER + preview.TILE + preview.CAPTION + preview.GAP
    bar_left = 8 * (preview.TILE + preview.GAP) + preview.GAP
    for r in range(3):
        top = preview.TITLE + r * row
        assert _inked(sheet[top : top + preview.HEADER]) > 1500  # population, window, units
        tiles_top = top + preview.HEADER
        captions = sheet[tiles_top + preview.TILE : tiles_top + preview.TILE + preview.CAPTION]
        assert _inked(captions[:, : preview.TILE]) > 50  # the stimulus's file name
        bar = sheet[tiles_top + 1 : tiles_top + preview.TILE - 1, bar_left + preview.BAR // 2]
        top_to_bottom = preview.colorize(np.linspace(1, 0, preview.TILE), 0.0, 1.0)[1:-1]
        assert np.abs(bar.astype(int) - top_to_bottom.astype(int)).max() <= 3
        labels = sheet[tiles_top : tiles_top + preview.TILE, bar_left + preview.BAR + 2 :]
        assert _inked(labels) > 200  # the scale's values and name
