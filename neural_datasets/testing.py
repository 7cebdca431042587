"""The conformance kit: what every dataset with a bundled sample must do, checked in one call.

A dataset folder's tests (or a plug-in package's) call :func:`check_dataset`
on its sample, or subclass :class:`DatasetConformance`, and get every
guarantee of this package checked against their own spec:

* it fetches offline (``NEURAL_DATASETS_OFFLINE=1``) from its ``file://`` sample;
* it converts to every declared layout, and every layout returns the same samples;
* ``verify`` passes, and catches one flipped byte in every array, a file
  its manifest lists gone missing, and a file missing from its manifest;
* the stored values have the declared features' dtypes, shapes and value ranges,
  and every layout's converter refuses a value outside a declared range (checked
  by narrowing the range below a value the sample holds);
* the PyTorch and tf.data adapters give batches of the declared features
  (when the framework is installed and the dataset is a batch source);
* the preview renders a PNG; ``info`` shows sizes and the citation;
* ``path --layout L`` is refused for a layout the dataset lacks.

Examples
--------
In a dataset's tests (the suite runs it over every registered dataset with a
sample, tests/test_conformance.py)::

    from neural_datasets.testing import check_dataset

    def test_my_dataset_conforms(tmp_path):
        check_dataset("my-dataset-sample", cache_dir=tmp_path)

>>> from neural_datasets.testing import has_sample
>>> has_sample("arcaro2020-sample")
True
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import InvalidArgumentError
from .fetching.cache import ENV_OFFLINE, spec_cache
from .fetching.fetch import fetch
from .registry import get_spec
from .storage.manifest import MANIFEST_FILE, MARKER_FILE, store_files
from .storage.verify import verify_store

__all__ = ["DatasetConformance", "check_dataset", "has_sample"]

SAMPLES_COMPARED = 16
"""Samples read from every layout and compared (the first ones)."""


def has_sample(name: str) -> bool:
    """Whether ``name``'s raw files are bundled (a ``file://`` base URL): it can be checked.

    Examples
    --------
    >>> has_sample("clickme-sample"), has_sample("clickme-val")
    (True, False)
    """
    return get_spec(name).base_url.startswith("file://")


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    before = os.environ.get(ENV_OFFLINE)
    os.environ[ENV_OFFLINE] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_OFFLINE]
        else:
            os.environ[ENV_OFFLINE] = before


def check_dataset(
    name: str, *, cache_dir: str | os.PathLike[str] | None = None, frameworks: bool = True
) -> list[str]:
    """Run every conformance check on dataset ``name``; return the checks done, in order.

    Parameters
    ----------
    name
        A registered dataset whose raw files are bundled (:func:`has_sample`).
    cache_dir
        An empty cache to work in (default: a new temporary folder).
    frameworks
        Also check the PyTorch and tf.data batches (each when installed).

    Raises
    ------
    AssertionError
        Naming the dataset, the check and what differed.
    """
    spec = get_spec(name)
    if not has_sample(name):
        raise InvalidArgumentError(f"{name} has no bundled sample (its base URL is not file://).")
    cache_dir = cache_dir or tempfile.mkdtemp(prefix=f"conformance-{name}-")
    done = []
    with _offline():
        stores = {
            layout: fetch(name, cache_dir=cache_dir, layout=layout, progress=False)
            for layout in spec.layout_names
        }
    done.append("fetch offline")
    objects = {layout: _open(name, cache_dir, layout) for layout in spec.layout_names}
    _same_samples(name, objects)
    done.append("layouts: " + ", ".join(spec.layout_names))
    for layout, store in stores.items():
        problems = verify_store(store)
        assert problems == [], f"{name} ({layout}): verify of a fresh store found {problems}"
    done.append("verify: clean store")
    for layout, store in stores.items():
        _verify_catches_damage(name, layout, store)
    done.append("verify: catches a flipped byte in every array and a missing file")
    done.append("verify: catches a file missing from the sealed manifest")
    first = objects[spec.default_layout]
    if hasattr(first, "read_batch"):
        batch = first.read_batch(np.arange(len(first)))
        _features_hold(name, spec.features, batch)
        done.append("features: dtypes, shapes and value ranges")
        if _converters_enforce_ranges(name, batch, cache_dir):
            done.append("converters: every layout refuses a value outside a declared range")
        if frameworks:
            done += _framework_batches(name, spec.features, first)
    elif hasattr(first, "batch_sources"):  # a dataset of several sources (IT populations)
        sources = first.batch_sources()
        assert sources, f"{name}: batch_sources() gave none"
        framework_checks: list[str] = []
        for label, source in sources.items():
            batch = source.read_batch(np.arange(len(source)))
            _features_hold(f"{name} ({label})", spec.features, batch)
            if frameworks:  # the same checks for every source
                framework_checks = _framework_batches(f"{name} ({label})", spec.features, source)
        done.append("features: dtypes, shapes and value ranges of " + ", ".join(sources))
        done += framework_checks
    else:
        raise AssertionError(f"{name}: its object has neither read_batch nor batch_sources")
    with tempfile.TemporaryDirectory() as folder:
        png = spec.preview(stores[spec.default_layout], Path(folder) / "preview.png", 2)
        assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name}: preview is no PNG"
    done.append("preview renders")
    from .dataset_info import info

    about = info(name, cache_dir=cache_dir)
    assert about.samples.value and about.samples.how in ("known", "measured"), about.samples
    assert all(v.value for v in about.store_bytes.values()), f"{name}: {about.store_bytes}"
    assert about.citation and about.license, f"{name}: info lacks a citation or licence"
    done.append("info: sizes, citation, licence")
    try:
        spec_cache(spec, cache_dir, "no-such-layout")
    except InvalidArgumentError:
        done.append("path: an undeclared layout is refused")
    else:
        raise AssertionError(f"{name}: an undeclared layout was accepted")
    return done


def _open(name: str, cache_dir: str | os.PathLike[str], layout: str) -> Any:
    spec = get_spec(name)
    options: dict[str, Any] = {"cache_dir": cache_dir, "progress": False}
    if len(spec.layout_names) > 1:
        options["layout"] = layout
    return spec.open(name, **options)


def _same_samples(name: str, objects: dict[str, Any]) -> None:
    (first_layout, first), *others = objects.items()
    if not hasattr(first, "read_batch"):
        return
    indices = np.arange(min(len(first), SAMPLES_COMPARED))
    expected = first.read_batch(indices)
    for layout, other in others:
        assert len(other) == len(first), f"{name}: {layout} holds {len(other)} samples"
        got = other.read_batch(indices)
        assert list(got) == list(expected), f"{name}: {layout} gives keys {list(got)}"
        for key, value in expected.items():
            assert np.array_equal(got[key], value), f"{name}: {layout} differs in {key!r}"


def _verify_catches_damage(name: str, layout: str, store: Path) -> None:
    by_array: dict[str, list[Path]] = {}
    for relative in store_files(store):
        top = relative.split("/")[0]
        if not relative.endswith("zarr.json") and "/" in relative:
            by_array.setdefault(top, []).append(store / relative)
    for array, files in sorted(by_array.items()):
        target = max(files, key=lambda p: p.stat().st_size)
        original = target.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0x01
        target.write_bytes(bytes(damaged))
        try:
            problems = verify_store(store)
        finally:
            target.write_bytes(original)
        assert any(array in p for p in problems), (
            f"{name} ({layout}): a flipped byte in {target.relative_to(store)} went unnoticed "
            f"by verify ({problems})"
        )
    victim = next(iter(sorted(f for files in by_array.values() for f in files)))
    moved = victim.with_name(victim.name + ".aside")
    victim.rename(moved)
    try:
        problems = verify_store(store)
    finally:
        moved.rename(victim)
    listed = victim.relative_to(store).as_posix()
    assert any(listed in p for p in problems), (
        f"{name} ({layout}): {listed}, listed in {MANIFEST_FILE}, went missing unnoticed"
    )
    _verify_catches_unlisted_file(name, layout, store, listed)
    assert verify_store(store) == [], f"{name} ({layout}): the restored store does not verify"


def _verify_catches_unlisted_file(name: str, layout: str, store: Path, listed: str) -> None:
    """Drop ``listed``'s manifest entry, re-sealing the marker: verify must name the file."""
    manifest_path, marker_path = store / MANIFEST_FILE, store / MARKER_FILE
    manifest_bytes, marker_bytes = manifest_path.read_bytes(), marker_path.read_bytes()
    manifest = json.loads(manifest_bytes)
    del manifest["attributes"]["neural_datasets_manifest"]["files"][listed]
    manifest_path.write_text(json.dumps(manifest, sort_keys=True))
    marker = json.loads(marker_bytes)
    seal = marker["attributes"]["neural_datasets_complete"]
    seal["manifest_sha256"] = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    marker_path.write_text(json.dumps(marker))
    try:
        problems = verify_store(store)
    finally:
        manifest_path.write_bytes(manifest_bytes)
        marker_path.write_bytes(marker_bytes)
    assert any(listed in p for p in problems), (
        f"{name} ({layout}): {listed}, missing from the sealed manifest, went unnoticed"
    )


