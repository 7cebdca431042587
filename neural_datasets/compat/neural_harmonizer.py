"""``Neural_dataset``: drop-in for neural_harmonizer's class of the same name.

neural_harmonizer (serre-lab) loads the Arcaro et al. (2020) IT recordings with
``neural_harmonizer.data.dataset.Neural_dataset``; lab code reads its methods
and attributes directly. This class keeps those names, signatures, shapes,
dtypes and axis orders, so that switching is a one-line import change
(``docs/migrating.md``). It is an :class:`~neural_datasets.ITRecordings`, read
from the converted, checksummed store; the modern API works on the same object.

The module's public names are the original's (``BUCKET_URL``,
``Neural_dataset``), and its numbers are the original's by default:

* ``X_preprocessed`` (and ``preprocessed_stimuli``) are ``(X / 255 - mean) /
  mean``, the original's arithmetic (it divides by the ImageNet mean where the
  std was meant), as TensorFlow ``EagerTensor`` objects like the original's; a
  one-time warning names the corrected API (``legacy_preprocessing=False``
  here, or :meth:`ITRecordings.load_data <neural_datasets.ITRecordings.load_data>`).
* A time window is a slice of the recorded bins, as in the original: one that
  runs past the end is shortened and one that selects no bin gives NaN
  arrays, each with a ``RuntimeWarning`` saying why (the native
  :meth:`~neural_datasets.ITRecordings.responses` refuses such windows).
* The data lives in this package's cache (``cache_dir=``), checksummed; an
  archive the original already downloaded into the Keras cache (Keras 2 or 3
  layout) is reused without a byte downloaded.
* ``NEURAL_DATASETS_SAMPLES=1`` makes ``Neural_dataset()`` the bundled sample.

TensorFlow is imported when a ``Neural_dataset`` preprocesses stimuli
(``load_data``, ``preprocess``), not when this module is imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import choice
from ..datasets.arcaro2020.dataset import (
    PAPER_SIZE,
    PAPER_WINDOW,
    ITRecordings,
    Population,
    preprocess,
)
from ..datasets.arcaro2020.spec import ARCHIVE, BASE_URL, SAMPLE_NAME
from ..errors import ChecksumMismatchError, InvalidArgumentError
from ..fetching.archives import ZipArchive
from ..fetching.cache import dataset_cache
from ..fetching.hashes import HashRecords, expected_checksum, file_sha256
from ..registry import get_spec
from ..storage.reader import open_sample_array
from .samples import ENV_SAMPLES, samples_requested

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["BUCKET_URL", "TOP_FOLDER", "Neural_dataset"]

BUCKET_URL = f"{BASE_URL}/{ARCHIVE}"
"""Where the original downloads the recordings from (``Arcaro2020.zip``)."""

TOP_FOLDER = "Arcaro2020"
"""The archive's top folder: ``download_to_local()`` returns a path ending with it."""

_LOADERS = {
    "george_central_it": "get_george_central_it_temp",
    "george_posterior_it": "get_george_posterior_it_temp",
    "red_central_it": "get_red_central_it_temp",
}


