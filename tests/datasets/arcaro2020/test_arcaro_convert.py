"""Tests of the Arcaro 2020 converter: layout, v5 and v7.3 input, archive variants, bad input."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image
from support import arcaro_sample
from support.matgen import write_mat5, write_mat73

from neural_datasets.datasets.arcaro2020.convert import GEORGE_SPLIT_NOTE, convert
from neural_datasets.datasets.arcaro2020.dataset import InvalidArgumentError, ITRecordings
from neural_datasets.errors import ConversionError
from neural_datasets.formats.resize import resize_bilinear
from neural_datasets.registry import get_spec
from neural_datasets.storage.layout import publish, read_attributes, standard_attributes
from neural_datasets.storage.verify import verify_store

GEORGE_MAT = "George/george_060118_data.mat"
RED_MAT = "Red/red_062419_data.mat"


@pytest.fixture(scope="module")
def script():
    """The sample archive's members and a zip writer (tests/support, not scripts/)."""
    return arcaro_sample


@pytest.fixture(scope="module")
def members(script) -> dict[str, bytes]:
    return script.archive_members()


def load(members: dict[str, bytes], mat: str) -> dict:
    return scipy.io.loadmat(io.BytesIO(members[mat]))


def build_store(
    script, tmp_path: Path, members: dict[str, bytes], top: str | None = "Arcaro2020"
) -> Path:
    """Convert ``members`` zipped (under ``top``) and publish the store, as fetch does."""
    archive = script.write_archive(tmp_path / "Arcaro2020.zip", members, top=top)
    building = tmp_path / "store.zarr.building"
    building.mkdir()
    attrs = convert(
        get_spec("arcaro2020-sample"), {"Arcaro2020.zip": archive}, building, progress=False
    )
    json.dumps(attrs)  # must be JSON-serialisable
    return publish(building, tmp_path / "store.zarr", {**standard_attributes("test", {}), **attrs})


@pytest.fixture(scope="module")
def sample_store(script, members, tmp_path_factory) -> Path:
    return build_store(script, tmp_path_factory.mktemp("sample"), members)


def zarr_meta(store: Path, name: str) -> dict:
    return json.loads((store / name / "zarr.json").read_text())


def test_layout_dims_and_checksums(sample_store: Path, members) -> None:
    for monkey, grid, channels in (("george", 17, 63), ("red", 9, 32)):
        meta = zarr_meta(sample_store, f"{monkey}_responses")
        assert meta["dimension_names"] == ["image", "x", "y", "time", "channel"]
        assert meta["data_type"] == "float32"
        assert meta["shape"] == [4, grid, grid, 120, channels]
        stim = zarr_meta(sample_store, f"{monkey}_stimuli")
        assert stim["dimension_names"] == ["image", "height", "width", "rgb"]
        assert stim["data_type"] == "uint8"
        for name in (f"{monkey}_responses", f"{monkey}_stimuli"):
            assert (sample_store / "checksums" / name / "zarr.json").exists()
        assert (
            zarr_meta(sample_store, f"{monkey}_time")["attributes"]["units"]
            == "ms after stimulus onset"
        )
    assert verify_store(sample_store) == []


def test_responses_and_stimuli_are_the_raw_data(sample_store: Path, members) -> None:
    import zarr

    group = zarr.open_group(str(sample_store), mode="r")
    for monkey, mat, folder in (
        ("george", GEORGE_MAT, "George/natural_test"),
        ("red", RED_MAT, "Red/red_naturalface"),
    ):
        raw = load(members, mat)
        np.testing.assert_array_equal(
            group[f"{monkey}_responses"][...], np.moveaxis(raw["imageRF"], -1, 0)
        )
        names = [str(c[0]).split("\\")[-1] for c in raw["UniqueNames"][0]]
        stimuli = group[f"{monkey}_stimuli"][...]
        for stored, name in zip(stimuli, names, strict=True):
            decoded = np.asarray(Image.open(io.BytesIO(members[f"{folder}/{name}"])).convert("RGB"))
            np.testing.assert_array_equal(stored, decoded)
        np.testing.assert_array_equal(group[f"{monkey}_time"][...], np.arange(120))
        np.testing.assert_array_equal(group[f"{monkey}_x"][...], np.arange(raw["imageRF"].shape[0]))


