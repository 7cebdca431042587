"""The ``neural-datasets`` command line.

Exit status: 0 success, 1 an expected failure (network, checksum, corrupt or
unwritable cache), 2 a usage error (including an unknown dataset name).
Expected failures print one clear message and no traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import NeuralDatasetsError, UnknownDatasetError
from .fetching.cache import DatasetCache, dataset_cache, offline, spec_cache
from .registry import available, get_spec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neural-datasets",
        description="Fetch, verify and inspect the registered datasets (`neural-datasets list`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, names: str | None = "?") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        if names:
            optional: dict[str, Any] = {"default": None} if names == "?" else {}
            p.add_argument(
                "names" if names == "+" else "name",
                nargs=None if names == "1" else names,
                metavar="NAME",
                **optional,
            )
        p.add_argument(
            "--cache-dir",
            help="cache root (default: $NEURAL_DATASETS_HOME or the platform cache directory)",
        )
        return p

    listing = command(
        "list", "list the registered datasets, their sizes and whether each is cached", names=None
    )
    listing.add_argument(
        "--lookup",
        action="store_true",
        help="ask the servers for unknown download sizes (HEAD requests, remembered in the cache)",
    )
    info = command(
        "info", "describe a dataset: sizes, files, checksums, citation, licence, cache state", "1"
    )
    info.add_argument(
        "--no-lookup",
        action="store_true",
        help="do not ask the server for unknown download sizes (HEAD requests)",
    )
    info.add_argument("--json", action="store_true", help="print the facts as one JSON object")
    command("cite", "print the BibTeX entries to cite for a dataset", "1")
    fetch = command("fetch", "download, verify and convert datasets", "+")
    fetch.add_argument("--base-url", help="a mirror with the same relative layout")
    fetch.add_argument("--no-progress", action="store_true", help="hide progress bars")
    fetch.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        help="reuse raw files already in DIR (our names or the Keras cache's), checked like "
        "downloads and never modified; $KERAS_HOME or ~/.keras is always searched",
    )
    fetch.add_argument(
        "--layout",
        help="store layout: raw (decoded arrays) or another the dataset has (`neural-datasets "
        "info NAME` lists them); default: the dataset's own (BENCHMARKS.md)",
    )
    verify = command("verify", "check cached datasets' chunk and file checksums", "+")
    verify.add_argument("--no-progress", action="store_true", help="hide progress bars")
    path = command("path", "print the path of a dataset's store (fetched or not)", "1")
    path.add_argument("--layout", help="the store of this layout (one the dataset has)")
    command("rm", "delete a dataset from the cache", "1")
    command("pin", "print registry checksum lines for the files recorded on first download", "1")
    preview = command("preview", "write a PNG preview of a dataset", "1")
    preview.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    preview.add_argument("-n", type=int, default=8, help="number of samples (default 8)")
    preview.add_argument("--base-url", help="a mirror with the same relative layout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except UnknownDatasetError as exc:
        print(f"neural-datasets: {exc}", file=sys.stderr)
        return 2
    except NeuralDatasetsError as exc:
        print(f"neural-datasets: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"neural-datasets: error: {_describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "neural-datasets: interrupted; the next fetch resumes where this one stopped.",
            file=sys.stderr,
        )
        return 130


def _describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return (
            f"the disk is full ({exc.filename or 'cache'}). Free space or choose another "
            f"cache with --cache-dir; the next fetch resumes where this one stopped."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"permission denied: {exc.filename}. Choose a writable cache with --cache-dir "
            f"or NEURAL_DATASETS_HOME."
        )
    return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)


def _list(args: argparse.Namespace) -> int:
    from .fetching.space import dataset_sizes

    lookup = args.lookup and not offline()
    rows = [("NAME", "FILES", "DOWNLOAD", "SAMPLES", "STORE", "STATE", "DESCRIPTION")]
    for name in available():
        spec = get_spec(name)
        cache = spec_cache(spec, args.cache_dir)
        sizes = dataset_sizes(spec, cache, lookup=lookup)
        summary = spec.description.split(":")[0].split(".")[0].split(" (")[0]
        published = [other.layout for other in _published(cache)]
        state = _state(spec.default_layout, published, bool(_prefixes(cache)))
        rows.append(
            (name, str(sizes.files), str(sizes.download), str(sizes.samples), str(sizes.store))
            + (state, summary)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, 5) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        print("  ".join([*cells, row[6]]))
    shown = " ".join(" ".join(row[2:5]) for row in rows[1:])
    if "~" in shown:
        print("~ estimated: the store's size before it is built, or a count from the download size")
    if "?" in shown:
        print(
            "? not known yet: `neural-datasets list --lookup` or `neural-datasets info NAME` "
            "asks the server (HEAD requests, remembered in the cache)"
        )
    if any(row[5] == "prefix" for row in rows[1:]):
        print(
            "prefix: only the first shards are cached, for a subset (`neural-datasets info NAME`)"
        )
    if any(row[5].startswith("cached:") for row in rows[1:]):
        print("cached:LAYOUT: cached in that layout, not the default one (sizes are the default's)")
    return 0


def _published(cache: DatasetCache) -> list[DatasetCache]:
    """The layouts of ``cache``'s dataset whose whole store is published."""
    return [other for other in cache.every_layout() if other.is_published()]


