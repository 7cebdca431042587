"""Reuse raw files that are already on this machine instead of downloading them again.

Two kinds of existing copies are found:

* the Keras cache (``$KERAS_HOME``, default ``~/.keras``), where the lab's
  own code keeps the same files under the names each dataset declares
  (``DatasetSpec.keras_names``), read when a fetch runs; an archive is found
  in Keras 2's layout (``datasets/Arcaro2020.zip``, extracted beside it) and
  Keras 3's (``datasets/Arcaro2020.zip_archive``, extracted into a folder
  named ``Arcaro2020.zip``), as neural_harmonizer's ``get_file(origin=...,
  extract=True)`` leaves them;
* a folder the user names (``fetch(..., from_dir=DIR)``,
  ``neural-datasets fetch NAME --from DIR``): a lab's shared disk, a copy on
  scratch, holding the files under our names or Keras's.

A copy is never trusted because of where it is: it is hard-linked (or copied,
across file systems) into the cache and then checked like a download. The
original is never modified, moved or deleted; a copy that fails its check is
moved aside from the cache like a bad download, and the file is downloaded.

Examples
--------
>>> from neural_datasets.registry import get_spec
>>> spec = get_spec("clickme-val")
>>> copy_names(spec, spec.files[3])
('val/val-3.tfrecords', 'val-3.tfrecords', 'datasets/click-me/clickme_val_3', 'clickme_val_3')
>>> spec = get_spec("arcaro2020")
>>> copy_names(spec, spec.files[0])[1:]
('datasets/Arcaro2020.zip', 'datasets/Arcaro2020.zip_archive', 'Arcaro2020.zip_archive')
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..datasets.spec import DatasetSpec, RemoteFile

ENV_KERAS_HOME = "KERAS_HOME"


def keras_home() -> Path:
    """``$KERAS_HOME``, else ``~/.keras``: where Keras's ``get_file`` caches downloads.

    Examples
    --------
    >>> keras_home().name in (".keras", os.environ.get("KERAS_HOME", "").rstrip("/").split("/")[-1])
    True
    """
    env = os.environ.get(ENV_KERAS_HOME)
    return Path(env).expanduser() if env else Path.home() / ".keras"


KERAS3_ARCHIVE_SUFFIX = "_archive"
"""Keras 3's ``get_file(..., extract=True)`` renames the archive ``<name>_archive`` and
extracts into a folder called ``<name>``; Keras 2 keeps ``<name>`` and extracts beside it."""

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def keras_layouts(keras: str) -> tuple[str, ...]:
    """Where Keras 2 and Keras 3 keep a file cached as ``keras`` (relative to the Keras home).

    Examples
    --------
    >>> keras_layouts("datasets/Arcaro2020.zip")
    ('datasets/Arcaro2020.zip', 'datasets/Arcaro2020.zip_archive')
    >>> keras_layouts("datasets/click-me/clickme_val_0")
    ('datasets/click-me/clickme_val_0',)
    """
    if keras.endswith(_ARCHIVE_SUFFIXES):
        return (keras, keras + KERAS3_ARCHIVE_SUFFIX)
    return (keras,)


def copy_names(spec: DatasetSpec, remote: RemoteFile) -> tuple[str, ...]:
    """Relative names under which a folder may hold ``remote``: ours first, then Keras's."""
    names = [remote.path, remote.path.rsplit("/", 1)[-1]]
    keras = spec.keras_name(remote)
    if keras:
        for layout in keras_layouts(keras):
            names += [layout, layout.rsplit("/", 1)[-1]]
    return tuple(dict.fromkeys(names))  # unique, in order


def find_copy(
    spec: DatasetSpec, remote: RemoteFile, from_dir: str | os.PathLike[str] | None
) -> Path | None:
    """An existing copy of ``remote``: in ``from_dir`` under any of its names, else in the
    Keras cache in its Keras 2 or Keras 3 layout; ``None`` when there is none (or its size
    differs from the pinned size). A folder is never a copy (Keras 3 extracts an archive
    into a folder with the archive's name)."""
    candidates: list[Path] = []
    if from_dir is not None:
        candidates += [Path(from_dir).expanduser() / name for name in copy_names(spec, remote)]
    keras = spec.keras_name(remote)
    if keras:
        candidates += [keras_home() / layout for layout in keras_layouts(keras)]
    for candidate in candidates:
        try:
            if candidate.is_file() and remote.size in (None, candidate.stat().st_size):
                return candidate
        except OSError:  # unreadable folder: not a copy we can use
            continue
    return None


def require_folder(from_dir: str | os.PathLike[str] | None) -> None:
    """Fail at once, clearly, when a ``from_dir`` the user named is not a folder."""
    if from_dir is not None and not Path(from_dir).expanduser().is_dir():
        raise FileNotFoundError(errno.ENOENT, "--from/from_dir is not a folder", str(from_dir))


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` hold ``source``'s bytes without touching ``source``.

    A hard link costs no space or time; across file systems, or where the
    kernel refuses to link another user's file, the bytes are copied to a
    temporary name and renamed, so ``target`` never appears half-written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.adopt-{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


@dataclass
class Reuse:
    """What a fetch took from existing copies instead of the network."""

    files: int = 0
    bytes: int = 0
    folders: tuple[str, ...] = ()

    def add(self, source: Path, size: int) -> None:
        self.files += 1
        self.bytes += size
        self.folders = tuple(dict.fromkeys((*self.folders, str(source.parent))))

    def summary(self, name: str) -> str | None:
        """One line for the user, or ``None`` when nothing was reused.

        Examples
        --------
        >>> reuse = Reuse()
        >>> reuse.add(Path("/k/datasets/shards/a_0"), 3 * 2**20)
        >>> reuse.summary("demo")
        'demo: reused 1 existing file (3.0 MiB not downloaded) from /k/datasets/shards'
        """
        if not self.files:
            return None
        plural = "s" if self.files > 1 else ""
        return (
            f"{name}: reused {self.files} existing file{plural} ({_size(self.bytes)} not "
            f"downloaded) from {', '.join(self.folders)}"
        )


def _size(n: int) -> str:
    value, unit = float(n), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def missing_without_copy(
    spec: DatasetSpec, have: Iterable[str], from_dir: str | os.PathLike[str] | None
) -> list[str]:
    """Relative paths of ``spec``'s files neither in ``have`` nor available as an existing copy."""
    present = set(have)
    return [
        r.path for r in spec.files if r.path not in present and find_copy(spec, r, from_dir) is None
    ]
