"""The conformance kit over every registered dataset with a sample, ours and the example plug-in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from neural_datasets import registry
from neural_datasets.testing import DatasetConformance, check_dataset, has_sample

WITH_SAMPLE = [name for name in registry.available() if has_sample(name)]


def test_every_dataset_folder_ships_a_sample() -> None:
    families = {registry.get_spec(name).family for name in WITH_SAMPLE}
    assert families == {registry.get_spec(n).family for n in registry.available()}


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_SAMPLE)
def test_our_datasets_conform(name: str, tmp_path: Path) -> None:
    done = check_dataset(name, cache_dir=tmp_path)
    assert "verify: catches a flipped byte in every array and a missing file" in done
    assert any(check.startswith("features: ") for check in done), done
    assert {"torch batches", "tf.data batches"} <= set(done), done  # every family, IT included


def test_a_source_breaking_its_declared_features_fails_the_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neural_datasets.datasets.arcaro2020.dataset import ITRecordings

    unwindowed = ITRecordings.batch_sources  # responses keep their time axis: rank 4, not 3
    monkeypatch.setattr(
        ITRecordings, "batch_sources", lambda self: unwindowed(self, time_window=None)
    )
    with pytest.raises(AssertionError, match=r"arcaro2020-sample \(george_central_it\): response"):
        check_dataset("arcaro2020-sample", cache_dir=tmp_path, frameworks=False)


@pytest.fixture
def lab_plugin() -> Iterator[None]:
    sys.path.insert(0, str(Path(__file__).parent / "plugins"))
    from lab_datasets.spec import SPECS

    registry.REGISTRY.update((spec.name, spec) for spec in SPECS)
    yield
    for spec in SPECS:
        del registry.REGISTRY[spec.name]
    sys.path.remove(str(Path(__file__).parent / "plugins"))


@pytest.mark.usefixtures("lab_plugin")
class TestExamplePlugin(DatasetConformance):
    """How a plug-in package's own tests use the kit: subclass, name the dataset."""

    dataset = "lab-clickme"
    frameworks = False  # its batches are ClickMe's, checked above with both frameworks
