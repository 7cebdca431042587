"""Tests of ITRecordings on the bundled sample: labelled access, metadata, bad input, preview."""

from __future__ import annotations

import io
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

import neural_datasets as nd
from neural_datasets.datasets.arcaro2020.convert import GEORGE_SPLIT_NOTE
from neural_datasets.datasets.arcaro2020.dataset import (
    InvalidArgumentError,
    ITRecordings,
    preprocess,
)
from neural_datasets.datasets.arcaro2020.preview import GAP, HEADER, TILE, TITLE, colorize, render
from neural_datasets.errors import CorruptStoreError
from neural_datasets.formats.resize import resize_bilinear

SAMPLE_ZIP = files("neural_datasets.datasets.arcaro2020") / "sample" / "Arcaro2020.zip"
POPULATIONS = ("george_central_it", "george_posterior_it", "red_central_it")
MAT = {"george": "George/george_060118_data.mat", "red": "Red/red_062419_data.mat"}
CHANNELS = {
    "george_central_it": slice(33, 63),
    "george_posterior_it": slice(0, 33),
    "red_central_it": slice(0, 32),
}


@pytest.fixture(scope="module")
def it(tmp_path_factory: pytest.TempPathFactory) -> ITRecordings:
    return nd.ITRecordings(
        "arcaro2020-sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False
    )


@pytest.fixture(scope="module")
def raw() -> dict[str, dict]:
    with zipfile.ZipFile(io.BytesIO(SAMPLE_ZIP.read_bytes())) as zf:
        return {m: scipy.io.loadmat(io.BytesIO(zf.read(f"Arcaro2020/{p}"))) for m, p in MAT.items()}


def test_populations(it: ITRecordings) -> None:
    assert it.populations == POPULATIONS
    george = it.population("george_posterior_it")
    assert (george.monkey, george.region, george.channels) == (
        "george",
        "posterior_it",
        range(0, 33),
    )
    assert it.population("george_central_it").channels == range(33, 63)
    assert george.note == GEORGE_SPLIT_NOTE and "33" in george.note
    red = it.population("red_central_it")
    assert (red.monkey, red.region, red.channels, red.note) == (
        "red",
        "central_it",
        range(0, 32),
        "",
    )


def test_metadata_round_trip(it: ITRecordings, raw) -> None:
    for name in POPULATIONS:
        pop = it.population(name)
        sources = [str(c[0]) for c in raw[pop.monkey]["UniqueNames"][0]]
        assert pop.stimulus_sources == tuple(sources)
        assert pop.stimulus_names == tuple(s.split("\\")[-1] for s in sources)
        grid = raw[pop.monkey]["imageRF"].shape[0]
        np.testing.assert_array_equal(pop.time_ms, np.arange(120))
        np.testing.assert_array_equal(pop.x, np.arange(grid)[::-1])
        np.testing.assert_array_equal(pop.y, np.arange(grid)[::-1])
    assert it.attrs["neural_datasets"]["dataset"] == "arcaro2020-sample"


@pytest.mark.parametrize("name", POPULATIONS)
@pytest.mark.parametrize("window", [(50, 90), (0, 120), (37, 38), (100, 120)])
def test_responses_are_flipped_window_means(it: ITRecordings, raw, name: str, window) -> None:
    rf = np.moveaxis(raw[it.population(name).monkey]["imageRF"], -1, 0)[..., CHANNELS[name]]
    expected = rf[:, ::-1, ::-1, window[0] : window[1]].mean(axis=3)
    got = it.responses(name, window)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_responses_without_window(it: ITRecordings, raw) -> None:
    full = it.responses("red_central_it", None)
    assert full.shape == (4, 9, 9, 120, 32) and full.dtype == np.float32
    np.testing.assert_array_equal(full, np.moveaxis(raw["red"]["imageRF"], -1, 0)[:, ::-1, ::-1])