def _features_hold(name: str, features: tuple[Any, ...], batch: dict[str, Any]) -> None:
    declared = [f.name for f in features]
    assert declared and list(batch) == declared, f"{name}: batch keys {list(batch)}, {declared}"
    for feature in features:
        values = np.asarray(batch[feature.name])
        assert values.dtype == np.dtype(feature.dtype), f"{name}: {feature.name} {values.dtype}"
        shape = values.shape[1:]
        fits = len(shape) == len(feature.shape) and all(
            want is None or want == got for want, got in zip(feature.shape, shape)
        )
        assert fits, f"{name}: {feature.name} samples are {shape}, declared {feature.shape}"
        feature.check_range(values, name)


def _converters_enforce_ranges(
    name: str, batch: dict[str, Any], cache_dir: str | os.PathLike[str]
) -> bool:
    """Narrow each declared range to exclude a value the sample holds: every layout must refuse.

    The narrowed spec is registered for the check only, under another name.
    """
    from dataclasses import replace

    from .errors import ConversionError
    from .registry import REGISTRY

    spec = get_spec(name)
    checked = False
    for index, feature in enumerate(spec.features):
        if feature.value_range is None:
            continue
        low, high = feature.value_range
        top = float(np.max(batch[feature.name]))
        narrowed = (low, top - 1) if top - 1 >= low else (top + 1, high)
        features = list(spec.features)
        features[index] = replace(feature, value_range=narrowed)
        probe = replace(spec, name=f"{name}--range-check", features=tuple(features))
        REGISTRY[probe.name] = probe
        try:
            for layout in probe.layout_names:
                try:
                    with _offline(), warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # unpinned copies, trusted on first use
                        fetch(probe.name, cache_dir=cache_dir, layout=layout, progress=False)
                except ConversionError as exc:
                    assert feature.name in str(exc), f"{name} ({layout}): {exc}"
                else:
                    raise AssertionError(
                        f"{name} ({layout}): the converter accepted {feature.name} values "
                        f"outside the declared range {narrowed}"
                    )
        finally:
            del REGISTRY[probe.name]
        checked = True
    return checked