class Neural_dataset(ITRecordings):  # noqa: N801 (the original's name, kept for drop-in use)
    """The Arcaro 2020 IT recordings with neural_harmonizer's ``Neural_dataset`` interface.

    Construction fetches the recordings into the cache (checksummed, once) and
    extracts the archive beside them, as the original's construction does.
    Then ``load_data`` sets the original's attributes:

    ==============================  ==========================================================
    attribute                       value
    ==============================  ==========================================================
    ``X``, ``X_preprocessed``       the chosen monkey's stimuli, uint8 NumPy / float32
                                    ``EagerTensor`` ``(image, 224, 224, 3)``
    ``y``                           the chosen population's responses, ``(image, x, y,
                                    channel)``, both grid axes reversed, time-averaged
    ``original_stimuli``            uint8 ``(george + red images, 224, 224, 3)``, RGB
    ``original_stimuli_george``,    views of ``original_stimuli``: the first George images,
    ``original_stimuli_red``        the last Red images
    ``preprocessed_stimuli`` (and   float32 ``EagerTensor``, the same images through
    ``_george``, ``_red`` slices)   :meth:`preprocess`
    ``george_posterior_it``,        raw responses ``(image, x, y, time, channel)`` in the
    ``george_central_it``,          archive's orientation and dtype (George channels 0-32
    ``red_central_it``              posterior, 33-62 central; all of Red's)
    ``george_files``, ``red_files`` paths of the stimulus files in the extracted folder
    ``path_to_downloaded_file``     the cached archive ``Arcaro2020.zip``
    ==============================  ==========================================================

    Parameters
    ----------
    name
        Registry name: ``"arcaro2020"`` (the published archive, the original's
        data) or ``"arcaro2020-sample"`` (bundled, synthetic responses,
        offline). ``None`` (what the original's ``Neural_dataset()`` reads):
        ``"arcaro2020"``, or the sample when ``NEURAL_DATASETS_SAMPLES=1``.
    cache_dir, base_url, progress
        As for :func:`neural_datasets.fetch`.
    legacy_preprocessing
        ``None`` (default) or True: :meth:`preprocess` divides by the ImageNet
        mean, as the original does, to give its numbers (``None`` warns once,
        naming the corrected API). False: by the std, the corrected values.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> dataset = nd.Neural_dataset("arcaro2020-sample", progress=False)
    >>> X, X_preprocessed, y = dataset.load_data("george_central_it", time_a=50, time_b=90)
    >>> X.shape, X_preprocessed.dtype.name, tuple(X_preprocessed.shape), y.shape
    ((4, 224, 224, 3), 'float32', (4, 224, 224, 3), (4, 17, 17, 30))
    >>> dataset.george_posterior_it.shape, dataset.red_central_it.dtype
    ((4, 17, 17, 120, 33), dtype('float64'))
    >>> dataset.george_files[0].endswith("Arcaro2020/George/natural_test/astronaut.jpg")
    True
    """

    legacy_preprocessing: bool | None = None

    def __init__(
        self,
        name: str | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
        legacy_preprocessing: bool | None = None,
    ) -> None:
        if name is None:
            name = "arcaro2020"
            if samples_requested():
                name = SAMPLE_NAME
                print(
                    f"neural-datasets: {ENV_SAMPLES} is set: Neural_dataset() reads the bundled "
                    f"{SAMPLE_NAME} (synthetic responses), not the recordings.",
                    file=sys.stderr,
                )
        super().__init__(name, cache_dir=cache_dir, base_url=base_url, progress=progress)
        self.legacy_preprocessing = legacy_preprocessing
        self._cache_dir = cache_dir
        self.download_to_local()

    def download_to_local(self) -> str:
        """Extract the cached archive (once) and return the path of its ``Arcaro2020`` folder.

        The folder is laid out like the archive, as the original's return value
        is: ``George/george_060118_data.mat``, ``George/natural_test/``,
        ``Red/red_062419_data.mat``, ``Red/red_naturalface/``. The archive is
        checked against its pinned or recorded sha256 before extraction, and
        the folder appears only complete (extracted aside, then renamed).
        Sets :attr:`path_to_downloaded_file` to the archive.

        Returns
        -------
        str
            ``<cache>/<name>/extracted/Arcaro2020``.

        Raises
        ------
        ChecksumMismatchError
            When the cached archive no longer matches its checksum.
        InvalidArgumentError
            For a dataset opened with :meth:`open` (it has no cached archive), or
            a cache whose archive was deleted (the message says how to restore it).

        Examples
        --------
        >>> import neural_datasets as nd
        >>> dataset = nd.Neural_dataset("arcaro2020-sample", progress=False)
        >>> sorted(p.name for p in Path(dataset.download_to_local()).iterdir())
        ['George', 'Red']
        """
        if self.name is None:
            raise InvalidArgumentError(
                "download_to_local needs a dataset created by name, e.g. "
                "Neural_dataset('arcaro2020'); a store opened with .open() has no archive."
            )
        cache = dataset_cache(self.name, self._cache_dir)
        remote = get_spec(self.name).files[0]
        archive = cache.raw_file(remote.path)
        target = cache.extracted
        if not target.is_dir():
            _check_archive(archive, remote, HashRecords(cache.hashes), self.name)
            _extract_atomically(archive, target)
        self.path_to_downloaded_file = str(archive)
        return str(target / TOP_FOLDER)

    def preprocess(self) -> tf.Tensor:
        """:attr:`original_stimuli` scaled for an ImageNet model: a float32 ``EagerTensor``.

        ``(X / 255 - mean) / mean`` per channel, the original's formula, with
        ImageNet's ``mean = (0.485, 0.456, 0.406)`` (by default, or
        ``legacy_preprocessing=True``); ``(X / 255 - mean) / std``, with
        ``std = (0.229, 0.224, 0.225)``, for ``legacy_preprocessing=False``.
        Sets no attribute, like the original.

        Raises
        ------
        AttributeError
            Before :meth:`load_data` (there are no stimuli yet).

        Examples
        --------
        >>> import neural_datasets as nd
        >>> dataset = nd.Neural_dataset(
        ...     "arcaro2020-sample", progress=False, legacy_preprocessing=False
        ... )
        >>> dataset.original_stimuli = np.full((1, 1, 1, 3), 255, np.uint8)
        >>> dataset.preprocess().numpy().round(3)
        array([[[[2.249, 2.429, 2.64 ]]]], dtype=float32)
        """
        if not hasattr(self, "original_stimuli"):
            raise AttributeError("preprocess() needs the stimuli: call load_data() first.")
        return self._preprocessed(self.original_stimuli, self.legacy_preprocessing)

    def _preprocessed(self, stimuli: np.ndarray, legacy: bool | None) -> tf.Tensor:
        """``stimuli`` through :func:`preprocess` as the original returns it, an ``EagerTensor``."""
        tf = _import_tensorflow()
        if legacy is None:
            _warn_legacy_once()
        return tf.constant(preprocess(stimuli, legacy=legacy is not False))

    def get_george_posterior_it_temp(
        self, a: int = PAPER_WINDOW[0], b: int = PAPER_WINDOW[1]
    ) -> np.ndarray:
        """George's posterior IT responses averaged over bins ``a:b``, grid axes reversed.

        ``a:b`` slices the time axis (one bin per ms) as the original does: a
        window past the end is shortened, and one that selects no bin gives
        NaN, each with a ``RuntimeWarning``.

        Returns
        -------
        numpy.ndarray
            ``(image, x, y, channel)``, float64 for the archive's doubles.

        Examples
        --------
        >>> import neural_datasets as nd
        >>> dataset = nd.Neural_dataset("arcaro2020-sample", progress=False)
        >>> dataset.get_george_posterior_it_temp(60, 100).shape
        (4, 17, 17, 33)
        """
        return self._paper_responses(self.population("george_posterior_it"), (a, b))

    def get_george_central_it_temp(
        self, a: int = PAPER_WINDOW[0], b: int = PAPER_WINDOW[1]
    ) -> np.ndarray:
        """George's central IT responses, as :meth:`get_george_posterior_it_temp`."""
        return self._paper_responses(self.population("george_central_it"), (a, b))

    def get_red_central_it_temp(
        self, a: int = PAPER_WINDOW[0], b: int = PAPER_WINDOW[1]
    ) -> np.ndarray:
        """Red's central IT responses, as :meth:`get_george_posterior_it_temp`."""
        return self._paper_responses(self.population("red_central_it"), (a, b))

    def load_data(
        self,
        stimuli: str = "george_central_it",
        time_a: int = PAPER_WINDOW[0],
        time_b: int = PAPER_WINDOW[1],
        *,
        legacy_preprocessing: bool | None = None,
    ) -> tuple[np.ndarray, tf.Tensor, np.ndarray]:
        """Load everything, set the original's attributes, return ``(X, X_preprocessed, y)``.

        Parameters
        ----------
        stimuli
            ``"george_central_it"``, ``"george_posterior_it"`` or ``"red_central_it"``.
        time_a, time_b
            Average the responses over bins ``time_a:time_b`` (one per ms), as
            :meth:`get_george_posterior_it_temp` does.
        legacy_preprocessing
            Overrides the constructor's choice for this call (``None``: keep it).

        Returns
        -------
        X : numpy.ndarray
            uint8 ``(image, 224, 224, 3)``, RGB, resized like ``cv2.resize``.
        X_preprocessed : tf.Tensor
            float32 ``EagerTensor``, ``X`` through :meth:`preprocess`.
        y : numpy.ndarray
            ``(image, x, y, channel)``, float64 for the archive's doubles.

        Raises
        ------
        InvalidArgumentError
            (a ``ValueError``) for another ``stimuli`` (after the stimuli
            attributes are set, as the original), naming the populations, or an
            invalid window.
        """
        path = self.download_to_local()
        files = {}
        for monkey in ("george", "red"):
            meta = self._monkeys[monkey]
            folder = f"{path}/{meta['stimulus_dir']}/"
            files[monkey] = [folder + name for name in meta["stimulus_names"]]
        self.george_files, self.red_files = files["george"], files["red"]
        george = self.stimuli("george_central_it", size=PAPER_SIZE)
        red = self.stimuli("red_central_it", size=PAPER_SIZE)
        self.original_stimuli = np.concatenate([george, red])
        if legacy_preprocessing is None:
            legacy_preprocessing = self.legacy_preprocessing
        self.preprocessed_stimuli = self._preprocessed(self.original_stimuli, legacy_preprocessing)
        n_george, n_red = len(george), len(red)
        self.original_stimuli_george = self.original_stimuli[:n_george]
        self.original_stimuli_red = self.original_stimuli[n_george : n_george + n_red]
        self.preprocessed_stimuli_george = self.preprocessed_stimuli[:n_george]
        self.preprocessed_stimuli_red = self.preprocessed_stimuli[n_george : n_george + n_red]
        population = "an IT population (the original calls it stimuli)"
        choice("stimuli", stimuli, list(_LOADERS), population)
        monkey = stimuli.split("_")[0]
        self.X = getattr(self, f"original_stimuli_{monkey}")
        self.X_preprocessed = getattr(self, f"preprocessed_stimuli_{monkey}")
        self.y = getattr(self, _LOADERS[stimuli])(time_a, time_b)
        return self.X, self.X_preprocessed, self.y

    @property
    def george_posterior_it(self) -> np.ndarray:
        """George's posterior IT, raw: ``(image, x, y, time, 33)``, the archive's orientation."""
        return self._raw_population("george_posterior_it")

    @property
    def george_central_it(self) -> np.ndarray:
        """George's central IT, raw: ``(image, x, y, time, 30)``, the archive's orientation."""
        return self._raw_population("george_central_it")

    @property
    def red_central_it(self) -> np.ndarray:
        """Red's central IT, raw: ``(image, x, y, time, channel)``, the archive's orientation."""
        return self._raw_population("red_central_it")

    def _paper_responses(self, pop: Population, window: Any) -> np.ndarray:
        """The original's ``imageRF[..., a:b, :].mean(axis=3)``: bins by position, with its edges.

        ``a:b`` is a Python slice of the time axis (negative values count from
        the end, ``b`` past the end is clipped); no bin selected gives NaN.
        Either case warns, since the numbers are not of the window asked for.
        """
        a, b = window
        bins = range(len(pop.time_ms))[a:b]  # TypeError for non-integers, as NumPy's slicing
        asked = f"time window {a}:{b} of {pop.name} (bins 0-{len(pop.time_ms) - 1}, one per ms)"
        native = "ITRecordings.responses() refuses such windows"
        if len(bins) == 0:
            warnings.warn(
                f"{asked} selects no bin: the responses are NaN, as the original's mean of "
                f"an empty slice ({native}).",
                RuntimeWarning,
                stacklevel=3,
            )
            dtype = np.mean(np.zeros(1, self._monkeys[pop.monkey]["source_dtype"])).dtype
            shape = (len(pop.stimulus_names), len(pop.x), len(pop.y), len(pop.channels))
            return np.full(shape, np.nan, dtype)
        if (bins.start, bins.stop) != (a, b):
            warnings.warn(
                f"{asked} averages bins {bins.start}:{bins.stop} only, as the original's "
                f"slice does ({native}).",
                RuntimeWarning,
                stacklevel=3,
            )
        first, last = int(pop.time_ms[bins.start]), int(pop.time_ms[bins.stop - 1])
        return super()._paper_responses(pop, (first, last + 1))

    def _raw_population(self, name: str) -> np.ndarray:
        """A channel view of the monkey's whole ``imageRF``, images first, read once."""
        pop = self.population(name)
        raw: dict[str, np.ndarray] = self.__dict__.setdefault("_raw", {})
        if pop.monkey not in raw:
            dtype = np.dtype(self._monkeys[pop.monkey]["source_dtype"])
            stored = open_sample_array(self.store / f"{pop.monkey}_responses").read()
            raw[pop.monkey] = stored.astype(dtype, copy=False)
        return raw[pop.monkey][..., pop.channels.start : pop.channels.stop]

    def __repr__(self) -> str:
        return f"Neural_dataset(name={self.name!r}, store={str(self.store)!r})"


