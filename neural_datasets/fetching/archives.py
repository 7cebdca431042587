"""Read members of a zip archive in place, without extracting anything to disk.

Converters stream what they need straight out of the downloaded archive, so
no member name can ever decide where bytes are written. Names are still
checked when the archive is opened: an archive holding an absolute path, a
``..`` component or a symbolic link is refused as a whole, because such an
archive was either built carelessly or built to attack whoever extracts it.
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path
from typing import IO

from ..errors import ConversionError

_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")  # some Windows tools write backslashes
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' component"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


class ZipArchive:
    """Validated, read-only view of a zip archive's files.

    Parameters
    ----------
    path
        The zip file.
    top
        Optional top-level folder. Archives are accepted with or without it:
        member ``top/a/b`` is addressed as ``a/b`` either way.

    Raises
    ------
    ConversionError
        When ``path`` is not a zip file, or when any member has an unsafe name
        (absolute path, ``..`` component) or is a symbolic link.

    Examples
    --------
    >>> with ZipArchive("Arcaro2020.zip", top="Arcaro2020") as archive:  # doctest: +SKIP
    ...     with archive.open("George/george_060118_data.mat") as f:
    ...         header = f.read(116)
    """

    def __init__(self, path: str | Path, *, top: str | None = None) -> None:
        self.path = Path(path)
        self.top = top
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ConversionError(f"{self.path} is not a readable zip archive ({exc}).") from exc
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            reason = _unsafe_reason(info)
            if reason is not None:
                self._zip.close()
                raise ConversionError(
                    f"{self.path} holds a member with an unsafe name, {info.filename!r} "
                    f"({reason}); refusing to read this archive."
                )
            if not info.is_dir():
                self._members[self._relative(info.filename.replace("\\", "/"))] = info

    def _relative(self, name: str) -> str:
        prefix = f"{self.top}/" if self.top else None
        return name[len(prefix) :] if prefix and name.startswith(prefix) else name

    def names(self) -> list[str]:
        """Relative names of the archive's files (directories left out), sorted."""
        return sorted(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def open(self, name: str) -> IO[bytes]:
        """Open file ``name`` (relative to ``top``) for reading, as a seekable binary stream.

        Raises
        ------
        ConversionError
            When the archive has no such file.
        """
        try:
            info = self._members[name]
        except KeyError:
            where = f" (or {self.top}/{name})" if self.top else ""
            raise ConversionError(f"{self.path} has no file {name!r}{where}.") from None
        return self._zip.open(info)

    def close(self) -> None:
        """Close the underlying zip file."""
        self._zip.close()

    def __enter__(self) -> ZipArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
