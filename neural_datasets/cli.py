"""The ``neural-datasets`` command line.

Exit status (:data:`EPILOG`, shown by ``--help``): 0 success, 1 an expected
failure (network, checksum, corrupt or unwritable cache), 2 a usage error (a
bad option or value, an unknown dataset name), 130 interrupted. Expected
failures print one clear message and no traceback; a closed output pipe
(``neural-datasets list | head -1``) ends quietly. All of it is decided in
:func:`main`, the one place that turns exceptions into messages and statuses.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InvalidArgumentError, NeuralDatasetsError, UnknownDatasetError, command_line
from .fetching.cache import DatasetCache, dataset_cache, offline, spec_cache
from .registry import available, get_spec

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
exit status:
  0    success (also when the reader of the output stops early: `| head`)
  1    a failure the message explains: network, checksum, damaged or unwritable cache
  2    a usage error: a bad option or value, an unknown dataset name
  130  interrupted (Ctrl-C); the next fetch resumes where this one stopped

environment variables:
  NEURAL_DATASETS_HOME     the cache root (default: the platform cache,
                           e.g. ~/.cache/neural-datasets); --cache-dir overrides it
  NEURAL_DATASETS_OFFLINE  1: never download, use only what is cached
  NEURAL_DATASETS_TIMEOUT  seconds without data before a download gives up (default 30)
  KERAS_HOME               the Keras cache, searched for raw files already downloaded

examples:
  neural-datasets fetch clickme-sample
  neural-datasets preview clickme-sample -o clickme.png
  NEURAL_DATASETS_HOME=/data/neural-datasets neural-datasets fetch clickme-val
  NEURAL_DATASETS_OFFLINE=1 neural-datasets list
"""


