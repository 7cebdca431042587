"""``Neural_dataset().load_data`` against an independent re-statement of the paper's loader.

``PaperLoader`` follows the algorithm of ``neural_harmonizer/data/dataset.py``
(serre-lab/neural_harmonizer) on the extracted sample archive, with the tools
it uses: scipy.io.loadmat, cv2.imread, cv2.resize. It shares no code with the
package.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import neural_datasets as nd
from neural_datasets.fetching.hashes import UnpinnedFileWarning

SAMPLE_ZIP = files("neural_datasets.datasets.arcaro2020") / "sample" / "Arcaro2020.zip"
POPULATIONS = ("george_central_it", "george_posterior_it", "red_central_it")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class PaperLoader:
    """The paper's load_data algorithm, on an extracted Arcaro2020/ folder."""

    def __init__(self, folder: Path) -> None:
        cv2 = pytest.importorskip("cv2")
        george = scipy.io.loadmat(str(folder / "George" / "george_060118_data.mat"))
        red = scipy.io.loadmat(str(folder / "Red" / "red_062419_data.mat"))
        # imageRF is (x, y, time, channel, image): put images first.
        g_rf = np.transpose(george["imageRF"], (4, 0, 1, 2, 3))
        r_rf = np.transpose(red["imageRF"], (4, 0, 1, 2, 3))
        self.responses = {
            "george_posterior_it": g_rf[..., :33],
            "george_central_it": g_rf[..., 33:],
            "red_central_it": r_rf,
        }

        def stimulus_files(mat: dict, subfolder: Path) -> list[Path]:
            return [subfolder / cell[0].split("\\")[-1] for cell in mat["UniqueNames"][0]]

        g_files = stimulus_files(george, folder / "George" / "natural_test")
        r_files = stimulus_files(red, folder / "Red" / "red_naturalface")
        images = []
        for path in g_files + r_files:
            bgr = cv2.imread(str(path))
            images.append(cv2.resize(bgr[:, :, ::-1], (224, 224)))
        everything = np.array(images, np.uint8)
        self.X = {"george": everything[: len(g_files)], "red": everything[len(g_files) :]}

    def load_data(self, stimuli: str, time_a: int, time_b: int, legacy: bool):
        X = self.X[stimuli.split("_")[0]]
        pre = np.array(X, np.float32) / 255.0
        pre -= MEAN
        pre /= MEAN if legacy else STD
        y = self.responses[stimuli][:, ::-1, ::-1, time_a:time_b, :].mean(axis=3)
        return X, pre, y


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> PaperLoader:
    folder = tmp_path_factory.mktemp("extracted")
    with zipfile.ZipFile(str(SAMPLE_ZIP)) as zf:
        zf.extractall(folder)  # the bundled, trusted sample
    return PaperLoader(folder / "Arcaro2020")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> nd.ITRecordings:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnpinnedFileWarning)
        return nd.Neural_dataset(
            "arcaro2020-sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False
        )


@pytest.mark.parametrize("stimuli", POPULATIONS)
@pytest.mark.parametrize("window", [(50, 90), (0, 120), (64, 65)])
@pytest.mark.parametrize("legacy", [False, True], ids=["correct", "legacy"])
def test_load_data_matches_the_paper(dataset, paper, stimuli: str, window, legacy: bool) -> None:
    X, X_pre, y = dataset.load_data(stimuli, *window, legacy_preprocessing=legacy)
    ref_X, ref_pre, ref_y = paper.load_data(stimuli, *window, legacy=legacy)
    assert X.shape == ref_X.shape and X.dtype == np.uint8
    assert np.abs(X.astype(int) - ref_X).max() <= 1  # "within rounding"; in fact equal
    assert X_pre.dtype == ref_pre.dtype == np.float32 and X_pre.shape == ref_pre.shape
    if np.array_equal(X, ref_X):
        np.testing.assert_array_equal(X_pre, ref_pre)
    else:
        np.testing.assert_allclose(X_pre, ref_pre, atol=1 / 255 / MEAN.min())
    assert y.dtype == ref_y.dtype and y.shape == ref_y.shape
    np.testing.assert_array_equal(y, ref_y)


def test_x_is_bit_exact_with_opencv(dataset, paper) -> None:
    for stimuli in ("george_central_it", "red_central_it"):
        np.testing.assert_array_equal(
            dataset.load_data(stimuli)[0], paper.load_data(stimuli, 50, 90, False)[0]
        )


def test_defaults_are_the_papers(dataset, paper) -> None:
    X, X_pre, y = dataset.load_data()
    ref_X, ref_pre, ref_y = paper.load_data("george_central_it", 50, 90, legacy=False)
    assert y.shape == (4, 17, 17, 30)
    np.testing.assert_array_equal(y, ref_y)
    legacy = dataset.load_data(legacy_preprocessing=True)[1]
    assert not np.allclose(legacy, X_pre)  # the two formulas really differ


def test_bad_arguments(dataset) -> None:
    with pytest.raises(
        ValueError, match="choose one of: george_central_it, george_posterior_it, red_central_it"
    ):
        dataset.load_data("george")
    with pytest.raises(ValueError, match=r"0 <= a < b <= 120"):
        dataset.load_data("red_central_it", 90, 50)


def test_default_name_with_a_mirror(mirror: Path, cache_dir: Path, paper) -> None:
    with pytest.warns(UnpinnedFileWarning):  # the real archive's checksum is not published
        it = nd.Neural_dataset(base_url=mirror.as_uri(), cache_dir=cache_dir, progress=False)
    assert isinstance(it, nd.ITRecordings) and it.name == "arcaro2020"
    np.testing.assert_array_equal(
        it.load_data()[2], paper.load_data("george_central_it", 50, 90, False)[2]
    )


def test_default_name_over_http(http_mirror, cache_dir: Path) -> None:
    with pytest.warns(UnpinnedFileWarning):
        it = nd.Neural_dataset(base_url=http_mirror.url, cache_dir=cache_dir, progress=False)
    assert it.load_data("red_central_it")[2].shape == (4, 9, 9, 32)


def test_other_names_open_their_dataset(cache_dir: Path) -> None:
    clickme = nd.Neural_dataset("clickme-sample", cache_dir=cache_dir, progress=False)
    assert isinstance(clickme, nd.ClickMe) and len(clickme) == 48
    with pytest.raises(nd.UnknownDatasetError, match="Did you mean: arcaro2020"):
        nd.Neural_dataset("arcaro2021")


def test_import_is_light() -> None:
    heavy = ("torch", "tensorflow", "cv2", "h5py", "xarray")
    code = (
        "import sys, neural_datasets as nd; nd.Neural_dataset; nd.ITRecordings; "
        "import neural_datasets.datasets.arcaro2020.preview; "
        "import neural_datasets.datasets.arcaro2020.convert; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
