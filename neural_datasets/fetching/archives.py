"""Read members of a zip archive in place, without extracting anything to disk.

Converters stream what they need straight out of the downloaded archive, so
no member name can ever decide where bytes are written. Names are still
checked when the archive is opened: an archive holding an absolute path, a
``..`` component or a symbolic link is refused as a whole, because such an
archive was either built carelessly or built to attack whoever extracts it.

Reading is bounded and every failure is one :class:`ConversionError`: a member
whose declared size expands more than :data:`MAX_EXPANSION` times its
compressed size (a zip bomb) or beyond the caller's ``max_size`` is refused
before a byte is inflated, reads never return more than the declared size,
and a CRC or deflate error names the member and the fix.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import ConversionError

_DRIVE = re.compile(r"^[A-Za-z]:")
# Deflate tops out near 1032:1; real data (.mat floats, JPEGs) stays far below 100:1.
MAX_EXPANSION = 200
_SMALL_MEMBER = 1 << 20  # tiny members may expand freely (a zero-filled 1 MiB header, say)


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

    def open(self, name: str, *, max_size: int | None = None) -> IO[bytes]:
        """Open file ``name`` (relative to ``top``) for reading, as a seekable binary stream.

        Parameters
        ----------
        name
            The member, relative to ``top``.
        max_size
            Refuse members that inflate to more than this many bytes.

        Raises
        ------
        ConversionError
            When the archive has no such file, the member is a zip bomb or
            larger than ``max_size``, and (from the stream's reads) when its
            data fails its CRC-32 or does not inflate.
        """
        try:
            info = self._members[name]
        except KeyError:
            where = f" (or {self.top}/{name})" if self.top else ""
            raise ConversionError(f"{self.path} has no file {name!r}{where}.") from None
        where = f"{self.path.name}:{info.filename}"
        if max_size is not None and info.file_size > max_size:
            raise ConversionError(
                f"{where} inflates to {info.file_size} bytes, more than the {max_size} this "
                f"member can hold; refusing to read it."
            )
        if info.file_size > max(_SMALL_MEMBER, MAX_EXPANSION * info.compress_size):
            raise ConversionError(
                f"{where} inflates {info.compress_size} bytes to {info.file_size} (more than "
                f"{MAX_EXPANSION}:1): a zip bomb, not data; refusing to read it."
            )
        with _zip_errors(where):
            return io.BufferedReader(_MemberStream(self._zip.open(info), where), 1 << 20)

    def read(self, name: str, *, max_size: int | None = None) -> bytes:
        """The bytes of file ``name``, bounded like :meth:`open`."""
        with self.open(name, max_size=max_size) as stream:
            return stream.read()

    def close(self) -> None:
        """Close the underlying zip file."""
        self._zip.close()

    def __enter__(self) -> ZipArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def _zip_errors(where: str) -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ConversionError(
            f"{where} is damaged ({exc}): the archive was corrupted in transit or on disk. "
            f"Remove the dataset with `neural-datasets rm NAME` and fetch it again."
        ) from exc


class _MemberStream(io.RawIOBase):
    """A zip member's stream whose CRC and inflate failures are :class:`ConversionError`."""

    def __init__(self, member: IO[bytes], where: str) -> None:
        self._member = member
        self._where = where

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._member.seekable()

    def read(self, size: int | None = -1) -> bytes:
        with _zip_errors(self._where):
            return self._member.read(-1 if size is None else size)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with _zip_errors(self._where):
            return self._member.seek(offset, whence)

    def tell(self) -> int:
        return self._member.tell()

    def close(self) -> None:
        self._member.close()
        super().close()
