"""ClickMe preview PNGs: size, title, captions, colour bar and the synthetic stamp are drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neural_datasets as nd
from neural_datasets.datasets.clickme import preview
from neural_datasets.datasets.clickme.spec import shard_spec
from neural_datasets.registry import REGISTRY

WHITE = 255


def _render(store: Path, tmp_path: Path, n: int) -> np.ndarray:
    out = preview.render(store, tmp_path / "p.png", n)
    with Image.open(out) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _inked(region: np.ndarray) -> int:
    """Pixels that are not white."""
    return int((region < WHITE - 30).any(axis=-1).sum())


def _red(region: np.ndarray) -> int:
    r, g, b = (region[..., k].astype(int) for k in range(3))
    return int(((r > 150) & (g < 80) & (b < 80)).sum())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nd.fetch("clickme-sample", cache_dir=tmp_path_factory.mktemp("p"), progress=False)


@pytest.mark.parametrize(("n", "rows", "columns"), [(4, 2, 2), (3, 2, 2), (1, 1, 1)])
def test_sheet_size_follows_the_samples_shown(store: Path, tmp_path: Path, n, rows, columns):
    sheet = _render(store, tmp_path, n)
    width = columns * 2 * preview.TILE + (columns + 1) * preview.GAP
    height = preview.TITLE + rows * (preview.TILE + preview.CAPTION + preview.GAP) + preview.LEGEND
    assert sheet.shape == (height, width, 3)


def test_title_captions_colour_bar_and_stamp_are_drawn(store: Path, tmp_path: Path) -> None:
    sheet = _render(store, tmp_path, 4)
    title = sheet[: preview.TITLE]
    assert _inked(title[:, : sheet.shape[1] // 2]) > 500  # "clickme-sample · split sample · ..."
    assert _red(title[:, sheet.shape[1] // 2 :]) > 200  # the SYNTHETIC SAMPLE stamp
    for row in range(2):
        top = preview.TITLE + row * (preview.TILE + preview.CAPTION + preview.GAP)
        # the pair's pixels are the sample's image and its overlay, beside each other
        ds = nd.ClickMe.open(store)
        image = ds[2 * row]["image"]
        tile = sheet[top : top + preview.TILE, preview.GAP : preview.GAP + preview.TILE]
        assert np.array_equal(tile, image)
        caption = sheet[top + preview.TILE : top + preview.TILE + preview.CAPTION]
        assert _inked(caption[:, : sheet.shape[1] // 2]) > 100  # "#0  violin  (label 889)"
        assert _inked(caption[:, sheet.shape[1] // 2 :]) > 100
    legend = sheet[-preview.LEGEND :]
    bar = legend[8 + 7, preview.GAP + 1 : preview.GAP + 300]  # the bar's middle line
    expected = preview.heat_colormap(np.linspace(0, 255, 320).round())[1:300]
    assert np.abs(bar.astype(int) - expected.astype(int)).max() <= 2
    assert _inked(legend[:, 340:]) > 300  # what the colours mean


def test_a_real_split_gets_no_synthetic_stamp(tmp_path: Path, monkeypatch) -> None:
    sample = Path(nd.get_spec("clickme-sample").base_url.removeprefix("file://"))
    spec = shard_spec("lab-clickme", sample.as_uri(), ["clickme-sample-0.tfrecords"])
    monkeypatch.setitem(REGISTRY, spec.name, spec)
    sheet = _render(nd.fetch(spec.name, cache_dir=tmp_path, progress=False), tmp_path, 2)
    assert _red(sheet[: preview.TITLE]) == 0
    assert _inked(sheet[: preview.TITLE]) > 500
