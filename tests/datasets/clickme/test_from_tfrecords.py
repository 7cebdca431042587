"""ClickMe.from_tfrecords: a lab's own ClickMe-format files, converted once, keyed by sha256."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from support.shardgen import write_shards

import neural_datasets as nd
from neural_datasets.datasets.clickme import convert as clickme


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    names = write_shards(tmp_path / "mine", 3, 40)
    return [tmp_path / "mine" / name for name in names]


def test_converts_in_the_given_order_and_reads_the_records(files: list[Path], tmp_path) -> None:
    ds = nd.ClickMe.from_tfrecords(files[::-1], cache_dir=tmp_path / "c", progress=False)
    assert len(ds) == 120 and ds.split == "custom"
    # Shard 2's records (labels 80..119) come first: the order of the paths.
    labels = ds.read_batch(np.arange(120))["label"]
    np.testing.assert_array_equal(labels, np.r_[80:120, 40:80, 0:40])
    assert ds.source(0) == ("part-2.tfrecords", 0)
    assert all(f.read_bytes() for f in files)  # read where they are, never moved


def test_same_files_convert_once_wherever_they_lie(
    files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = nd.ClickMe.from_tfrecords(files, cache_dir=tmp_path / "c", progress=False)
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    copies = [Path(shutil.copy(f, elsewhere / f.name)) for f in files]

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted twice")

    monkeypatch.setattr(clickme, "convert", no_conversion)
    again = nd.ClickMe.from_tfrecords(copies, cache_dir=tmp_path / "c", progress=False)
    assert again.location == first.location and again.name == first.name


def test_changed_files_get_their_own_store(files: list[Path], tmp_path: Path) -> None:
    a = nd.ClickMe.from_tfrecords(files, cache_dir=tmp_path / "c", progress=False)
    b = nd.ClickMe.from_tfrecords(files[:2], cache_dir=tmp_path / "c", progress=False)
    assert a.location != b.location and (len(a), len(b)) == (120, 80)
    sources = b.attrs["neural_datasets"]["sources"]
    assert list(sources) == ["part-0.tfrecords", "part-1.tfrecords"]


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(nd.InvalidArgumentError, match="at least one"):
        nd.ClickMe.from_tfrecords([])
    with pytest.raises(nd.InvalidArgumentError, match="nope.tfrecords is not a file"):
        nd.ClickMe.from_tfrecords([tmp_path / "nope.tfrecords"])


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    blocks = [b for b in readme.split("```python\n")[1:] if "from_tfrecords" in b.split("```")[0]]
    assert len(blocks) == 1
    exec(compile(blocks[0].split("```")[0], "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip() == "48 (2, 256, 256, 3)"
