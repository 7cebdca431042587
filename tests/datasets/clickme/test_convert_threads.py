"""The threaded ClickMe converter: validation, fail-fast, resumption keyed by sha256."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.shardgen import make_spec, sample_examples

from neural_datasets.datasets.clickme import convert as clickme
from neural_datasets.datasets.spec import DatasetSpec, RemoteFile
from neural_datasets.errors import ConversionError
from neural_datasets.formats.tfrecord import encode_example, write_records
from neural_datasets.storage.reader import open_sample_array, read_whole

PER_SHARD = 96  # 3 shards of 96 = 288 samples: units of 128 span shard boundaries


def _write(
    folder: Path, shards: int, seeds: dict | None = None, bad: dict | None = None
) -> DatasetSpec:
    """``shards`` shards of records cycling through the sample (shard ``i`` offset by ``seeds[i]``).

    ``bad`` maps (shard, record) to feature overrides, e.g. ``{"label": 1000}``.
    """
    examples = sample_examples()
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for shard in range(shards):
        records = []
        for record in range(PER_SHARD):
            n = shard * PER_SHARD + record
            seed = (seeds or {}).get(shard, 0)
            image, heatmap, _ = examples[(n + seed) % len(examples)]
            features = {"image": image, "heatmap": heatmap, "label": (n + seed) % 1000}
            features.update((bad or {}).get((shard, record), {}))
            records.append(encode_example(features))
        names.append(f"val-{shard}.tfrecords")
        write_records(folder / names[-1], records)
    return make_spec("clickme-unit", folder.as_uri(), names)


def _convert(spec: DatasetSpec, folder: Path, building: Path, workers: int = 2) -> dict:
    building.mkdir(parents=True, exist_ok=True)
    sources = {r.path: folder / r.path for r in spec.files}
    return clickme.convert(spec, sources, building, progress=False, workers=workers)


def _read(building: Path) -> dict[str, np.ndarray]:
    n = len(read_whole(building / "label"))
    return {
        "image": open_sample_array(building / "image").take(np.arange(n)),
        "heatmap": open_sample_array(building / "heatmap").take(np.arange(n)),
        "label": read_whole(building / "label"),
        "source_shard": read_whole(building / "source_shard"),
    }


def test_threads_write_what_one_thread_writes(tmp_path: Path) -> None:
    spec = _write(tmp_path / "src", 3)
    one = _convert(spec, tmp_path / "src", tmp_path / "one", workers=1)
    two = _convert(spec, tmp_path / "src", tmp_path / "two", workers=2)
    assert one == two and one["clickme"]["records_per_file"] == [PER_SHARD] * 3
    a, b = _read(tmp_path / "one"), _read(tmp_path / "two")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["label"].tolist() == [n % 1000 for n in range(3 * PER_SHARD)]
    assert not (tmp_path / "two" / clickme.PROGRESS_DIR).exists()


@pytest.mark.timeout(120)  # a guard against a hang: the threads must stop, not run on
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"label": 1000}, "label 1000 is outside 0..999"),
        ({"label": -1}, "label -1 is outside 0..999"),
        ({"image": None}, "the image is 128x128 pixels, expected 256x256"),
        ({"heatmap": b"not a jpeg"}, "the heatmap JPEG does not decode"),
    ],
)
def test_a_bad_record_stops_the_conversion_naming_shard_and_record(
    tmp_path: Path, override: dict, message: str
) -> None:
    if override.get("image", 0) is None:  # a real JPEG of the wrong size
        buffer = io.BytesIO()
        Image.new("RGB", (128, 128), (9, 9, 9)).save(buffer, "JPEG")
        override = {"image": buffer.getvalue()}
    spec = _write(tmp_path / "src", 3, bad={(2, 41): override})
    with pytest.raises(ConversionError) as info:
        _convert(spec, tmp_path / "src", tmp_path / "building")
    text = str(info.value)
    assert "val-2.tfrecords, record 41" in text and message in text
    assert "next call resumes" in text


def test_an_empty_shard_is_an_error_not_dropped(tmp_path: Path) -> None:
    spec = _write(tmp_path / "src", 2)
    write_records(tmp_path / "src" / "val-1.tfrecords", [])
    with pytest.raises(ConversionError, match=r"val-1.tfrecords holds no records"):
        _convert(spec, tmp_path / "src", tmp_path / "building")


def test_a_source_changed_since_its_check_is_refused(tmp_path: Path) -> None:
    spec = _write(tmp_path / "src", 1)
    pinned = replace(spec, files=(RemoteFile(spec.files[0].path, "0" * 64),))
    with pytest.raises(ConversionError, match="changed after it was checked"):
        _convert(pinned, tmp_path / "src", tmp_path / "building")


def test_resume_redoes_exactly_the_units_of_a_changed_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Units of 128 samples over shards of 96: unit 0 reads shards 0-1, unit 1 shards 1-2,
    # unit 2 shard 2. A bad record in unit 2 stops the first attempt after units 0 and 1.
    bad = _write(tmp_path / "src", 3, bad={(2, 90): {"label": 5000}})
    building = tmp_path / "building"
    with pytest.raises(ConversionError):
        _convert(bad, tmp_path / "src", building, workers=1)
    progress = building / clickme.PROGRESS_DIR
    assert sorted(p.name for p in progress.glob("unit-*.json")) == ["unit-0.json", "unit-1.json"]
    # Meanwhile shard 2 is replaced by other records (same count): unit 1 must not keep
    # the old shard's samples, unit 0 never read it and is kept.
    spec = _write(tmp_path / "src", 3, seeds={2: 7})
    converted: list[int] = []
    convert_unit = clickme._convert_unit
    monkeypatch.setattr(
        clickme,
        "_convert_unit",
        lambda building, sources, unit, *rest: (
            converted.append(unit.number) or convert_unit(building, sources, unit, *rest)
        ),
    )
    _convert(spec, tmp_path / "src", building, workers=1)
    assert converted == [1, 2]
    _convert(spec, tmp_path / "src", tmp_path / "fresh", workers=1)
    got, expected = _read(building), _read(tmp_path / "fresh")
    for key in got:
        np.testing.assert_array_equal(got[key], expected[key])
