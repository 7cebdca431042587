"""Conversion throughput and peak memory against the JPEG decode limit, in one run.

First measures the decode limit: decoding every record's image and heatmap
(Pillow, as the issue's reference, and simplejpeg, which the converter uses)
on one thread, times the usable cores, and with one thread per core. Then
converts the benchmark shards from scratch with 1 thread and one thread per
core, reporting samples/s, the ratio to the Pillow limit and the peak RSS.
Run by hand::

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


def decode_rates(paths: list[Path], threads: int) -> dict[str, float]:
    """Samples/s decoding image + heatmap of every record with ``threads`` threads."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import simplejpeg
    from PIL import Image

    from neural_datasets.datasets.clickme.records import decode_clickme_example
    from neural_datasets.formats.tfrecord import iter_records

    records = [decode_clickme_example(r) for p in paths for r in iter_records(p)]

    def pillow(rows: list) -> None:
        for image, heatmap, _ in rows:
            np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
            np.asarray(Image.open(io.BytesIO(heatmap)).convert("L"))

    def turbo(rows: list) -> None:
        for image, heatmap, _ in rows:
            simplejpeg.decode_jpeg(image, colorspace="RGB", fastdct=True, fastupsample=False)
            simplejpeg.decode_jpeg(heatmap, colorspace="GRAY", fastdct=True, fastupsample=False)

    rates = {}
    for name, decode in (("pillow", pillow), ("simplejpeg", turbo)):
        parts = [records[i::threads] for i in range(threads)]
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(decode, parts))
        rates[name] = len(records) / (time.perf_counter() - start)
    return rates


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
    from neural_datasets.datasets.clickme.convert import _usable_cpus

    cores = _usable_cpus()
    paths = benchdata.shards(args.samples)
    one, many = decode_rates(paths, 1), decode_rates(paths, cores)
    limit = one["pillow"] * cores
    print(f"decode limit (image + heatmap, {args.samples} records, {cores} cores)\n")
    print("| decoder | 1 thread | 1 thread x cores | one thread per core |")
    print("| --- | ---: | ---: | ---: |")
    for name in one:
        print(f"| {name} | {one[name]:,.0f}/s | {one[name] * cores:,.0f}/s | {many[name]:,.0f}/s |")
    rows = []
    for workers in sorted({1, cores}):
        elapsed, peak = convert_once(paths, benchdata.DEFAULT_ROOT / "convert-tmp", workers)
        rows.append(
            {
                "threads": workers,
                "samples_per_s": args.samples / elapsed,
                "of_pillow_limit": args.samples / elapsed / limit,
                "seconds": elapsed,
                "peak_rss_mb": peak / 2**20,
            }
        )
    print(f"\nconversion (raw layout; Pillow limit {limit:,.0f}/s = 1 thread x {cores} cores)\n")
    print("| threads | samples/s | of the Pillow limit | seconds | peak RSS |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['threads']} | {r['samples_per_s']:,.0f} | {r['of_pillow_limit']:.0%} | "
            f"{r['seconds']:.1f} | {r['peak_rss_mb']:,.0f} MB |"
        )
    benchdata.write_results(
        args.json,
        samples=args.samples,
        cores=cores,
        decode_one_thread=one,
        decode_all_threads=many,
        pillow_limit=limit,
        rows=rows,
    )


if __name__ == "__main__":
    main()
