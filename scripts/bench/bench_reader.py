"""Random-access read throughput and bytes on disk for candidate store layouts.

For each layout (codec x samples per shard) the same 256x256x3 uint8 images
(or 256x256 heatmaps) are written with zarr-python, then random batches of 64
are read with: our thread-free shard reader, tensorstore, and zarr-python's
default reader. Run by hand::

    python scripts/bench/bench_reader.py --json bench-data/reader.json

Reports samples/s (best of repeats; the machine is noisy) and the ratio to
zarr-python's default reader on the raw layout measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402

BATCH = 64


def layouts() -> list[tuple[str, list, int]]:
    from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
    return [
        ("raw, 64/shard", [], 64),
        ("raw, 256/shard", [], 256),
        ("raw, 1/file (no sharding)", [], 0),
        ("raw + crc32c codec, 64/shard", [Crc32cCodec()], 64),
        ("blosc-lz4, 64/shard", [lz4], 64),
        ("zstd-1, 64/shard", [ZstdCodec(level=1)], 64),
        ("zstd-3, 64/shard", [ZstdCodec(level=3)], 64),
    ]


def write(data: np.ndarray, path: Path, compressors: list, per_shard: int) -> int:
    import zarr

    shutil.rmtree(path, ignore_errors=True)
    chunks = (1, *data.shape[1:])
    arr = zarr.create_array(
        store=str(path),
        shape=data.shape,
        dtype=data.dtype,
        chunks=chunks,
        shards=(per_shard, *data.shape[1:]) if per_shard else None,
        compressors=compressors or None,
        fill_value=0,
    )
    arr[:] = data
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def readers(path: Path) -> dict:
    import tensorstore as ts
    import zarr

    from neural_datasets.storage.reader import ShardedArray, UnsupportedLayout

    out = {}
    try:
        ours = ShardedArray(path)
        out["neural-datasets shard reader"] = ours.take
    except (UnsupportedLayout, ValueError):
        pass
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "context": {"cache_pool": {"total_bytes_limit": 0}},
    }
    handle = ts.open(spec, read=True).result()
    out["tensorstore"] = lambda idx: handle[np.sort(idx)].read().result()
    z = zarr.open_array(str(path), mode="r")
    out["zarr-python"] = lambda idx: z.oindex[np.sort(idx)]
    return out


def throughput(read, n: int, seconds: float, rng: np.random.Generator) -> float:
    read(rng.choice(n, BATCH, replace=False))  # warm-up: page cache, shard indexes
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            read(rng.choice(n, BATCH, replace=False))
            done += BATCH
        best = max(best, done / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=1.0, help="per repeat")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import neural_datasets as nd

    source = nd.ClickMe.open(benchdata.store(args.samples))
    arrays = {
        "image": source.images.take(np.arange(len(source))),
        "heatmap": source.heatmaps.take(np.arange(len(source))),
    }
    work = benchdata.DEFAULT_ROOT / "layouts"
    rng = np.random.default_rng(0)
    rows = []
    for array_name, data in arrays.items():
        for label, compressors, per_shard in layouts():
            if array_name == "heatmap" and "crc32c" in label:
                continue
            path = work / f"{array_name}-{len(rows)}"
            size = write(data, path, compressors, per_shard)
            for reader, read in readers(path).items():
                if reader == "zarr-python" and per_shard == 256:
                    continue  # slow and says nothing new
                rate = throughput(read, len(data), args.seconds, rng)
                rows.append(
                    {
                        "array": array_name,
                        "layout": label,
                        "reader": reader,
                        "samples_per_s": rate,
                        "kb_per_sample": size / len(data) / 1024,
                    }
                )
                print(
                    f"{array_name:8s} {label:32s} {reader:30s} {rate:9.0f}/s "
                    f"{size / len(data) / 1024:7.1f} KB",
                    file=sys.stderr,
                )
            shutil.rmtree(path)
    baseline = {
        r["array"]: r["samples_per_s"]
        for r in rows
        if r["reader"] == "zarr-python" and r["layout"] == "raw, 64/shard"
    }
    print("\n| array | layout | reader | samples/s | x zarr-python default | KB/sample on disk |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for r in rows:
        r["ratio_to_zarr_python"] = r["samples_per_s"] / baseline[r["array"]]
        print(
            f"| {r['array']} | {r['layout']} | {r['reader']} | {r['samples_per_s']:,.0f} | "
            f"{r['ratio_to_zarr_python']:.1f}x | {r['kb_per_sample']:.1f} |"
        )
    benchdata.write_results(args.json, batch=BATCH, samples=args.samples, rows=rows)


if __name__ == "__main__":
    main()