def test_metadata_attributes(sample_store: Path, members) -> None:
    it = read_attributes(sample_store)["it"]
    assert it["dims"]["responses"] == ["image", "x", "y", "time", "channel"]
    george, red = it["monkeys"]["george"], it["monkeys"]["red"]
    assert george["channel_regions"] == ["posterior_it"] * 33 + ["central_it"] * 30
    assert red["channel_regions"] == ["central_it"] * 32
    assert (
        george["source_dtype"] == "float64" and george["grid"] == [17, 17] and red["grid"] == [9, 9]
    )
    raw = load(members, GEORGE_MAT)["UniqueNames"][0]
    assert george["stimulus_sources"] == [str(c[0]) for c in raw]
    assert george["stimulus_names"] == ["astronaut.jpg", "coffee.jpg", "chelsea.jpg", "rocket.jpg"]
    assert it["populations"] == {
        "george_central_it": {
            "monkey": "george",
            "region": "central_it",
            "channels": [33, 63],
            "note": GEORGE_SPLIT_NOTE,
        },
        "george_posterior_it": {
            "monkey": "george",
            "region": "posterior_it",
            "channels": [0, 33],
            "note": GEORGE_SPLIT_NOTE,
        },
        "red_central_it": {
            "monkey": "red",
            "region": "central_it",
            "channels": [0, 32],
            "note": "",
        },
    }


def test_archive_without_top_folder(script, members, sample_store: Path, tmp_path: Path) -> None:
    import zarr

    store = build_store(script, tmp_path, members, top=None)
    a, b = zarr.open_group(str(sample_store), mode="r"), zarr.open_group(str(store), mode="r")
    for name in ("george_responses", "red_stimuli"):
        np.testing.assert_array_equal(a[name][...], b[name][...])
    assert read_attributes(store)["it"] == read_attributes(sample_store)["it"]


def test_v73_files_convert_like_v5(script, members, sample_store: Path, tmp_path: Path) -> None:
    import zarr

    v73 = dict(members)
    for mat in (GEORGE_MAT, RED_MAT):
        raw = load(members, mat)
        names = [str(c[0]) for c in raw["UniqueNames"][0]]
        v73[mat] = write_mat73({"imageRF": raw["imageRF"], "UniqueNames": names})
    assert v73[GEORGE_MAT][:19] == b"MATLAB 7.3 MAT-file"
    store = build_store(script, tmp_path, v73)
    a, b = zarr.open_group(str(sample_store), mode="r"), zarr.open_group(str(store), mode="r")
    for name in ("george_responses", "red_responses", "george_stimuli", "red_stimuli"):
        np.testing.assert_array_equal(a[name][...], b[name][...])
    assert read_attributes(store)["it"] == read_attributes(sample_store)["it"]


def test_stimuli_of_different_sizes_are_padded(script, members, tmp_path: Path) -> None:
    odd = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(odd).save(buf, "PNG")
    store = build_store(
        script, tmp_path, {**members, "George/natural_test/coffee.jpg": buf.getvalue()}
    )
    it = ITRecordings.open(store)
    import zarr

    group = zarr.open_group(str(store), mode="r")
    np.testing.assert_array_equal(
        group["george_stimulus_size"][...], [[256, 256], [200, 300], [256, 256], [256, 256]]
    )
    padded = group["george_stimuli"][1]
    assert padded.shape == (256, 300, 3)
    np.testing.assert_array_equal(padded[:200], odd)
    assert not padded[200:].any()
    with pytest.raises(
        InvalidArgumentError, match=r"differ in size \(256x256, 200x300, .*pass size="
    ):
        it.stimuli("george_central_it")
    resized = it.stimuli("george_central_it", size=(64, 48))
    assert resized.shape == (4, 64, 48, 3)
    np.testing.assert_array_equal(resized[1], resize_bilinear(odd, (64, 48)))


