"""Opening a store by location: a wrong path is not reported as a damaged store."""

from __future__ import annotations

from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets.errors import CorruptStoreError, InvalidArgumentError


@pytest.mark.parametrize("cls", [nd.ClickMe, nd.ITRecordings])
def test_a_path_that_does_not_exist_says_so(cls: type, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "store.zarr"
    with pytest.raises(InvalidArgumentError, match=f"There is no store at {missing}"):
        cls.open(missing)


def test_an_existing_folder_without_metadata_is_a_damaged_store(tmp_path: Path) -> None:
    (tmp_path / "store.zarr").mkdir()
    with pytest.raises(CorruptStoreError, match="zarr.json"):
        nd.ClickMe.open(tmp_path / "store.zarr")