def _state(default_layout: str, published: list[str], prefixes: bool) -> str:
    """A dataset's cache state for ``list``: ``cached``, ``cached:LAYOUT``, ``prefix`` or ``-``.

    Examples
    --------
    >>> _state("compact", ["compact", "raw"], False), _state("compact", ["raw"], True)
    ('cached', 'cached:raw')
    >>> _state("raw", [], True), _state("raw", [], False)
    ('prefix', '-')
    """
    if default_layout in published:
        return "cached"
    if published:
        return "cached:" + ",".join(published)
    return "prefix" if prefixes else "-"


def _prefixes(cache: DatasetCache) -> list[DatasetCache]:
    """The published prefix stores of every layout of ``cache``'s dataset."""
    every = cache.every_layout()
    return [p for layout in every for p in layout.prefixes() if p.prefix_facts() is not None]


def _info(args: argparse.Namespace) -> int:
    from .dataset_info import info
    from .fetching.space import dataset_sizes, free_space, human_bytes, measured_size

    spec = get_spec(args.name)
    if args.json:
        about = info(spec.name, cache_dir=args.cache_dir, lookup=not args.no_lookup)
        print(json.dumps(about.as_dict(), indent=2))
        return 0
    cache = spec_cache(spec, args.cache_dir)
    sizes = dataset_sizes(spec, cache, lookup=not args.no_lookup and not offline())
    wrap = textwrap.TextWrapper(width=88, subsequent_indent="    ")
    print(spec.name)
    for label, text in (
        ("description", spec.description),
        ("citation", spec.citation),
        ("licence", spec.license),
    ):
        print(wrap.fill(f"  {label}: {text}"))
    if spec.homepage:
        print(f"  homepage: {spec.homepage}")
    if spec.bibtex:
        print(f"  bibtex: `neural-datasets cite {spec.name}`")
    print(f"  base url: {spec.base_url}")
    pinned = sum(1 for f in spec.files if f.sha256)
    print(f"  files: {len(spec.files)} ({pinned} pinned), e.g. {spec.files[0].path}")
    print(f"  download: {sizes.download} ({_how(sizes.download.how, 'the server gave no size')})")
    print(f"  samples: {sizes.samples} ({_how(sizes.samples.how, 'until fetched')})")
    others = ", ".join(layout for layout in spec.layout_names if layout != cache.layout)
    also = f"; also: {others}, with `--layout`" if others else "; the only one"
    print(f"  layout: {cache.layout} (the default{also})")
    print(f"  store on disk: {sizes.store} ({_how(sizes.store.how, 'until fetched')})")
    print(f"  store bytes per sample: {sizes.store_bytes_per_sample}")
    for feature in spec.features:
        shape = "x".join("?" if n is None else str(n) for n in feature.shape) or "scalar"
        print(wrap.fill(f"  feature {feature.name}: {feature.dtype} {shape}, {feature.meaning}"))
    where, free = free_space(cache.root)
    print(f"  free space: {human_bytes(free)} at {where}")
    print(f"  cache: {cache.store} ({'ready' if cache.is_published() else 'not fetched'})")
    for other in _published(cache):
        if other.layout != cache.layout:
            size = measured_size(other.store)
            print(f"  also cached, {other.layout} layout: {other.store} ({size} on disk)")
    for layout in cache.every_layout():
        for prefix in layout.prefixes():
            facts = prefix.prefix_facts()
            where = prefix.store if prefix.store.exists() else prefix.building
            if facts is not None:
                what = (
                    f"the first {facts['records']:,} records, from {facts['shards']} of "
                    f"{facts['of_shards']} shards; a subset of them opens without fetching"
                )
            elif prefix.store.exists():
                what = "incomplete or damaged: `neural-datasets verify` says more"
            else:
                what = "a conversion in progress or interrupted; not used until published"
            print(f"  prefix store: {where} ({what})")
    return 0