def _framework_batches(name: str, features: tuple[Any, ...], source: Any) -> list[str]:
    done = []
    pictures = {f.name for f in features if f.is_picture}
    if importlib.util.find_spec("torch") is not None:
        from .adapters.torch import loader

        batch = next(iter(loader(source, 4, shuffle=False)))
        assert sorted(batch) == sorted(f.name for f in features), f"{name}: torch {list(batch)}"
        for key in pictures:  # [B, C, H, W]
            assert batch[key].ndim == 4, f"{name}: torch {key} is {tuple(batch[key].shape)}"
        done.append("torch batches")
    if importlib.util.find_spec("tensorflow") is not None:
        from .adapters.tf import dataset

        spec = dataset(source, 4, shuffle=False).element_spec
        assert sorted(spec) == sorted(f.name for f in features), f"{name}: tf {list(spec)}"
        for feature in features:
            assert spec[feature.name].dtype.name == feature.dtype, f"{name}: tf {feature.name}"
            rank = len(feature.shape) + 1 + (feature.axes == "HW")  # maps get a channel axis
            assert spec[feature.name].shape.rank == rank, f"{name}: tf {feature.name} rank"
        done.append("tf.data batches")
    return done


class DatasetConformance:
    """Subclass in a dataset's tests, naming it: every conformance check runs as one test.

    Examples
    --------
    ::

        from neural_datasets.testing import DatasetConformance

        class TestMyDataset(DatasetConformance):
            dataset = "my-dataset-sample"
    """

    dataset: ClassVar[str]
    frameworks: ClassVar[bool] = True

    def test_conformance(self, tmp_path: Path) -> None:
        done = check_dataset(self.dataset, cache_dir=tmp_path, frameworks=self.frameworks)
        assert done[-1] == "path: an undeclared layout is refused"
