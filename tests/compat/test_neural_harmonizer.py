"""``Neural_dataset`` against an independent restatement of neural_harmonizer's class.

``Upstream`` follows the algorithm of ``neural_harmonizer/data/dataset.py``
(serre-lab/neural_harmonizer) on the sample archive extracted here with
zipfile, with the tools it uses: scipy.io.loadmat, cv2.imread, cv2.resize. It
shares no code with the package. Every attribute the original sets is
compared: values, shapes, dtypes, axis order.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from support.arcaro_sample import archive_members, write_archive

import neural_datasets as nd
from neural_datasets.compat.neural_harmonizer import _extract_atomically
from neural_datasets.datasets.arcaro2020.spec import SAMPLE_FOLDER
from neural_datasets.errors import ChecksumMismatchError, ConversionError, InvalidArgumentError
from neural_datasets.fetching.hashes import UnpinnedFileWarning

cv2 = pytest.importorskip("cv2")
tf = pytest.importorskip("tensorflow")

SAMPLE_ZIP = SAMPLE_FOLDER / "Arcaro2020.zip"
POPULATIONS = ("george_central_it", "george_posterior_it", "red_central_it")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class Upstream:
    """The original's load_data, on an extracted ``Arcaro2020/`` folder; ``legacy``: its bug."""

    def __init__(self, folder: Path, legacy: bool = True) -> None:
        george = scipy.io.loadmat(f"{folder}/George/george_060118_data.mat")
        red = scipy.io.loadmat(f"{folder}/Red/red_062419_data.mat")
        g_rf = george["imageRF"].transpose((4, 0, 1, 2, 3))  # images first
        r_rf = red["imageRF"].transpose((4, 0, 1, 2, 3))
        self.george_posterior_it = g_rf[..., :33]
        self.george_central_it = g_rf[..., 33:]
        self.red_central_it = r_rf

        def files(mat: dict, subfolder: str) -> list[str]:
            return [f"{folder}/{subfolder}/" + c[0].split("\\")[-1] for c in mat["UniqueNames"][0]]

        self.george_files = files(george, "George/natural_test")
        self.red_files = files(red, "Red/red_naturalface")
        images = [
            cv2.resize(cv2.imread(f)[:, :, ::-1], (224, 224))
            for f in self.george_files + self.red_files
        ]
        self.original_stimuli = np.array(images, np.uint8)
        x = np.array(self.original_stimuli, np.float32) / 255.0
        # TensorFlow constants, as the original's: NumPy's in-place ops then give an EagerTensor.
        x -= tf.constant(MEAN.reshape(1, 1, 3))
        x /= tf.constant((MEAN if legacy else STD).reshape(1, 1, 3))
        self.preprocessed_stimuli = x
        n_red, n_george = len(self.red_files), len(self.george_files)
        self.original_stimuli_red = self.original_stimuli[-n_red:]
        self.original_stimuli_george = self.original_stimuli[:n_george]
        self.preprocessed_stimuli_red = self.preprocessed_stimuli[-n_red:]
        self.preprocessed_stimuli_george = self.preprocessed_stimuli[:n_george]

    def y(self, population: str, a: int, b: int) -> np.ndarray:
        return getattr(self, population)[:, ::-1, ::-1, a:b, :].mean(axis=3)

    def load_data(self, stimuli: str, a: int, b: int) -> tuple[np.ndarray, ...]:
        monkey = stimuli.split("_")[0]
        return (
            getattr(self, f"original_stimuli_{monkey}"),
            getattr(self, f"preprocessed_stimuli_{monkey}"),
            self.y(stimuli, a, b),
        )


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("extracted")
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        zf.extractall(folder)  # the bundled, trusted sample
    return folder / "Arcaro2020"


@pytest.fixture(scope="module")
def upstream(extracted: Path) -> Upstream:
    return Upstream(extracted, legacy=True)


@pytest.fixture(scope="module")
def corrected(extracted: Path) -> Upstream:
    return Upstream(extracted, legacy=False)


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def dataset(module_cache: Path) -> nd.Neural_dataset:
    """With the defaults a client gets: the original's arithmetic (and its one-time warning)."""
    return nd.Neural_dataset("arcaro2020-sample", cache_dir=module_cache, progress=False)