ENDPOINT_HELP = (
    "S3 endpoint (MinIO, Ceph, R2...); default $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL"
)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's parser by name (for its usage in errors)."""
    parser = argparse.ArgumentParser(
        prog="neural-datasets",
        description="Fetch, verify and inspect the registered datasets (`neural-datasets list`).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    verify.add_argument("--endpoint", help=ENDPOINT_HELP + " (s3:// URLs only)")
    path = command("path", "print the path of a dataset's store (fetched or not)", "1")
    path.add_argument("--layout", help="the store of this layout (one the dataset has)")
    command(
        "rm",
        "delete a dataset from the cache, its folder and lock included; waits for a fetch in "
        "progress, and processes still reading it are told it was removed",
        "1",
    )
    command("pin", "print registry checksum lines for the files recorded on first download", "1")
    preview = command("preview", "write a PNG preview of a dataset", "1")
    preview.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    preview.add_argument("-n", type=int, default=8, help="number of samples (default 8)")
    preview.add_argument("--base-url", help="a mirror with the same relative layout")
    # score: its arguments and code live in neural_datasets/metrics/command.py
    from .metrics import command as score_command

    score_help = "score a model against humans (ClickMe) or IT sites; prints a table or JSON"
    score_command.add_arguments(sub.add_parser("score", help=score_help, description=score_help))
    _add_push_command(command)
    return parser, sub.choices


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (see :data:`EPILOG`)."""
    parser, commands = _parser()
    args, unknown = parser.parse_known_args(argv)
    usage = commands[args.command]
    if unknown:  # the command's own usage, not the top level's
        usage.error(f"unrecognized arguments: {' '.join(unknown)}")  # exits 2
    try:
        with command_line(), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = _COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:
        return _output_closed()
    except (UnknownDatasetError, InvalidArgumentError) as exc:
        _say_error(f"{usage.format_usage()}{usage.prog}: error: {exc}")
        return EXIT_USAGE
    except NeuralDatasetsError as exc:
        _say_error(f"neural-datasets: error: {exc}")
        return EXIT_FAILURE
    except OSError as exc:
        _say_error(f"neural-datasets: error: {_describe_os_error(exc)}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _say_error("neural-datasets: interrupted; the next fetch resumes where this one stopped.")
        return EXIT_INTERRUPTED


def _show_warning(message: Warning | str, *_where: Any, **_how: Any) -> None:
    """Warnings as one line of ours, without Python's file and line."""
    print(f"neural-datasets: warning: {message}", file=sys.stderr)


def _say_error(message: str) -> None:
    """Print ``message`` on lines of its own, after clearing any progress bar still drawn."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    try:
        print(message, file=sys.stderr)
    except BrokenPipeError:
        _output_closed()


def _output_closed() -> int:
    """The reader of our output went away (``| head``): a normal end, silent.

    Python would report the unflushed output at exit; pointing stdout at
    ``/dev/null`` lets it exit quietly.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # not a real file (captured by a test)
            pass
    return EXIT_OK


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
    failures: list[str] = []
    for name in available():
        spec = get_spec(name)
        cache = spec_cache(spec, args.cache_dir)
        sizes = dataset_sizes(spec, cache, lookup=lookup)
        failures += [sizes.lookup_failure] if sizes.lookup_failure else []
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
        advice = (
            "`neural-datasets list --lookup` or `neural-datasets info NAME` asks the server "
            "(HEAD requests, remembered in the cache)"
        )
        why = _why_unknown(args.lookup, failures, advice)
        print(f"? not known{'' if args.lookup else ' yet'}: {why}")
    if any(row[5] == "prefix" for row in rows[1:]):
        print(
            "prefix: only the first shards are cached, for a subset (`neural-datasets info NAME`)"
        )
    if any(row[5].startswith("cached:") for row in rows[1:]):
        print("cached:LAYOUT: cached in that layout, not the default one (sizes are the default's)")
    return 0


def _why_unknown(asked: bool, failures: list[str], not_asked: str) -> str:
    """Why sizes are unknown, for ``list`` and ``info``: not asked, offline, or unreachable.

    Examples
    --------
    >>> _why_unknown(False, [], "not asked")
    'not asked'
    >>> print(_why_unknown(True, ["a.invalid could not be asked: its name does not resolve"], ""))
    the servers could not be asked (a.invalid could not be asked: its name does not resolve); \
without a network, NEURAL_DATASETS_OFFLINE=1 skips the lookup
    """
    if not asked:
        return not_asked
    if offline():
        return "NEURAL_DATASETS_OFFLINE is set, so no server was asked"
    if failures:
        return (
            f"the servers could not be asked ({failures[0]}); without a network, "
            f"NEURAL_DATASETS_OFFLINE=1 skips the lookup"
        )
    return "the server gave no size"


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
    failures = [sizes.lookup_failure] if sizes.lookup_failure else []
    unknown = _why_unknown(not args.no_lookup, failures, "not asked (--no-lookup)")
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
    print(f"  download: {sizes.download} ({_how(sizes.download.how, unknown)})")
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

    if args.endpoint is not None and not all("://" in name for name in args.names):
        raise InvalidArgumentError(
            f"--endpoint {args.endpoint}: an endpoint applies to s3:// URLs only, not to the "
            "cached datasets named here."
        )
    options = None if args.endpoint is None else {"endpoint": args.endpoint}
    status = 0
    for name in args.names:
        problems = verify(
            name,
            cache_dir=args.cache_dir,
            progress=not args.no_progress,
            storage_options=options,
        )
        if problems:
            print(f"{name}: {len(problems)} problem(s) found:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            remedy = (
                f"Push it again: `neural-datasets push DATASET {name}` repairs it."
                if "://" in name
                else f"Run `neural-datasets rm {name}` and fetch it again."
            )
            print(remedy, file=sys.stderr)
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


def _score(args: argparse.Namespace) -> int:
    from .metrics.command import run

    return run(args)


def _add_push_command(command: Any) -> None:
    push = command("push", "publish a dataset's store to an S3-compatible object store", "1")
    push.add_argument("url", metavar="URL", help="where to publish: s3://bucket/prefix")
    push.add_argument(
        "--layout",
        default="raw",
        help="the store of this layout (default raw)",
    )
    push.add_argument("--endpoint", help=ENDPOINT_HELP)
    push.add_argument(
        "--jobs", type=int, help="parallel uploads (default $NEURAL_DATASETS_PUSH_JOBS or 8)"
    )
    push.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _push(args: argparse.Namespace) -> int:
    from .fetching.push import push

    report = push(
        args.name,
        args.url,
        layout=args.layout,
        cache_dir=args.cache_dir,
        endpoint=args.endpoint,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print(
        f"{args.url}: published ({report.uploaded} objects uploaded, {report.skipped} already "
        f"in place, {report.bytes_sent} bytes sent); open it with ClickMe.open({args.url!r})"
    )
    if report.strays:
        print(
            f"neural-datasets: warning: {report.strays} object(s) under {args.url} are not part "
            f"of the store (left in place; `neural-datasets verify {args.url}` lists them)",
            file=sys.stderr,
        )
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
    "score": _score,
    "push": _push,
}

if __name__ == "__main__":
    sys.exit(main())
