"""Convert a spatially resolved IT archive (Arcaro, Ponce & Livingstone 2020's) to zarr v3.

The archive (for Arcaro 2020 ``Arcaro2020.zip``, with or without its top
``Arcaro2020/`` folder) holds one .mat file and one stimulus folder per
monkey. Which archive, top folder and monkeys, a spec of the ``"spatial-it"``
family says in its ``family_options`` (``archive``, ``top_folder``,
``monkeys``: :class:`Monkey` values; Arcaro 2020's by default). Each .mat
file's ``imageRF`` has MATLAB dims ``(x, y, time, channel, image)`` and its
``UniqueNames`` cell array gives, per image, a Windows path whose basename is
the stimulus file.

Store layout, for each monkey ``m`` (Arcaro 2020: ``george``, ``red``):

``m_responses``
    float32 ``(image, x, y, time, channel)``: ``imageRF`` with images first,
    in its own orientation (not flipped), one image per chunk, checksummed.
``m_stimuli``
    uint8 ``(image, height, width, rgb)``: decoded stimuli at native size,
    checksummed. Stimuli smaller than the largest are zero-padded at the
    bottom and right; ``m_stimulus_size`` holds each one's ``(height, width)``.
``m_time``, ``m_x``, ``m_y``
    int32 coordinates: milliseconds after stimulus onset, grid indices.

Text coordinates (stimulus names and source paths, the region of each
channel) and the population definitions live in the root attributes under
``"it"``: neither the zarr v3 specification nor tensorstore has a stable
string data type yet, and JSON attributes are readable by any tool.
"""

from __future__ import annotations

import io
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...fetching.archives import ZipArchive
from ...formats.matfiles import read_mat
from ...storage.layout import SAMPLES_PER_SHARD, create_group, create_sample_array
from ...storage.writer import write_array, write_samples
from ..spec import DatasetSpec
from .spec import ARCHIVE

TOP_FOLDER = "Arcaro2020"
"""The archive's top folder, which the reader also accepts absent."""
RESPONSE_DIMS = ("image", "x", "y", "time", "channel")
STIMULUS_DIMS = ("image", "height", "width", "rgb")
POSTERIOR, CENTRAL = "posterior_it", "central_it"
# A stimulus is a photograph of a few hundred pixels a side; anything larger is refused unread.
MAX_STIMULUS_FILE_BYTES = 64 << 20
# Shards are encoded whole in memory, and one George image holds 17*17*63 floats per ms.
_SHARD_BYTES = 128 << 20

GEORGE_SPLIT_NOTE = (
    "The paper's loader takes George's channels 0-32 (33) as posterior IT and 33-62 (30) as "
    "central IT, while its own comment says 1-32 posterior and 33-63 central in MATLAB's "
    "1-based numbering (0-31 and 32-62). This store follows the code, which produced the "
    "paper's results: channel 32 (0-based) counts as posterior IT."
)


@dataclass(frozen=True)
class Monkey:
    """Where one monkey's data lives in the archive and how its channels split."""

    name: str
    mat_file: str
    stimulus_dir: str
    posterior_channels: int  # the first this many channels are posterior IT, the rest central
    note: str = ""


MONKEYS = (
    Monkey("george", "George/george_060118_data.mat", "George/natural_test", 33, GEORGE_SPLIT_NOTE),
    Monkey("red", "Red/red_062419_data.mat", "Red/red_naturalface", 0),
)


def convert(
    spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool = True
) -> dict[str, Any]:
    """Write the IT store for ``spec`` from its archive into ``building``.

    Parameters
    ----------
    spec
        The registry entry (``arcaro2020``, ``arcaro2020-sample``, or any spec
        of the ``"spatial-it"`` family, with its ``family_options``).
    raw_files
        ``{archive name: path}``, the verified archive.
    building
        Existing directory that becomes the zarr v3 group; emptied first, since
        redoing this small conversion is simpler than resuming it.
    progress
        Show a progress bar over the monkeys.

    Returns
    -------
    dict
        Root attributes ``{"it": {...}}``: dims, per-monkey
        metadata and text coordinates, and the populations.

    Raises
    ------
    ConversionError
        When the archive lacks a .mat file or a stimulus named in
        ``UniqueNames``, or a .mat file lacks ``imageRF`` or ``UniqueNames``.

    Examples
    --------
    >>> from neural_datasets.registry import get_spec
    >>> convert(get_spec("arcaro2020-sample"), {"Arcaro2020.zip": zip_path},
    ...         building, progress=False)["it"]["populations"].keys()  # doctest: +SKIP
    dict_keys(['george_central_it', 'george_posterior_it', 'red_central_it'])
    """
    from tqdm.auto import tqdm

    _empty(building)
    create_group(building)
    options = spec.family_options
    archive_name = options.get("archive", ARCHIVE)
    animals = options.get("monkeys", MONKEYS)
    monkeys: dict[str, Any] = {}
    with ZipArchive(raw_files[archive_name], top=options.get("top_folder", TOP_FOLDER)) as archive:
        for monkey in tqdm(animals, desc=f"{spec.name}: converting", disable=not progress):
            monkeys[monkey.name] = _convert_monkey(archive, monkey, building)
    return {
        "it": {
            "dims": {"responses": list(RESPONSE_DIMS), "stimuli": list(STIMULUS_DIMS)},
            "monkeys": monkeys,
            "populations": _populations(monkeys),
        }
    }


