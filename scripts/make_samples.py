"""Regenerate the small samples bundled in ``neural_datasets/datasets/*/sample``.

Usage::

    python scripts/make_samples.py [clickme|arcaro|all] [--out DIR]

Each part writes its files under ``DIR`` (default: the package's samples
directory) and the script ends by printing every file's sha256 and size, to be
copied into the registry when a sample changes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

DATASETS_DIR = Path(__file__).resolve().parents[1] / "neural_datasets" / "datasets"
# Each part writes into its dataset folder's sample/ (or into --out/<part>).
SAMPLE_FOLDERS = {
    "clickme": DATASETS_DIR / "clickme" / "sample",
    "arcaro": DATASETS_DIR / "arcaro2020" / "sample",
}


def _clickme(out_dir: Path) -> list[Path]:
    from samples_clickme import main

    return main(out_dir)


def _arcaro(out_dir: Path) -> list[Path]:
    # Imported on demand: the ClickMe part must work without the Arcaro script.
    try:
        from samples_arcaro import main
    except ModuleNotFoundError as exc:
        if exc.name != "samples_arcaro":
            raise
        raise SystemExit("scripts/samples_arcaro.py is missing; run with 'clickme'") from exc
    return main(out_dir)


PARTS: dict[str, Callable[[Path], list[Path]]] = {"clickme": _clickme, "arcaro": _arcaro}


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"")
    >>> sha256_of(p)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success.

    Examples
    --------
    >>> import tempfile
    >>> main(["clickme", "--out", tempfile.mkdtemp()])  # doctest: +ELLIPSIS
    sha256 ...
    0
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="?", default="all", choices=[*PARTS, "all"])
    parser.add_argument(
        "--out", type=Path, default=None, help="write into OUT/<part> instead of the package"
    )
    args = parser.parse_args(argv)
    names = list(PARTS) if args.which == "all" else [args.which]
    paths = [
        path
        for name in names
        for path in PARTS[name](args.out / name if args.out else SAMPLE_FOLDERS[name])
    ]
    for path in paths:
        print(f"sha256 {sha256_of(path)}  size {path.stat().st_size:>9}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
