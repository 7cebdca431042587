"""Conversion throughput and peak memory: TFRecord shards -> our zarr store.

Converts the benchmark shards from scratch (a fresh cache each run) with 1 and
2 worker processes and reports samples/s and the peak RSS of the converting
process tree. Run by hand::

    python scripts/bench/bench_convert.py --json bench-data/convert.json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402


class PeakRSS:
    """Sample the RSS of this process and its children every 20 ms; keep the peak."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self.process, *self.process.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def convert_once(paths: list[Path], out: Path, workers: int) -> tuple[float, int]:
    from neural_datasets.datasets.clickme import convert as clickme
    from neural_datasets.datasets.clickme.spec import shard_spec

    spec = shard_spec("bench", paths[0].parent.as_uri(), [p.name for p in paths], split="bench")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with PeakRSS() as rss:
        start = time.perf_counter()
        clickme.convert(spec, {p.name: p for p in paths}, out, progress=False, workers=workers)
        elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    paths = benchdata.shards(args.samples)
    rows = []
    for workers in (1, 2):
        elapsed, peak = convert_once(paths, benchdata.DEFAULT_ROOT / "convert-tmp", workers)
        rows.append(
            {
                "workers": workers,
                "samples_per_s": args.samples / elapsed,
                "seconds": elapsed,
                "peak_rss_mb": peak / 2**20,
            }
        )
    print("| worker processes | samples/s | seconds | peak RSS (all processes) |")
    print("| ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['workers']} | {r['samples_per_s']:,.0f} | {r['seconds']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} MB |"
        )
    benchdata.write_results(args.json, samples=args.samples, rows=rows)


if __name__ == "__main__":
    main()