@pytest.fixture(scope="module")
def fixed(module_cache: Path) -> nd.Neural_dataset:
    """The corrected preprocessing, chosen explicitly."""
    return nd.Neural_dataset(
        "arcaro2020-sample", cache_dir=module_cache, progress=False, legacy_preprocessing=False
    )


@pytest.fixture(scope="module")
def legacy(module_cache: Path) -> nd.Neural_dataset:
    return nd.Neural_dataset(
        "arcaro2020-sample", cache_dir=module_cache, progress=False, legacy_preprocessing=True
    )


def the_originals_test_dataset(Neural_dataset):  # noqa: N803 (the original's spelling)
    """tests/evaluation/evaluation_test.py::test_dataset, step for step."""
    dataset = Neural_dataset()
    dataset.download_to_local()
    dataset.load_data()
    dataset.preprocess()
    dataset.get_george_posterior_it_temp()
    dataset.get_george_central_it_temp()
    dataset.get_red_central_it_temp()
    return dataset


# ---------------------------------------------------------------- the original's test


def test_the_originals_test_on_the_sample(module_cache: Path, upstream: Upstream) -> None:
    cls = functools.partial(
        nd.Neural_dataset,
        "arcaro2020-sample",
        cache_dir=module_cache,
        progress=False,
        legacy_preprocessing=True,
    )
    dataset = the_originals_test_dataset(cls)
    np.testing.assert_array_equal(dataset.preprocess(), upstream.preprocessed_stimuli)
    np.testing.assert_array_equal(dataset.y, upstream.y("george_central_it", 50, 90))


def test_the_originals_test_with_the_default_name(mirror: Path, cache_dir: Path, upstream) -> None:
    """``Neural_dataset()`` is the published archive; here served by a local mirror."""
    with pytest.warns(UnpinnedFileWarning):  # the real archive's checksum is not published
        dataset = the_originals_test_dataset(
            functools.partial(nd.Neural_dataset, base_url=mirror.as_uri(), cache_dir=cache_dir)
        )
    assert dataset.name == "arcaro2020" and isinstance(dataset, nd.ITRecordings)
    np.testing.assert_array_equal(dataset.y, upstream.y("george_central_it", 50, 90))
    assert dataset.path_to_downloaded_file == str(cache_dir / "arcaro2020/raw/Arcaro2020.zip")


def test_the_default_name_over_http(http_mirror, cache_dir: Path) -> None:
    with pytest.warns(UnpinnedFileWarning):
        dataset = nd.Neural_dataset(base_url=http_mirror.url, cache_dir=cache_dir, progress=False)
    assert dataset.load_data("red_central_it")[2].shape == (4, 9, 9, 32)


# ---------------------------------------------------------------- every attribute


ARRAYS = (
    "original_stimuli",
    "original_stimuli_george",
    "original_stimuli_red",
    "preprocessed_stimuli",
    "preprocessed_stimuli_george",
    "preprocessed_stimuli_red",
    "george_posterior_it",
    "george_central_it",
    "red_central_it",
)


@pytest.mark.parametrize("stimuli", POPULATIONS)
@pytest.mark.parametrize("window", [(50, 90), (0, 120), (64, 65)])
def test_load_data_returns_and_sets_the_originals(legacy, upstream, stimuli: str, window) -> None:
    X, X_preprocessed, y = legacy.load_data(stimuli, *window)
    ref_X, ref_pre, ref_y = upstream.load_data(stimuli, *window)
    for ours, ref in ((X, ref_X), (X_preprocessed, ref_pre), (y, ref_y)):
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
    assert legacy.X is X and legacy.X_preprocessed is X_preprocessed and legacy.y is y
    for name in ARRAYS:
        ours, ref = getattr(legacy, name), getattr(upstream, name)
        assert (ours.dtype, ours.shape) == (ref.dtype, ref.shape), name
        np.testing.assert_array_equal(ours, ref, err_msg=name)


