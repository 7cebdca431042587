"""Keras caches as the lab's code leaves them, built in a temporary Keras home.

``get_file(origin=..., extract=True)`` (neural_harmonizer's call) leaves the archive
in one of two layouts under ``<KERAS_HOME>/datasets``:

* Keras 2: the archive ``Arcaro2020.zip``, extracted beside it into ``Arcaro2020/``;
* Keras 3: the archive renamed ``Arcaro2020.zip_archive``, extracted into a *folder*
  named ``Arcaro2020.zip``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from neural_datasets.datasets.arcaro2020.spec import ARCHIVE, SAMPLE_FOLDER

KERAS_LAYOUTS = ("keras2", "keras3")


def put_arcaro(home: Path, layout: str, archive: Path = SAMPLE_FOLDER / ARCHIVE) -> Path:
    """Lay ``archive`` out in ``home`` as Keras ``layout`` leaves it; return the archive's copy."""
    datasets = home / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    if layout == "keras2":
        kept, extracted_into = datasets / ARCHIVE, datasets
    elif layout == "keras3":
        kept, extracted_into = datasets / f"{ARCHIVE}_archive", datasets / ARCHIVE
    else:
        raise ValueError(f"layout must be one of {KERAS_LAYOUTS}, got {layout!r}")
    shutil.copyfile(archive, kept)
    shutil.unpack_archive(kept, extracted_into, format="zip")
    return kept


def tree_fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``root``: relative path -> (sha256, mtime_ns, mode)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (digest, stat.st_mtime_ns, stat.st_mode)
    return out
