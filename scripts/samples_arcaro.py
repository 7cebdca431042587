"""Make ``Arcaro2020.zip`` for the bundled ``arcaro2020-sample``: real layout, SYNTHETIC data.

The archive has the layout of the published Arcaro et al. (2020) archive
(``Arcaro2020/George/george_060118_data.mat`` with stimuli under
``George/natural_test/``, ``Arcaro2020/Red/red_062419_data.mat`` with stimuli
under ``Red/red_naturalface/``), and each .mat file holds ``imageRF``
(x, y, time in ms, channel, image; double) and ``UniqueNames`` (1xN cell of
Windows paths), like the real files. Only the sizes are smaller: a 120 ms time
axis and a few stimuli per monkey. George keeps the real 17x17 grid and 63
channels; Red has a 9x9 grid and 32 channels (one 32-channel array).

Stimuli are public-domain and CC0 photographs shipped inside the scikit-image
wheel (``GEORGE_STIMULI``, ``RED_STIMULI``). Responses are SYNTHETIC: each
channel's map is the stimulus's high-contrast regions seen on the grid, times
an integer gain per channel and a temporal profile, so after the paper's flip
the maps resemble the pictures. Values are small integers, which keeps the
archive small and makes every time average exact in float32 and float64.

The bytes are deterministic: fixed .mat header text, fixed zip timestamps and
permissions, sorted members. Run directly to regenerate the bundled file::

    python scripts/samples_arcaro.py
"""

from __future__ import annotations

import io
import sys
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

SAMPLE_DIR = (
    Path(__file__).resolve().parents[1] / "neural_datasets" / "datasets" / "arcaro2020" / "sample"
)
ARCHIVE = "Arcaro2020.zip"
TOP = "Arcaro2020"
SEED = 2020
N_TIME = 120  # ms; the paper's default window, 50-90 ms, fits
BIN_MS = 10  # the synthetic profile changes every 10 ms
# (file in skimage/data, name in the archive, format, side in pixels); licences as stated
# in skimage.data's docstrings.
GEORGE_STIMULI = (
    ("astronaut.png", "astronaut.jpg", "JPEG", 256),  # Eileen Collins, NASA; public domain
    ("coffee.png", "coffee.jpg", "JPEG", 256),  # Rachel Michetti; CC0
    ("chelsea.png", "chelsea.jpg", "JPEG", 256),  # Stefan van der Walt; CC0
    ("rocket.jpg", "rocket.jpg", "JPEG", 256),  # SpaceX; public domain
)
RED_STIMULI = (
    ("astronaut.png", "astronaut.jpg", "JPEG", 160),  # Eileen Collins, NASA; public domain
    ("camera.png", "camera.png", "PNG", 160),  # Lav Varshney; CC0 (grayscale)
    ("hubble_deep_field.jpg", "hubble.jpg", "JPEG", 160),  # NASA; public domain
    ("retina.jpg", "retina.jpg", "JPEG", 160),  # Häggström, 2014; CC0
)


@dataclass(frozen=True)
class SampleMonkey:
    folder: str
    mat_file: str
    stimulus_dir: str
    grid: int  # side of the square grid of positions
    channels: int
    stimuli: tuple[tuple[str, str, str, int], ...]
    profile: tuple[int, ...]  # response level in each 10 ms bin


MONKEYS = (
    SampleMonkey(
        folder="George",
        mat_file="george_060118_data.mat",
        stimulus_dir="natural_test",
        grid=17,
        channels=63,
        stimuli=GEORGE_STIMULI,
        profile=(0, 0, 0, 0, 1, 3, 4, 3, 2, 2, 1, 1),  # onset at 40 ms
    ),
    SampleMonkey(
        folder="Red",
        mat_file="red_062419_data.mat",
        stimulus_dir="red_naturalface",
        grid=9,
        channels=32,  # one 32-channel array; our assumption for the real file
        stimuli=RED_STIMULI,
        profile=(0, 0, 0, 0, 0, 2, 4, 4, 3, 2, 1, 1),  # onset at 50 ms
    ),
)
MAT_HEADER = b"MATLAB 5.0 MAT-file, SYNTHETIC sample written by neural-datasets"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _stimulus(source: str, side: int) -> Image.Image:
    with Image.open(io.BytesIO((files("skimage") / "data" / source).read_bytes())) as img:
        img.load()
    crop = min(img.size)
    left, top = (img.width - crop) // 2, (img.height - crop) // 2
    img = img.crop((left, top, left + crop, top + crop)).resize((side, side), Image.LANCZOS)
    return img if img.mode == "L" else img.convert("RGB")


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {"optimize": True}))
    return buf.getvalue()