def test_stimuli(it: ITRecordings) -> None:
    george = it.stimuli("george_central_it")
    assert george.shape == (4, 256, 256, 3) and george.dtype == np.uint8
    red = it.stimuli("red_central_it")
    assert red.shape == (4, 160, 160, 3)
    gray = red[1]  # camera.png is greyscale: three equal channels, as cv2.imread gives
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    np.testing.assert_array_equal(
        it.stimuli("red_central_it", size=100)[2], resize_bilinear(red[2], (100, 100))
    )
    assert it.stimuli("george_posterior_it", size=(30, 40)).shape == (4, 30, 40, 3)


def test_to_xarray(it: ITRecordings) -> None:
    pytest.importorskip("xarray")
    da = it.to_xarray("george_central_it", (50, 90))
    assert da.dims == ("image", "x", "y", "channel")
    assert list(da.coords["image"].values) == [
        "astronaut.jpg",
        "coffee.jpg",
        "chelsea.jpg",
        "rocket.jpg",
    ]
    assert set(da.coords["region"].values) == {"central_it"}
    assert da.coords["channel"].values.tolist() == list(range(33, 63))
    assert da.attrs["monkey"] == "george" and da.attrs["time_window_ms"] == [50, 90]
    np.testing.assert_array_equal(
        da.sel(image="coffee.jpg").values, it.responses("george_central_it")[1]
    )
    full = it.to_xarray("red_central_it")
    assert full.dims == ("image", "x", "y", "time", "channel")
    assert full.sel(time=slice(50, 89)).mean("time").values == pytest.approx(
        it.responses("red_central_it")
    )


def test_unknown_population_lists_valid_ones(it: ITRecordings) -> None:
    for call in (
        lambda: it.responses("george_it"),
        lambda: it.stimuli("v4"),
        lambda: it.load_data("red"),
    ):
        with pytest.raises(
            InvalidArgumentError,
            match="choose one of: george_central_it, george_posterior_it, red_central_it",
        ):
            call()
    assert issubclass(InvalidArgumentError, ValueError) and issubclass(
        InvalidArgumentError, nd.NeuralDatasetsError
    )


@pytest.mark.parametrize(
    "window", [(50, 50), (90, 50), (-1, 10), (0, 121), (200, 300), (50.0, 90), (50,), "50-90"]
)
def test_bad_time_windows_give_the_valid_range(it: ITRecordings, window) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"0 <= a < b <= 120.*0-119 ms after stimulus onset"
    ):
        it.responses("george_central_it", window)


def test_not_an_it_dataset() -> None:
    with pytest.raises(
        InvalidArgumentError, match="'clickme-sample' is not an IT recordings dataset"
    ):
        nd.ITRecordings("clickme-sample")


def test_open_refuses_other_stores(tmp_path: Path) -> None:
    from neural_datasets.storage.layout import create_group, standard_attributes

    create_group(tmp_path / "s.zarr", {**standard_attributes("clickme-test", {}), "clickme": {}})
    with pytest.raises(CorruptStoreError, match="not an IT recordings store"):
        ITRecordings.open(tmp_path / "s.zarr")


def test_open_a_store_directly(it: ITRecordings) -> None:
    again = ITRecordings.open(it.store)
    assert again.populations == it.populations
    assert "george_central_it" in repr(again)


def test_preprocess_formulas() -> None:
    X = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    mean, std = np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225])
    scaled = X.astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(preprocess(X), (scaled - mean) / std)
    np.testing.assert_array_equal(preprocess(X, legacy=True), (scaled - mean) / mean)
    assert preprocess(X).dtype == np.float32


def test_preview(it: ITRecordings, tmp_path: Path) -> None:
    out = render(it.store, tmp_path / "x.png", n=2)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert img.width > 4 * TILE and img.height > 3 * TILE  # 2 pairs a row, 3 populations
        # the first row's first tile is the first George stimulus at TILE x TILE
        tile = np.asarray(img)[TITLE + HEADER : TITLE + HEADER + TILE, GAP : GAP + TILE]
    np.testing.assert_array_equal(tile, it.stimuli("george_central_it", size=TILE)[0])


def test_colorize_constant_map() -> None:
    assert colorize(np.ones((2, 2))).tolist() == [[[0, 0, 4]] * 2] * 2