def test_shapes_and_dtypes_on_the_sample(dataset) -> None:
    X, X_preprocessed, y = dataset.load_data()
    assert (X.shape, X.dtype) == ((4, 224, 224, 3), np.uint8)
    assert (X_preprocessed.shape, X_preprocessed.dtype) == ((4, 224, 224, 3), np.float32)
    assert (y.shape, y.dtype) == ((4, 17, 17, 30), np.float64)
    assert dataset.original_stimuli.shape == (8, 224, 224, 3)
    assert dataset.george_posterior_it.shape == (4, 17, 17, 120, 33)
    assert dataset.george_central_it.shape == (4, 17, 17, 120, 30)
    assert dataset.red_central_it.shape == (4, 9, 9, 120, 32)
    # views of one array each, as the original's slices are
    assert dataset.original_stimuli_george.base is dataset.original_stimuli
    assert dataset.george_posterior_it.base is dataset.george_central_it.base


def test_files_point_into_the_extracted_folder(dataset, upstream, extracted: Path) -> None:
    folder = dataset.download_to_local()
    dataset.load_data()
    ours = dataset.george_files + dataset.red_files
    theirs = upstream.george_files + upstream.red_files
    assert [f.removeprefix(folder) for f in ours] == [
        f.removeprefix(str(extracted)) for f in theirs
    ]
    for f in ours:
        np.testing.assert_array_equal(
            cv2.resize(cv2.imread(f)[:, :, ::-1], (224, 224)),
            dataset.original_stimuli[ours.index(f)],
        )


def test_the_window_getters(dataset, upstream) -> None:
    for population in POPULATIONS:
        getter = getattr(dataset, f"get_{population}_temp")
        np.testing.assert_array_equal(getter(), upstream.y(population, 50, 90))
        np.testing.assert_array_equal(getter(3, 117), upstream.y(population, 3, 117))
        np.testing.assert_array_equal(getter(a=10, b=11), upstream.y(population, 10, 11))
        np.testing.assert_array_equal(
            getter(np.int64(20), np.int32(40)), upstream.y(population, 20, 40)
        )


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the restated original's own warning
@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("a, b", [(90, 50), (120, 130), (60, 60)])
def test_a_window_without_bins_gives_nan_with_a_warning(dataset, upstream, a, b) -> None:
    for population in POPULATIONS:
        with pytest.warns(RuntimeWarning, match=rf"time window {a}:{b} .* selects no bin"):
            ours = getattr(dataset, f"get_{population}_temp")(a, b)
        reference = upstream.y(population, a, b)
        assert ours.shape == reference.shape and ours.dtype == reference.dtype
        assert np.isnan(ours).all()
    with pytest.warns(RuntimeWarning, match="selects no bin"):
        _, _, y = dataset.load_data("red_central_it", a, b)
    assert y.shape == (4, 9, 9, 32) and np.isnan(y).all()
    with pytest.raises(InvalidArgumentError, match=r"0 <= a < b <= 120"):
        dataset.responses("red_central_it", (a, b))  # the native API keeps its error


@pytest.mark.parametrize("a, b", [(100, 200), (-20, 120), (-30, -10)])
def test_a_window_past_the_bins_is_the_originals_slice_with_a_warning(
    dataset, upstream, a, b
) -> None:
    with pytest.warns(RuntimeWarning, match=rf"time window {a}:{b} .* averages bins"):
        ours = dataset.get_george_central_it_temp(a, b)
    np.testing.assert_array_equal(ours, upstream.y("george_central_it", a, b))


# ---------------------------------------------------------------- preprocessing


def test_preprocessing_default_is_the_originals_and_the_fix_is_one_argument(
    dataset, fixed, legacy, upstream, corrected
) -> None:
    for ds in (dataset, fixed, legacy):
        ds.load_data()
    np.testing.assert_array_equal(dataset.preprocess(), upstream.preprocessed_stimuli)
    np.testing.assert_array_equal(legacy.preprocess(), upstream.preprocessed_stimuli)
    np.testing.assert_array_equal(fixed.preprocess(), corrected.preprocessed_stimuli)
    # The two formulas differ by the factor mean/std on the centred values.
    centred = dataset.original_stimuli.astype(np.float64) / 255 - MEAN
    np.testing.assert_allclose(fixed.preprocess(), centred / STD, atol=2e-6)
    np.testing.assert_allclose(dataset.preprocess(), centred / MEAN, atol=2e-6)


