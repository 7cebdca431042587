"""ITRecordings serves any spec of the spatial-IT family: its own archive name and monkeys."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.datasets.arcaro2020.convert import MONKEYS
from neural_datasets.datasets.arcaro2020.spec import SAMPLE_FOLDER
from neural_datasets.datasets.spec import RemoteFile


def test_a_spatial_it_spec_with_its_own_archive_and_monkeys(tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copyfile(SAMPLE_FOLDER / "Arcaro2020.zip", folder / "red-only.zip")
    sample = registry.get_spec("arcaro2020-sample")
    spec = replace(
        sample,
        name="lab-it-red",
        base_url=folder.as_uri(),
        files=(RemoteFile("red-only.zip", sample.files[0].sha256, sample.files[0].size),),
        samples=4,
        family_options={"archive": "red-only.zip", "monkeys": (MONKEYS[1],)},
    )
    registry.REGISTRY[spec.name] = spec
    try:
        it = nd.load("lab-it-red", cache_dir=tmp_path / "c", progress=False)
        assert isinstance(it, nd.ITRecordings)
        assert it.populations == ("red_central_it",)
        same = nd.ITRecordings("arcaro2020-sample", cache_dir=tmp_path / "c", progress=False)
        np.testing.assert_array_equal(
            it.responses("red_central_it", time_window=(50, 90)),
            same.responses("red_central_it", time_window=(50, 90)),
        )
    finally:
        del registry.REGISTRY[spec.name]