def _how(how: str, unknown_because: str) -> str:
    return {
        "known": "known",
        "measured": "measured in the cache",
        "estimated": "estimated",
        "unknown": f"unknown: {unknown_because}",
    }[how]


def _cite(args: argparse.Namespace) -> int:
    spec = get_spec(args.name)
    if not spec.bibtex:
        print(f"{spec.name} declares no BibTeX; its citation: {spec.citation}", file=sys.stderr)
        return 1
    print(spec.bibtex.rstrip())
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from .fetching.fetch import fetch

    specs = [get_spec(name) for name in args.names]  # all names checked before any work
    for spec in specs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = fetch(
                spec.name,
                cache_dir=args.cache_dir,
                base_url=args.base_url,
                progress=not args.no_progress,
                from_dir=args.from_dir,
                layout=args.layout,
            )
        for warning in caught:
            print(f"neural-datasets: warning: {warning.message}", file=sys.stderr)
        print(path)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .fetching.verify import verify

    status = 0
    for name in args.names:
        problems = verify(name, cache_dir=args.cache_dir, progress=not args.no_progress)
        if problems:
            print(f"{name}: {len(problems)} problem(s) found:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            print(f"Run `neural-datasets rm {name}` and fetch it again.", file=sys.stderr)
            status = 1
        else:
            print(f"{name}: ok (complete; every file, chunk and raw file matches its checksum)")
    return status


def _path(args: argparse.Namespace) -> int:
    print(spec_cache(get_spec(args.name), args.cache_dir, args.layout).store)
    return 0


def _rm(args: argparse.Namespace) -> int:
    from .fetching.fetch import remove

    cache = spec_cache(get_spec(args.name), args.cache_dir)
    if not cache.folder.exists():
        print(f"{cache.name} is not in the cache at {cache.root}; nothing to remove")
        return 0
    print(f"removed {remove(args.name, cache_dir=args.cache_dir)}")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from .fetching.hashes import HashRecords, pin_lines

    spec = get_spec(args.name)
    lines = pin_lines(spec, HashRecords(dataset_cache(spec.name, args.cache_dir).hashes))
    if lines:
        print("\n".join(lines))
        return 0
    if all(remote.sha256 for remote in spec.files):
        print(
            f"every file of {spec.name} ({len(spec.files)}) is already pinned in the registry; "
            f"nothing to add",
            file=sys.stderr,
        )
        return 0
    print(
        f"nothing recorded for {spec.name}: its unpinned files are recorded at their first "
        f"download, so fetch it first",
        file=sys.stderr,
    )
    return 1


def _preview(args: argparse.Namespace) -> int:
    from .errors import InvalidArgumentError
    from .fetching.fetch import fetch

    spec = get_spec(args.name)
    if args.n < 1:
        raise InvalidArgumentError(f"-n {args.n}: a preview shows at least one sample (-n 1).")
    output: Path = args.output
    if output.is_dir() or str(output).endswith(("/", "\\")):
        raise InvalidArgumentError(
            f"-o {output}: that is a folder; give the PNG file to write, e.g. "
            f"{output / (spec.name + '.png')}"
        )
    if output.suffix.lower() != ".png":
        raise InvalidArgumentError(f"-o {output}: the preview is a PNG; name it *.png.")
    store = fetch(spec.name, cache_dir=args.cache_dir, base_url=args.base_url, progress=False)
    print(spec.preview(store, output, args.n))
    return 0


_COMMANDS = {
    "list": _list,
    "info": _info,
    "cite": _cite,
    "fetch": _fetch,
    "verify": _verify,
    "path": _path,
    "rm": _rm,
    "pin": _pin,
    "preview": _preview,
}

if __name__ == "__main__":
    sys.exit(main())