_LEGACY_WARNED: list[bool] = []  # non-empty once the one-time warning was given


def _warn_legacy_once() -> None:
    """Say, once per process, that the default numbers are the original's, and how to fix them."""
    if _LEGACY_WARNED:
        return
    _LEGACY_WARNED.append(True)
    warnings.warn(
        "Neural_dataset preprocesses stimuli as neural_harmonizer does, (X/255 - mean) / mean: "
        "it divides by the ImageNet mean where the std was meant, to give the published "
        "numbers. For the corrected (X/255 - mean) / std use "
        "Neural_dataset(legacy_preprocessing=False) or neural_datasets.ITRecordings(...)"
        ".load_data(); pass legacy_preprocessing=True to keep the original's without this "
        "warning. See docs/migrating.md.",
        UserWarning,
        stacklevel=4,
    )


def _import_tensorflow() -> Any:
    """TensorFlow, or an ImportError naming the extra that installs it."""
    try:
        import tensorflow
    except ImportError as exc:
        raise ImportError(
            "Neural_dataset returns TensorFlow tensors, as the original does, and needs "
            'TensorFlow: pip install "neural-datasets[tf]" (or use neural_datasets.ITRecordings, '
            "which returns NumPy arrays)."
        ) from exc
    return tensorflow


def _check_archive(archive: Path, remote: Any, records: HashRecords, name: str) -> None:
    if not archive.is_file():
        raise InvalidArgumentError(
            f"The archive of {name} is no longer in the cache ({archive}); run "
            f"`neural-datasets rm {name}` and create the dataset again to download it."
        )
    sha, size, where = expected_checksum(remote, records)
    actual = file_sha256(archive)
    if sha is not None and actual != sha:
        raise ChecksumMismatchError(
            f"{archive} changed since it was verified: sha256 {actual}, expected {sha} "
            f"({where}). Run `neural-datasets rm {name}` and create the dataset again."
        )


