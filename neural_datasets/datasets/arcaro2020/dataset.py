"""Macaque IT recordings of Arcaro, Ponce & Livingstone (2020), with labelled access.

Three populations were recorded while natural images were flashed at each
position of a grid around the receptive fields: posterior and central IT of
monkey George (17x17 grid) and central IT of monkey Red (9x9 grid).
:class:`ITRecordings` reads them from the converted store;
:meth:`ITRecordings.load_data` reproduces the neural-harmonizer paper's loader.
See ``docs/it-recordings.md`` for the dims, the orientation and time-window
conventions and the preprocessing formulas.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import CorruptStoreError, InvalidArgumentError
from ...formats.resize import resize_bilinear
from ...storage.layout import read_attributes, require_format
from ...storage.reader import open_sample_array, read_whole
from ..base import StoreDataset
from .spec import FAMILY

if TYPE_CHECKING:
    from .pairs import ITPairSource

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PAPER_SIZE = 224
PAPER_WINDOW = (50, 90)


@dataclass(frozen=True, eq=False)
class Population:
    """What is known about one recorded population.

    Attributes
    ----------
    name
        ``"<monkey>_<region>"``, e.g. ``"george_central_it"``.
    monkey, region
        ``"george"`` or ``"red"``; ``"posterior_it"`` or ``"central_it"``.
    channels
        Indices of its channels along the monkey's channel axis of ``imageRF``.
    stimulus_names, stimulus_sources
        Per image: the stimulus file name, and the path recorded in ``UniqueNames``.
    time_ms
        The time axis: milliseconds after stimulus onset, one bin per ms.
    x, y
        Grid indices of ``imageRF``'s spatial axes, in the (reversed) order in
        which :meth:`ITRecordings.responses` returns them.
    note
        Caveats, e.g. the George channel split (see ``docs/it-recordings.md``).
    """

    name: str
    monkey: str
    region: str
    channels: range
    stimulus_names: tuple[str, ...]
    stimulus_sources: tuple[str, ...]
    time_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    note: str


class ITRecordings(StoreDataset):
    """Spatially resolved IT responses to natural images, and the images.

    Creating the object fetches and converts the recordings on first use (see
    :func:`neural_datasets.fetch`); afterwards it opens instantly.

    Responses come back images first with dims ``(image, x, y, channel)``
    (``(image, x, y, time, channel)`` without a time window), both grid axes
    reversed relative to ``imageRF`` as in the paper's loader.

    Parameters
    ----------
    name
        ``"arcaro2020"`` (the published archive), ``"arcaro2020-sample"``
        (bundled, synthetic responses, offline), or any registered dataset of
        the ``"spatial-it"`` family (its own archive, monkeys, grids and time
        axes, declared in its spec's ``family_options``).
    cache_dir, base_url, progress, download
        As for :func:`neural_datasets.fetch`; ``base_url`` may be a mirror
        holding ``Arcaro2020.zip``. ``download=False`` uses only what is on
        this machine and raises :class:`~neural_datasets.errors.OfflineError`
        otherwise.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> it = nd.ITRecordings("arcaro2020-sample", progress=False)
    >>> it.populations
    ('george_central_it', 'george_posterior_it', 'red_central_it')
    >>> it.responses("george_central_it", time_window=(50, 90)).shape
    (4, 17, 17, 30)
    >>> it.stimuli("red_central_it", size=224).shape
    (4, 224, 224, 3)
    >>> it.population("george_posterior_it").channels
    range(0, 33)
    """

    def __init__(
        self,
        name: str = "arcaro2020",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
        download: bool = True,
    ) -> None:
        from ...registry import get_spec

        if get_spec(name).family != FAMILY:
            raise InvalidArgumentError(
                f"{name!r} is not an IT recordings dataset; open it with "
                f"neural_datasets.get_spec({name!r}).open({name!r}) (neural_datasets.ClickMe "
                f"for ClickMe splits)."
            )
        super().__init__(
            name, cache_dir=cache_dir, base_url=base_url, progress=progress, download=download
        )

    def _open(self, store: str | os.PathLike[str]) -> None:
        self.store = Path(store)
        attrs = read_attributes(self.store)
        require_format(attrs, self.store)
        meta = attrs.get("it")
        if not meta:
            raise CorruptStoreError(
                f"{self.store} is not an IT recordings store (no 'it' attributes); remove "
                f"it with `neural-datasets rm` and fetch again."
            )
        self.attrs: dict[str, Any] = attrs
        self._monkeys: dict[str, Any] = meta["monkeys"]
        self._populations: dict[str, Any] = meta["populations"]

    @property
    def populations(self) -> tuple[str, ...]:
        """Names of the recorded populations, sorted."""
        return tuple(self._populations)

    def batch_sources(
        self, time_window: tuple[int, int] | None = PAPER_WINDOW, stimulus_size: int | None = None
    ) -> dict[str, ITPairSource]:
        """One (stimulus, response) batch source per population, by population name.

        Each is an :class:`~neural_datasets.datasets.arcaro2020.pairs.ITPairSource`
        (``read_batch``, ``features``), which both adapters serve; the
        conformance kit (:mod:`neural_datasets.testing`) checks each against
        the declared features.

        Examples
        --------
        >>> it = ITRecordings("arcaro2020-sample", progress=False)
        >>> {name: source.read_batch([0])["response"].shape
        ...  for name, source in it.batch_sources().items()}  # doctest: +NORMALIZE_WHITESPACE
        {'george_central_it': (1, 17, 17, 30), 'george_posterior_it': (1, 17, 17, 33),
         'red_central_it': (1, 9, 9, 32)}
        """
        from .pairs import ITPairSource

        return {
            population: ITPairSource(self, population, time_window, stimulus_size=stimulus_size)
            for population in self.populations
        }

    def population(self, name: str) -> Population:
        """Metadata of population ``name``: monkey, region, channels, stimuli, axes.

        Raises
        ------
        InvalidArgumentError
            When ``name`` is not a population; the message lists the valid ones.
        """
        try:
            pop = self._populations[name]
        except (KeyError, TypeError):
            raise InvalidArgumentError(
                f"Unknown population {name!r}; choose one of: {', '.join(self.populations)}."
            ) from None
        monkey = self._monkeys[pop["monkey"]]
        coords = {dim: self._small(f"{pop['monkey']}_{dim}") for dim in ("time", "x", "y")}
        return Population(
            name=name,
            monkey=pop["monkey"],
            region=pop["region"],
            channels=range(*pop["channels"]),
            stimulus_names=tuple(monkey["stimulus_names"]),
            stimulus_sources=tuple(monkey["stimulus_sources"]),
            time_ms=coords["time"],
            x=coords["x"][::-1],
            y=coords["y"][::-1],
            note=pop["note"],
        )

    def _small(self, array: str) -> np.ndarray:
        return np.asarray(read_whole(self.store / array))

    def _time_slice(self, pop: Population, window: Any) -> slice:
        first, last = int(pop.time_ms[0]), int(pop.time_ms[-1])
        valid = (
            isinstance(window, (tuple, list))
            and len(window) == 2
            and all(isinstance(t, numbers.Integral) for t in window)
            and first <= window[0] < window[1] <= last + 1
        )
        if not valid:
            raise InvalidArgumentError(
                f"time window {window!r} is not valid for {pop.name}: give integer ms (a, b) with "
                f"{first} <= a < b <= {last + 1}; the window is [a, b), its recordings span "
                f"{first}-{last} ms after stimulus onset."
            )
        start, stop = np.searchsorted(pop.time_ms, [window[0], window[1]])
        return slice(int(start), int(stop))

    def _mean_responses(self, pop: Population, window: Any) -> np.ndarray:
        """float64 mean over ``window`` in the paper's orientation, ``(image, x, y, channel)``."""
        times = self._time_slice(pop, window)
        chans = slice(pop.channels.start, pop.channels.stop)
        array = open_sample_array(self.store / f"{pop.monkey}_responses")
        # One image at a time: the whole array may not fit in memory, one image's window does.
        out = np.stack(
            [
                array.take(np.array([i]))[0, :, :, times, chans].mean(axis=2, dtype=np.float64)
                for i in range(len(array))
            ]
        )
        return out[:, ::-1, ::-1]

    def responses(
        self, population: str, time_window: tuple[int, int] | None = PAPER_WINDOW
    ) -> np.ndarray:
        """Responses of ``population``, averaged over ``time_window``.

        Parameters
        ----------
        population
            One of :attr:`populations`.
        time_window
            ``(a, b)``: average the 1-ms bins ``a <= t < b`` (ms after stimulus
            onset), like the paper's ``time_a``/``time_b``. ``None`` keeps the
            whole time axis.

        Returns
        -------
        numpy.ndarray
            float32, ``(image, x, y, channel)``, or ``(image, x, y, time,
            channel)`` when ``time_window`` is None; grid axes reversed
            relative to ``imageRF`` (see :attr:`Population.x`).

        Raises
        ------
        InvalidArgumentError
            Unknown population, or an empty, reversed, non-integer or
            out-of-range window (the message gives the valid range).

        Examples
        --------
        >>> it.responses("red_central_it", (100, 120)).shape  # doctest: +SKIP
        (4, 9, 9, 32)
        """
        pop = self.population(population)
        if time_window is not None:
            return self._mean_responses(pop, time_window).astype(np.float32)
        chans = slice(pop.channels.start, pop.channels.stop)
        full = open_sample_array(self.store / f"{pop.monkey}_responses").read()
        return np.ascontiguousarray(full[:, ::-1, ::-1, :, chans])

    def stimuli(self, population: str, size: int | tuple[int, int] | None = None) -> np.ndarray:
        """The stimuli shown to ``population``'s monkey, as RGB uint8.

        Parameters
        ----------
        population
            One of :attr:`populations`.
        size
            ``None`` for native size, else an int or ``(height, width)`` to
            resize to with OpenCV-exact bilinear interpolation (what the
            paper's ``cv2.resize`` does).

        Returns
        -------
        numpy.ndarray
            uint8 ``(image, height, width, 3)``, in the order of the responses.

        Raises
        ------
        InvalidArgumentError
            When ``size`` is None and the native sizes differ (pass ``size``).

        Examples
        --------
        >>> it.stimuli("george_central_it").shape  # doctest: +SKIP
        (4, 256, 256, 3)
        """
        monkey = self.population(population).monkey
        images = open_sample_array(self.store / f"{monkey}_stimuli").read()
        sizes = self._small(f"{monkey}_stimulus_size")
        if size is None:
            if len(np.unique(sizes, axis=0)) > 1:
                listed = ", ".join(f"{h}x{w}" for h, w in sizes)
                raise InvalidArgumentError(
                    f"{monkey}'s stimuli differ in size ({listed}); pass size=(height, width) "
                    f"to get them at one size."
                )
            return images
        if isinstance(size, (int, np.integer)):
            shape = (int(size), int(size))
        else:
            shape = (int(size[0]), int(size[1]))
        return np.stack([resize_bilinear(im[:h, :w], shape) for im, (h, w) in zip(images, sizes)])

    def load_data(
        self,
        stimuli: str = "george_central_it",
        time_a: int = PAPER_WINDOW[0],
        time_b: int = PAPER_WINDOW[1],
        *,
        legacy_preprocessing: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, X_preprocessed, y)`` exactly as the neural-harmonizer paper's loader returns them.

        Parameters
        ----------
        stimuli
            Population: ``"george_central_it"``, ``"george_posterior_it"`` or
            ``"red_central_it"`` (the paper's name for the argument).
        time_a, time_b
            Average the responses over ms bins ``time_a <= t < time_b``.
        legacy_preprocessing
            False (default): ``X_preprocessed = (X / 255 - mean) / std`` with
            ImageNet's mean and std. True: ``(X / 255 - mean) / mean``, the
            paper loader's formula (it divides by the mean where the std was
            meant), to reproduce its numbers.

        Returns
        -------
        X : numpy.ndarray
            uint8 ``(image, 224, 224, 3)``, RGB, resized like ``cv2.resize``.
        X_preprocessed : numpy.ndarray
            float32 ``(image, 224, 224, 3)``.
        y : numpy.ndarray
            ``(image, x, y, channel)``: responses with both grid axes reversed,
            averaged over the window, in the .mat file's dtype as numpy's mean
            gives it (float64 for MATLAB doubles).

        Examples
        --------
        >>> import neural_datasets as nd
        >>> X, X_pre, y = nd.ITRecordings("arcaro2020-sample", progress=False).load_data(
        ...     "george_posterior_it", 50, 90)
        >>> X.shape, X_pre.dtype, y.shape
        ((4, 224, 224, 3), dtype('float32'), (4, 17, 17, 33))
        """
        y = self._paper_responses(self.population(stimuli), (time_a, time_b))
        X = self.stimuli(stimuli, size=PAPER_SIZE)
        return X, preprocess(X, legacy=legacy_preprocessing), y

    def _paper_responses(self, pop: Population, window: Any) -> np.ndarray:
        """The loader's ``y``: :meth:`_mean_responses` in the dtype its ``.mean()`` gave."""
        source_dtype = np.dtype(self._monkeys[pop.monkey]["source_dtype"])
        return self._mean_responses(pop, window).astype(np.mean(np.zeros(1, source_dtype)).dtype)

    def to_xarray(self, population: str, time_window: tuple[int, int] | None = None) -> Any:
        """:meth:`responses` as a labelled ``xarray.DataArray`` (needs xarray).

        Dims ``image``, ``x``, ``y``, (``time``), ``channel``; coordinates:
        stimulus names, grid indices, ms, channel indices, plus ``stimulus_source``
        and ``region``; attributes: monkey, population, time window, note.

        Examples
        --------
        >>> da = it.to_xarray("george_central_it", (50, 90))  # doctest: +SKIP
        >>> da.sel(image="astronaut.jpg").mean("channel").shape  # doctest: +SKIP
        (17, 17)
        """
        try:
            import xarray as xr
        except ImportError as exc:
            raise ImportError("to_xarray needs xarray: pip install xarray") from exc
        pop = self.population(population)
        data = self.responses(population, time_window)
        dims = ["image", "x", "y", "time", "channel"]
        coords: dict[str, Any] = {
            "image": list(pop.stimulus_names),
            "x": pop.x,
            "y": pop.y,
            "time": pop.time_ms,
            "channel": np.arange(pop.channels.start, pop.channels.stop),
            "stimulus_source": ("image", list(pop.stimulus_sources)),
            "region": ("channel", [pop.region] * len(pop.channels)),
        }
        if time_window is not None:
            dims.remove("time")
            del coords["time"]
        attrs = {
            "monkey": pop.monkey,
            "population": pop.name,
            "time_window_ms": "all" if time_window is None else list(time_window),
            "note": pop.note,
        }
        return xr.DataArray(data, dims=dims, coords=coords, name="responses", attrs=attrs)

    def __repr__(self) -> str:
        pops = list(self.populations)
        return f"ITRecordings(name={self.name!r}, populations={pops}, store={str(self.store)!r})"


def preprocess(X: np.ndarray, *, legacy: bool = False) -> np.ndarray:
    """Scale uint8 RGB images for an ImageNet model, in float32.

    ``(X / 255 - mean) / std`` with ImageNet's ``mean = (0.485, 0.456, 0.406)``
    and ``std = (0.229, 0.224, 0.225)``; with ``legacy=True``,
    ``(X / 255 - mean) / mean``, the neural-harmonizer loader's formula.

    Examples
    --------
    >>> preprocess(np.full((1, 1, 3), 255, np.uint8)).round(3)
    array([[[2.249, 2.429, 2.64 ]]], dtype=float32)
    >>> preprocess(np.full((1, 1, 3), 255, np.uint8), legacy=True).round(3)
    array([[[1.062, 1.193, 1.463]]], dtype=float32)
    """
    # float32 step by step, in the loader's order, so legacy output matches it bit for bit.
    out = X.astype(np.float32) / np.float32(255.0)
    out -= IMAGENET_MEAN
    out /= IMAGENET_MEAN if legacy else IMAGENET_STD
    return out