def test_preprocessed_values_are_eager_tensors_as_the_originals(dataset, upstream) -> None:
    X, X_preprocessed, _ = dataset.load_data()
    assert type(X) is np.ndarray  # the original's X is NumPy, its X_preprocessed TensorFlow
    for value in (
        X_preprocessed,
        dataset.preprocessed_stimuli,
        dataset.preprocessed_stimuli_george,
        dataset.preprocessed_stimuli_red,
        dataset.preprocess(),
    ):
        assert type(value).__name__ == "EagerTensor" and value.dtype.name == "float32"
    assert type(upstream.preprocessed_stimuli).__name__ == "EagerTensor"
    np.testing.assert_array_equal(X_preprocessed.numpy(), upstream.preprocessed_stimuli_george)


def test_preprocess_reads_original_stimuli_as_the_original_does(module_cache: Path) -> None:
    white = np.full((1, 1, 1, 3), 255, np.uint8)
    for legacy, expected in ((False, [2.2489, 2.4286, 2.64]), (True, [1.0619, 1.1930, 1.4631])):
        fresh = nd.Neural_dataset(
            "arcaro2020-sample", cache_dir=module_cache, progress=False, legacy_preprocessing=legacy
        )
        fresh.original_stimuli = white
        np.testing.assert_allclose(fresh.preprocess()[0, 0, 0], expected, atol=1e-4)


def test_legacy_can_be_chosen_per_call(dataset, upstream, corrected) -> None:
    _, X_preprocessed, _ = dataset.load_data("red_central_it", legacy_preprocessing=True)
    np.testing.assert_array_equal(X_preprocessed, upstream.preprocessed_stimuli_red)
    _, X_preprocessed, _ = dataset.load_data("red_central_it", legacy_preprocessing=False)
    np.testing.assert_array_equal(X_preprocessed, corrected.preprocessed_stimuli_red)
    assert dataset.legacy_preprocessing is None


def test_preprocess_before_load_data(module_cache: Path) -> None:
    fresh = nd.Neural_dataset("arcaro2020-sample", cache_dir=module_cache, progress=False)
    with pytest.raises(AttributeError, match="call load_data"):
        fresh.preprocess()


def test_bad_stimuli_raise_the_originals_error_after_loading(module_cache: Path) -> None:
    fresh = nd.Neural_dataset("arcaro2020-sample", cache_dir=module_cache, progress=False)
    with pytest.raises(nd.InvalidArgumentError) as caught:  # a ValueError, as the original's
        fresh.load_data("george_it")
    assert str(caught.value) == (
        "stimuli='george_it': expected an IT population (the original calls it stimuli), one of "
        "george_central_it, george_posterior_it, red_central_it. Did you mean 'george_central_it'?"
    )
    assert fresh.original_stimuli.shape == (8, 224, 224, 3) and not hasattr(fresh, "X")


# ---------------------------------------------------------------- download_to_local


def test_download_to_local_extracts_the_archive_once(cache_dir: Path) -> None:
    dataset = nd.Neural_dataset("arcaro2020-sample", cache_dir=cache_dir, progress=False)
    folder = Path(dataset.download_to_local())
    assert folder == cache_dir / "arcaro2020-sample" / "extracted" / "Arcaro2020"
    members = archive_members()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == (
        sorted(members)
    )
    for name, data in members.items():
        assert (folder / name).read_bytes() == data
    stamp = (folder / "Red/red_062419_data.mat").stat().st_mtime_ns
    assert dataset.download_to_local() == str(folder)
    assert (folder / "Red/red_062419_data.mat").stat().st_mtime_ns == stamp  # not extracted again
    assert dataset.path_to_downloaded_file == str(
        cache_dir / "arcaro2020-sample/raw/Arcaro2020.zip"
    )
    leftovers = [p.name for p in folder.parents[1].iterdir() if p.name.startswith(".")]
    assert leftovers == [".lock"]
    nd.remove("arcaro2020-sample", cache_dir=cache_dir)  # removes the extracted copy too
    assert not folder.parent.exists()


