"""The bundled Arcaro 2020 sample's members, read from the packaged zip, and zips built from them.

Fixtures build their variants of the archive from these bytes, so they need neither
the sample-making scripts nor their dependencies (scikit-image).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from neural_datasets.datasets.arcaro2020.spec import ARCHIVE, SAMPLE_FOLDER

TOP = "Arcaro2020"


def archive_members() -> dict[str, bytes]:
    """Relative path under ``Arcaro2020/`` -> bytes of every file of the bundled sample."""
    with zipfile.ZipFile(SAMPLE_FOLDER / ARCHIVE) as archive:
        return {
            info.filename.removeprefix(f"{TOP}/"): archive.read(info)
            for info in archive.infolist()
            if not info.is_dir()
        }


def write_archive(path: Path, members: dict[str, bytes], top: str | None = TOP) -> Path:
    """Zip ``members`` under folder ``top`` (``None``: at the root) into ``path``."""
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(members.items()):
            archive.writestr(prefix + name, data)
    return path