def _extract_atomically(archive: Path, target: Path) -> None:
    """Extract ``archive`` under ``target/Arcaro2020``; ``target`` appears only complete.

    Members are written one by one from the validated :class:`ZipArchive`
    (no absolute paths, ``..`` or links), under the top folder whether or not
    the archive has one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with ZipArchive(archive, top=TOP_FOLDER) as zipped:
            for member in zipped.names():
                out = building.joinpath(TOP_FOLDER, *member.split("/"))
                out.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, open(out, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        try:
            os.rename(building, target)
        except OSError:
            if not target.is_dir():  # not another process's finished extraction: a real error
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


# ---- Scoring: neural_harmonizer.evaluation.{metrics,neural_benchmark} ------------------------
# Upstream's public scoring names with upstream's signatures, computed by
# neural_datasets.metrics in NumPy (no TensorFlow needed except for Keras models). Where the
# published code does not run, these give what it meant; docs/scoring.md lists each case.

from collections.abc import Sequence  # noqa: E402 (kept inside this block, see above)

# Upstream's metrics module repeats Harmonization's ClickMe scores (and their EPSILON); one
# implementation serves both.
from .harmonization import (  # noqa: E402
    EPSILON,
    dice,
    intersection_over_union,
    spearman_correlation,
)

__all__ += [
    "EPSILON",
    "brain_score",
    "ceiling_score",
    "dice",
    "highest_off_diagonal",
    "intersection_over_union",
    "neural_benchmark_score",
    "resizing_activity",
    "saliency_score",
    "score_features",
    "score_model",
    "spearman_correlation",
    "spearmanr_sim",
    "tf_pearson_loss",
]


def tf_pearson_loss(x: Any, y: Any, axis: int = -1) -> np.ndarray:
    """Pearson correlation along ``axis`` as a centred cosine, as upstream (a NumPy array).

    Examples
    --------
    >>> round(float(tf_pearson_loss(np.array([1.0, 2.0, 4.0]), np.array([2.0, 4.0, 8.0]))), 6)
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(axis, keepdims=True)
    y = y - y.mean(axis, keepdims=True)
    norms = np.sqrt((x * x).sum(axis)) * np.sqrt((y * y).sum(axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((x * y).sum(axis) / norms)


def brain_score(
    X_train: Any,
    Y_train: Any,
    X_test: Any,
    Y_test: Any,
    n_components: int = 25,
    reducer: str = "median",
    correlation_fn: str = "pearson",
    *,
    tol: float | None = 1e-4,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Upstream's ``brain_score``: PLS from ``X_train`` to ``Y_train``, scored on the test rows.

    Returns ``(score, pls_kernel, Y_pred)``: the median (or mean) over sites of the
    correlation between ``Y_pred = X_test @ pls_kernel`` and ``Y_test`` over rows; the
    kernel is ``(features, sites)`` float32. As published it fails with current
    scikit-learn (``coef_`` is now ``(sites, features)``); this is its meaning: the kernel
    in the old orientation. Also fixed: ``n_components`` is used (upstream always fit 25),
    and ``correlation_fn="spearman"`` gives per-site Spearman (upstream's branch refers to
    undefined names). ``tol=1e-4`` is upstream's unconverged setting; ``tol=None`` converges.
    Like upstream, ``Y_pred`` has no intercept (a per-site constant no correlation sees).
    """
    from ..metrics.it import _correlate_columns
    from ..metrics.pls import fit_pls

    if correlation_fn not in ("pearson", "spearman"):
        raise ValueError("Unknown correlation metric")
    fits = fit_pls(np.asarray(X_train), np.asarray(Y_train), n_components, tol=tol)
    kernel = fits.coef[0].astype(np.float32)
    predicted = np.asarray(X_test, dtype=np.float32) @ kernel
    correlations = _correlate_columns(
        predicted[None].astype(np.float64),
        np.asarray(Y_test, dtype=np.float32)[None].astype(np.float64),
        correlation_fn,  # type: ignore[arg-type]
    )[0]
    score = np.median(correlations) if reducer == "median" else np.mean(correlations)
    return float(score), kernel, predicted


def highest_off_diagonal(correlation_matrix: Any) -> float:
    """The largest entry of a square matrix off its diagonal (NaN entries skipped).

    Examples
    --------
    >>> highest_off_diagonal(np.array([[1.0, 0.2], [0.5, 1.0]]))
    0.5
    """
    matrix = np.asarray(correlation_matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError("Matrix is not square!")
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    off = off[~np.isnan(off)]
    return float(off.max()) if off.size else -float("inf")


def ceiling_score(
    neural_array: Any, time_a: int = 100, time_b: int = 150, correlation_fn: str = "pearson"
) -> float:
    """Upstream's ``ceiling_score`` on a raw ``(image, x, y, time, site)`` array, exactly.

    Its arithmetic (``metrics.site_ceiling(..., legacy=True)``): per image, the best mean
    row-wise Pearson correlation between two sites' maps, its last site left out, never
    below 0; averaged over images. For the intended ceiling use
    :func:`neural_datasets.metrics.it_ceiling`. Upstream's ``"spearman"`` branch fails
    (an ``IndexError`` on 2-D maps); here it is refused with a ``ValueError``.
    """
    from ..metrics.it import site_ceiling

    if correlation_fn != "pearson":
        raise ValueError(
            f"correlation_fn={correlation_fn!r}: upstream's ceiling_score only ever ran with "
            f"'pearson'; use neural_datasets.metrics.it_ceiling for other ceilings"
        )
    maps = np.asarray(neural_array)[:, :, :, time_a:time_b].mean(axis=3, dtype=np.float64)
    return site_ceiling(maps, legacy=True).value


def spearmanr_sim(
    explanations1: Any,
    explanations2: Any,
    reducers: Sequence[int] = [1, 4, 16],  # noqa: B006 (upstream's default, a list; never mutated)
    visualize: bool = False,
) -> dict[int, list[float]]:
    """Per image Spearman correlation of two sets of maps, each resized down by each reducer.

    Maps ``(N, H, W)`` or ``(N, H, W, 1)`` are resized to ``int(H / reducer)`` square with
    ``tf.image.resize``'s bilinear arithmetic (half-pixel centres, no antialiasing).
    ``visualize=True`` shows the first pair of resized maps per reducer with matplotlib
    (upstream's branch calls an undefined ``show``; this is what it meant).
    """
    from scipy.stats import spearmanr

    from ..metrics.it_model import _bilinear_weights

    a = np.asarray(explanations1, dtype=np.float32).reshape(np.shape(explanations1)[:3])
    b = np.asarray(explanations2, dtype=np.float32).reshape(np.shape(explanations2)[:3])
    sims: dict[int, list[float]] = {}
    for reducer in reducers:
        side = int(a.shape[1] / reducer)
        rows, cols = _bilinear_weights(a.shape[1], side), _bilinear_weights(a.shape[2], side)
        small_a = np.einsum("ah,bw,nhw->nab", rows, cols, a)
        small_b = np.einsum("ah,bw,nhw->nab", rows, cols, b)
        if visualize:
            _show_pair(small_a[0], small_b[0])
        sims[reducer] = [
            float(spearmanr(x.ravel(), y.ravel())[0]) for x, y in zip(small_a, small_b)
        ]
    return sims


def _show_pair(first: np.ndarray, second: np.ndarray) -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "spearmanr_sim(visualize=True) needs matplotlib: pip install matplotlib"
        ) from error
    for position, image in enumerate((first, second), start=1):
        plt.subplot(1, 2, position)
        plt.imshow(image)
        plt.axis("off")
    plt.show()


def saliency_score(
    y_test: Any, x_test: Any, y_pred: Any, activation_model: Any, pls_kernel: Any
) -> np.ndarray:
    """Upstream's ``saliency_score``: the input gradient of the PLS prediction's absolute error.

    ``activation_model(x_test)`` gives the layer's maps on the 17x17 grid; they are flattened
    to ``(289, units)``, mapped to the sites by ``pls_kernel`` (``(units, sites)``, as
    :func:`brain_score` returns it) and compared with ``y_test`` (``(289, sites)``); the
    gradient of the summed ``|prediction - y_test|`` with respect to ``x_test`` is returned
    as a NumPy array. As upstream, ``y_pred`` is accepted and not used. Upstream calls
    ``.reshape`` on a TensorFlow tensor, which fails; this is what it meant (``tf.reshape``).
    Needs TensorFlow.
    """
    tf = _import_tensorflow()
    inputs = tf.convert_to_tensor(x_test, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        activations = tf.cast(activation_model(inputs), tf.float32)
        predicted = tf.matmul(
            tf.reshape(activations, (17 * 17, -1)), tf.cast(pls_kernel, tf.float32)
        )
        loss = tf.abs(predicted - tf.cast(y_test, tf.float32))
    return np.asarray(tape.gradient(loss, inputs).numpy())


def resizing_activity(activity_array: Any, grid_size: int = 17) -> np.ndarray:
    """Upstream's pooling of a layer's maps to the grid (``metrics.features_on_grid``, legacy).

    Upstream allocates exactly 14 images; this takes any number.
    """
    from ..metrics.it_model import features_on_grid

    return features_on_grid(activity_array, grid_size, max_units=None, legacy=True)


def score_features(
    X_features: Any,
    Y: Any,
    grid_size: int = 17,
    reducer: str = "median",
    correlation_fn: str = "pearson",
) -> tuple[list[float], list[float], list[float]]:
    """Upstream's leave-one-image-out scoring: ``(score, dice_act_4, dice_act_1)``, each
    ``[mean, std]`` over held-out images.

    ``score`` is :func:`~neural_datasets.metrics.it_predictivity` at upstream's ``tol=1e-4``;
    ``dice_act_*`` is the Spearman correlation (upstream's name says Dice) between the
    site-averaged predicted and recorded maps, at the full grid and 4x smaller. Upstream
    hard-codes 14 images; this takes any number (at least 3).
    """
    from ..metrics.it import it_predictivity

    X = np.asarray(X_features, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    settings: dict[str, Any] = {"correlation": correlation_fn, "reducer": reducer}
    result = it_predictivity(X, Y, 25, tol=1e-4, **settings)
    images = len(X)
    predicted = result.predicted.reshape(images, grid_size, grid_size, -1).mean(axis=3)
    recorded = Y.mean(axis=3)
    sims = spearmanr_sim(predicted, recorded, reducers=(1, 4))
    return (
        [result.mean, result.std],
        [float(np.mean(sims[4])), float(np.std(sims[4]))],
        [float(np.mean(sims[1])), float(np.std(sims[1]))],
    )


def score_model(
    activity_array: Any,
    Y: Any,
    grid_size: int = 17,
    correlation_fn: str = "pearson",
    reducer: str = "median",
) -> tuple[list[float], list[float]]:
    """Upstream's ``score_model`` on one layer's activations: ``(score, dice_act_4)``.

    A layer with more than 600 channels first averages groups of 3 (else 4) channels, as
    upstream; then :func:`resizing_activity` and :func:`score_features`. Upstream ignores
    ``correlation_fn`` and ``reducer`` here; they are passed on. (The model-level scorer
    is :func:`neural_datasets.metrics.score_model`.)
    """
    from ..metrics.it_model import MAX_UNITS, features_on_grid

    activity = np.asarray(activity_array)
    if len(activity) <= 3:
        raise ValueError("The activation model should have at least 3 layers")
    try:
        features = features_on_grid(activity, grid_size, max_units=MAX_UNITS, legacy=True)
    except ValueError:
        raise ValueError("Cannot resize incompatible shapes") from None
    final_score, dice_4, _ = score_features(features, Y, grid_size, reducer, correlation_fn)
    return final_score, dice_4


def neural_benchmark_score(
    model: Any,
    layers: Sequence[Any] | None = None,
    stimuli: str = "george_central_it",
    time_a: int = 130,
    time_b: int = 170,
    grid_size: int = 17,
    correlation_fn: str = "pearson",
    reducer: str = "median",
    *,
    name: str = "arcaro2020",
) -> tuple[float, float]:
    """Upstream's ``neural_benchmark_score`` for a Keras model: ``(ceiled, raw)`` best layer.

    As published it cannot run (``Neural_dataset`` and ``ceiling_score`` are not imported,
    ``ceiling_score`` gets a ``reducer=`` it does not take, ``scores`` is never defined).
    What it meant, as its notebook ran it: the ceiling of the population scored (upstream
    names George's central IT whatever ``stimuli`` is), every layer of ``layers`` (default:
    the last 10, as the notebook; the code's ``[:-10]`` drops them instead) scored with
    :func:`score_model`, layers that cannot be scored skipped with their message printed,
    the best raw score and it divided by the ceiling. ``name`` picks the recordings
    (``"arcaro2020-sample"`` offline).
    """
    import tensorflow as tf

    dataset = Neural_dataset(name, progress=False)
    _, X_pre, Y = dataset.load_data(stimuli=stimuli, time_a=time_a, time_b=time_b)
    ceiling = ceiling_score(getattr(dataset, stimuli), time_a, time_b, correlation_fn)
    grid_size = 17 if "george" in stimuli else 9
    if layers is None:
        print("No Layers provided, using the last 10 layers")
        layers = model.layers[-10:]
    scores = []
    for layer in layers:
        layer_name = layer if isinstance(layer, str) else layer.name
        activation_model = tf.keras.Model(model.input, model.get_layer(layer_name).output)
        activity = np.asarray(activation_model(X_pre, training=False))
        if activity.ndim != 4:
            print(f"Layer {layer_name}: not a feature map, skipped")
            continue
        try:
            layer_score, _ = score_model(activity, Y, grid_size, correlation_fn, reducer)
        except ValueError as exc:
            print(f"Layer {layer_name}: {exc}")
            continue
        scores.append(layer_score[0])
        print(f"Layer {layer_name.replace('/', '_')} score:", layer_score[0])
    best = max(scores)
    print("Unceiled Brainscore for your model is :", best)
    print("ceiled Brainscore for your model is :", best / ceiling)
    return best / ceiling, best