def test_a_damaged_archive_is_not_extracted(cache_dir: Path) -> None:
    nd.fetch("arcaro2020-sample", cache_dir=cache_dir, progress=False)
    archive = cache_dir / "arcaro2020-sample/raw/Arcaro2020.zip"
    archive.write_bytes(archive.read_bytes()[:-1] + b"!")
    with pytest.raises(ChecksumMismatchError, match="changed since it was verified"):
        nd.Neural_dataset("arcaro2020-sample", cache_dir=cache_dir, progress=False)
    assert not (cache_dir / "arcaro2020-sample/extracted").exists()


def test_a_missing_archive_says_what_to_do(cache_dir: Path) -> None:
    nd.fetch("arcaro2020-sample", cache_dir=cache_dir, progress=False)
    (cache_dir / "arcaro2020-sample/raw/Arcaro2020.zip").unlink()
    with pytest.raises(InvalidArgumentError, match="neural-datasets rm arcaro2020-sample"):
        nd.Neural_dataset("arcaro2020-sample", cache_dir=cache_dir, progress=False)


def test_extraction_refuses_unsafe_members_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("Arcaro2020/George/ok.txt", b"fine")
        zf.writestr("Arcaro2020/../escape.txt", b"no")
    with pytest.raises(ConversionError, match="unsafe name"):
        _extract_atomically(bad, tmp_path / "out" / "extracted")
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_concurrent_extractions_give_one_complete_folder(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "Arcaro2020.zip", archive_members(), top=None)
    target = tmp_path / "cache" / "extracted"
    errors: list[BaseException] = []

    def extract() -> None:
        try:
            _extract_atomically(archive, target)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=extract) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and [p.name for p in target.parent.iterdir()] == ["extracted"]
    files = sorted(p.relative_to(target / "Arcaro2020").as_posix() for p in target.rglob("*.*"))
    assert files == sorted(archive_members())  # the top folder is added when missing


# ---------------------------------------------------------------- the class and the package


def test_it_is_an_itrecordings_with_the_modern_api(dataset) -> None:
    assert isinstance(dataset, nd.ITRecordings)
    assert dataset.responses("george_central_it", (50, 90)).shape == (4, 17, 17, 30)
    assert repr(dataset).startswith("Neural_dataset(name='arcaro2020-sample'")


def test_other_names_are_refused(cache_dir: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="not an IT recordings dataset.*ClickMe"):
        nd.Neural_dataset("clickme-sample", cache_dir=cache_dir)
    with pytest.raises(nd.UnknownDatasetError, match="Did you mean: arcaro2020"):
        nd.Neural_dataset("arcaro2021")


def test_a_store_opened_by_location_has_no_archive(dataset) -> None:
    opened = nd.Neural_dataset.open(dataset.store)
    np.testing.assert_array_equal(
        opened.get_red_central_it_temp(), dataset.get_red_central_it_temp()
    )
    with pytest.raises(InvalidArgumentError, match="created by name"):
        opened.download_to_local()


def test_import_is_light() -> None:
    heavy = ("torch", "tensorflow", "cv2", "h5py", "xarray")
    code = (
        "import sys, neural_datasets as nd; nd.Neural_dataset; nd.ITRecordings; "
        "import neural_datasets.datasets.arcaro2020.preview; "
        "import neural_datasets.datasets.arcaro2020.convert; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_a_users_script_runs(tmp_path: Path) -> None:
    script = tmp_path / "benchmark.py"
    script.write_text(
        textwrap.dedent(
            """
            from neural_datasets import Neural_dataset

            dataset = Neural_dataset("arcaro2020-sample")
            X, X_preprocessed, y = dataset.load_data("red_central_it", time_a=60, time_b=100)
            print(X.shape, y.shape, len(dataset.red_files))
            """
        )
    )
    env = {**os.environ, "NEURAL_DATASETS_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(4, 224, 224, 3) (4, 9, 9, 32) 4"