def _populations(monkeys: dict[str, Any]) -> dict[str, Any]:
    """Population name -> monkey, region, channel range ``[start, stop)`` and note, sorted."""
    out = {}
    for name, meta in monkeys.items():
        regions = meta["channel_regions"]
        for region in (POSTERIOR, CENTRAL):
            chans = [i for i, r in enumerate(regions) if r == region]
            if chans:
                out[f"{name}_{region}"] = {
                    "monkey": name,
                    "region": region,
                    "channels": [chans[0], chans[-1] + 1],
                    "note": meta["note"],
                }
    return dict(sorted(out.items()))


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _convert_monkey(archive: ZipArchive, monkey: Monkey, root: Path) -> dict[str, Any]:
    rf, paths = _read_recordings(archive, monkey)
    names = [re.split(r"[\\/]", p)[-1] for p in paths]
    images = _read_stimuli(archive, monkey, names)
    sizes = np.array([im.shape[:2] for im in images], dtype=np.int32)
    stimuli = np.zeros((len(images), *sizes.max(axis=0), 3), dtype=np.uint8)
    for out, im in zip(stimuli, images):
        out[: im.shape[0], : im.shape[1]] = im

    m = monkey.name
    _write_samples(root, f"{m}_responses", np.moveaxis(rf, -1, 0), np.float32, RESPONSE_DIMS, "lz4")
    _write_samples(root, f"{m}_stimuli", stimuli, np.uint8, STIMULUS_DIMS, None)
    write_array(
        root,
        f"{m}_stimulus_size",
        sizes,
        dimension_names=("image", "hw"),
        columns=["height", "width"],
    )
    units = {"x": "grid index", "y": "grid index", "time": "ms after stimulus onset"}
    for dim, unit in units.items():
        length = rf.shape[RESPONSE_DIMS.index(dim) - 1]  # imageRF has no leading image axis
        coord = np.arange(length, dtype=np.int32)
        write_array(root, f"{m}_{dim}", coord, dimension_names=(dim,), units=unit)
    return {
        "mat_file": monkey.mat_file,
        "stimulus_dir": monkey.stimulus_dir,
        "source_dtype": str(rf.dtype),
        "grid": [int(rf.shape[0]), int(rf.shape[1])],
        "n_images": int(rf.shape[4]),
        "n_time": int(rf.shape[2]),
        "n_channels": int(rf.shape[3]),
        "stimulus_names": names,
        "stimulus_sources": paths,
        "channel_regions": [
            POSTERIOR if c < monkey.posterior_channels else CENTRAL for c in range(rf.shape[3])
        ],
        "note": monkey.note,
    }


def _read_recordings(archive: ZipArchive, monkey: Monkey) -> tuple[np.ndarray, list[str]]:
    """``imageRF`` as a 5-D array and ``UniqueNames``, checked against each other."""
    source = f"{archive.path.name}:{monkey.mat_file}"
    with archive.open(monkey.mat_file) as stream:
        mat = read_mat(stream, ("imageRF", "UniqueNames"), source=source)
    rf, paths = mat["imageRF"], mat["UniqueNames"]
    if not isinstance(rf, np.ndarray) or rf.ndim > 5 or rf.size == 0 or rf.dtype == bool:
        raise ConversionError(
            f"{source}: imageRF should be a numeric array with dims (x, y, time, channel, "
            f"image), got {getattr(rf, 'shape', 'text')}."
        )
    # MATLAB drops trailing singleton dims: one image (or one channel and one image) is 4-D.
    rf = rf.reshape(tuple(rf.shape) + (1,) * (5 - rf.ndim))
    if not isinstance(paths, list) or len(paths) != rf.shape[4]:
        count = f"{len(paths)} entries" if isinstance(paths, list) else "numbers, not text"
        raise ConversionError(
            f"{source}: UniqueNames should hold one file name per image of imageRF "
            f"({rf.shape[4]}), but it holds {count}."
        )
    return rf, paths


def _read_stimuli(archive: ZipArchive, monkey: Monkey, names: list[str]) -> list[np.ndarray]:
    members = [f"{monkey.stimulus_dir}/{n}" for n in names]
    missing = [m for m in members if m not in archive]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ConversionError(
            f"{archive.path.name}:{monkey.mat_file} names {len(missing)} stimuli in UniqueNames "
            f"that {archive.path.name} does not hold: {', '.join(missing[:5])}{more}."
        )
    return [_decode(archive, m) for m in members]


def _decode(archive: ZipArchive, member: str) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    data = archive.read(member, max_size=MAX_STIMULUS_FILE_BYTES)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                # cv2.imread, which the paper's loader uses, applies EXIF orientation.
                return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ConversionError(
            f"{archive.path.name}:{member} declares an image too large to be a stimulus ({exc})."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ConversionError(
            f"{archive.path.name}:{member} is not a readable image ({exc})."
        ) from exc


def _write_samples(
    root: Path, name: str, data: np.ndarray, dtype: type, dims: tuple[str, ...], codec: str | None
) -> None:
    sample_bytes = int(np.prod(data.shape[1:])) * np.dtype(dtype).itemsize
    per_shard = int(np.clip(_SHARD_BYTES // max(1, sample_bytes), 1, SAMPLES_PER_SHARD))
    create_sample_array(
        root,
        name,
        shape=data.shape,
        dtype=np.dtype(dtype).name,
        dimension_names=dims,
        codec=codec,
        samples_per_shard=per_shard,
    )
    for start in range(0, len(data), per_shard):
        block: np.ndarray = np.ascontiguousarray(data[start : start + per_shard], dtype=dtype)
        write_samples(root, name, start, block)