def test_exif_orientation_is_applied_like_cv2(script, members, tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    (tmp_path / "e.jpg").write_bytes(buf.getvalue())
    expected = cv2.imread(str(tmp_path / "e.jpg"))[:, :, ::-1]
    assert expected.shape == (96, 64, 3)
    store = build_store(
        script, tmp_path, {**members, "George/natural_test/rocket.jpg": buf.getvalue()}
    )
    import zarr

    stored = zarr.open_group(str(store), mode="r")["george_stimuli"][3]
    np.testing.assert_array_equal(stored[:96, :64], expected)


def test_single_image_monkey(script, members, tmp_path: Path) -> None:
    raw = load(members, RED_MAT)
    one = {
        **members,
        RED_MAT: write_mat5(
            {"imageRF": raw["imageRF"][..., 0], "UniqueNames": [str(raw["UniqueNames"][0][0][0])]}
        ),
    }
    it = ITRecordings.open(build_store(script, tmp_path, one))
    assert it.responses("red_central_it", None).shape == (1, 9, 9, 120, 32)


def test_building_is_emptied_first(script, members, tmp_path: Path) -> None:
    archive = script.write_archive(tmp_path / "Arcaro2020.zip", members)
    building = tmp_path / "b"
    (building / "stale_array").mkdir(parents=True)
    (building / "stale.txt").write_text("left by a crash")
    convert(get_spec("arcaro2020-sample"), {"Arcaro2020.zip": archive}, building, progress=False)
    assert not (building / "stale_array").exists() and not (building / "stale.txt").exists()


def expect_failure(script, tmp_path: Path, members: dict[str, bytes], pattern: str) -> None:
    with pytest.raises(ConversionError, match=pattern):
        build_store(script, tmp_path, members)


@pytest.mark.parametrize("writer", [write_mat5, write_mat73], ids=["v5", "v7.3"])
def test_mat_without_imageRF(script, members, tmp_path: Path, writer) -> None:
    names = [str(c[0]) for c in load(members, RED_MAT)["UniqueNames"][0]]
    bad = {**members, RED_MAT: writer({"UniqueNames": names, "spikes": np.zeros((2, 2))})}
    expect_failure(
        script,
        tmp_path,
        bad,
        r"Arcaro2020\.zip:Red/red_062419_data\.mat has no variable 'imageRF'; it holds: .*spikes",
    )


def test_stimuli_missing_from_archive(script, members, tmp_path: Path) -> None:
    bad = {k: v for k, v in members.items() if not k.endswith(("coffee.jpg", "rocket.jpg"))}
    expect_failure(
        script,
        tmp_path,
        bad,
        r"george_060118_data\.mat names 2 stimuli in UniqueNames that Arcaro2020\.zip does not "
        r"hold: George/natural_test/coffee\.jpg, George/natural_test/rocket\.jpg",
    )


def test_missing_mat_file(script, members, tmp_path: Path) -> None:
    bad = {k: v for k, v in members.items() if k != RED_MAT}
    expect_failure(script, tmp_path, bad, r"has no file 'Red/red_062419_data\.mat'")


def test_unique_names_count_must_match(script, members, tmp_path: Path) -> None:
    raw = load(members, RED_MAT)
    bad = {**members, RED_MAT: write_mat5({"imageRF": raw["imageRF"], "UniqueNames": ["a.jpg"]})}
    expect_failure(
        script, tmp_path, bad, r"one file name per image of imageRF \(4\), but it holds 1 entries"
    )


def test_imageRF_of_wrong_type(script, members, tmp_path: Path) -> None:
    bad = {**members, RED_MAT: write_mat5({"imageRF": "oops", "UniqueNames": ["a.jpg"]})}
    expect_failure(
        script,
        tmp_path,
        bad,
        r"imageRF should be a numeric array with dims \(x, y, time, channel, image\)",
    )


def test_unreadable_stimulus(script, members, tmp_path: Path) -> None:
    bad = {**members, "Red/red_naturalface/hubble.jpg": b"not an image"}
    expect_failure(
        script,
        tmp_path,
        bad,
        r"Arcaro2020\.zip:Red/red_naturalface/hubble\.jpg is not a readable image",
    )


def test_sample_script_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3] / "scripts"))
    script = importlib.import_module("samples_arcaro")  # needs scikit-image ([dev])
    first = script.main(tmp_path / "a")[0]
    second = script.main(tmp_path / "b")[0]
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < 1_500_000