def _grid_map(img: Image.Image, grid: int) -> np.ndarray:
    """Integers 0-9 on the grid: where the picture departs most from its median grey."""
    lum = np.asarray(img.convert("L").resize((grid, grid), Image.BOX), dtype=np.float64)
    contrast = np.abs(lum - np.median(lum))
    levels = np.ceil(9 * (contrast - np.quantile(contrast, 0.7)) / (np.ptp(contrast) + 1e-9))
    return np.clip(levels, 0, 9)


def _image_rf(maps: list[np.ndarray], channels: int, profile: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(SEED + channels)
    gains = rng.integers(0, 5, channels).astype(np.float64)  # gain 0: an unresponsive site
    time = np.repeat(np.asarray(profile, dtype=np.float64), BIN_MS)[:N_TIME]
    # imageRF indexes where the picture was shown; the paper's loader reverses both grid
    # axes, so the maps are stored reversed for its y to line up with the picture.
    space = np.stack([m[::-1, ::-1] for m in maps], axis=-1)  # (x, y, image)
    return np.einsum("xyi,t,c->xytci", space, time, gains)


def _mat_bytes(rf: np.ndarray, paths: list[str]) -> bytes:
    names = np.empty((1, len(paths)), dtype=object)
    names[0, :] = paths
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"imageRF": rf, "UniqueNames": names}, do_compression=True)
    data = bytearray(buf.getvalue())
    data[:116] = MAT_HEADER.ljust(116)  # scipy writes the creation time there
    return bytes(data)


def archive_members() -> dict[str, bytes]:
    """Relative path (under ``Arcaro2020/``) -> bytes of every file of the sample archive.

    Returns
    -------
    dict of str to bytes
        The .mat file and stimuli of each monkey.

    Examples
    --------
    >>> sorted(archive_members())[:2]
    ['George/george_060118_data.mat', 'George/natural_test/astronaut.jpg']
    """
    members: dict[str, bytes] = {}
    for monkey in MONKEYS:
        maps, paths = [], []
        for source, name, fmt, side in monkey.stimuli:
            img = _stimulus(source, side)
            members[f"{monkey.folder}/{monkey.stimulus_dir}/{name}"] = _encode(img, fmt)
            maps.append(_grid_map(img, monkey.grid))
            paths.append(f"D:\\Stimuli\\{monkey.stimulus_dir}\\{name}")
        rf = _image_rf(maps, monkey.channels, monkey.profile)
        members[f"{monkey.folder}/{monkey.mat_file}"] = _mat_bytes(rf, paths)
    return members


def write_archive(path: Path, members: dict[str, bytes], top: str | None = TOP) -> Path:
    """Write ``members`` as a deterministic zip, under folder ``top`` (or at the root).

    Parameters
    ----------
    path : pathlib.Path
        The zip file to write.
    members : dict of str to bytes
        Relative path -> content.
    top : str or None, default ``"Arcaro2020"``
        Top-level folder; ``None`` puts the members at the archive's root.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> p = write_archive(Path(tempfile.mkdtemp()) / "a.zip", {"x/y.txt": b"hi"})
    >>> zipfile.ZipFile(p).namelist()
    ['Arcaro2020/', 'Arcaro2020/x/', 'Arcaro2020/x/y.txt']
    """
    prefix = f"{top}/" if top else ""
    entries = {f"{prefix}{name}": data for name, data in members.items()}
    for name in list(entries):
        parts = name.split("/")[:-1]
        entries.update({"/".join(parts[: i + 1]) + "/": b"" for i in range(len(parts))})
    with zipfile.ZipFile(path, "w") as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, whatever machine builds it
            is_dir = name.endswith("/")
            info.external_attr = ((0o40755 if is_dir else 0o100644) << 16) | (0x10 if is_dir else 0)
            info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name], compresslevel=9)
    return path


def main(out_dir: Path) -> list[Path]:
    """Write ``Arcaro2020.zip`` into ``out_dir``; return its path in a list.

    Parameters
    ----------
    out_dir : pathlib.Path
        The sample folder (the package's ``datasets/arcaro2020/sample`` by default).

    Returns
    -------
    list of pathlib.Path
        ``[out_dir / "Arcaro2020.zip"]``.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in main(Path(tempfile.mkdtemp()))]
    ['Arcaro2020.zip']
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_archive(folder / ARCHIVE, archive_members())]


if __name__ == "__main__":
    for written in main(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_DIR):
        print(f"{written} ({written.stat().st_size} bytes)")
