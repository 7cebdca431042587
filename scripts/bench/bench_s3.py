"""Shuffled-batch read throughput from an S3 API on 127.0.0.1 against the same store on disk.

The bundled ClickMe sample (48 records) is pushed with ``neural_datasets.push``
to moto's S3 server started on 127.0.0.1 (``moto[server]``, a dev extra), then
read by ``ClickMe.open("s3://...")`` in shuffled batches of 16, epoch after
epoch, with checksum-on-read ``off``, ``once`` (the default) and ``always``,
and with the local chunk cache (``cache="local"``: epoch 1 fetches the
shards, later epochs read them from disk); the local store is read the same
way in the same run::

    python scripts/bench/bench_s3.py --json bench-data/s3.json

moto is a Python server in this process: it shares the GIL and the cores with
the reader, so the S3 numbers are the server's limit, not tensorstore's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2] / "tests"))
import benchdata  # noqa: E402
from support.s3server import LocalS3Server, s3_environment  # noqa: E402

BATCH, EPOCHS, ROUNDS = 16, 3, 3


def samples_per_s(dataset: object, check: str) -> list[float]:
    """Samples/s of each epoch (the first includes the sidecar fetch and first checks)."""
    from neural_datasets.adapters.sampling import EpochPlan

    for array in (dataset.images, dataset.heatmaps):  # type: ignore[attr-defined]
        array.check = check
    plan = EpochPlan(len(dataset), BATCH, seed=0)  # type: ignore[arg-type]
    rates = []
    for epoch in range(EPOCHS):
        start = time.perf_counter()
        for indices in plan.batches(epoch):
            dataset.read_batch(indices)  # type: ignore[attr-defined]
        rates.append(plan.samples_per_rank / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["NEURAL_DATASETS_HOME"] = str(tmp / "cache")
    with LocalS3Server() as s3:
        os.environ.update(s3_environment(s3.endpoint, tmp / "aws"))
        s3.create_bucket("bench")
        import neural_datasets as nd

        local = nd.ClickMe("sample", progress=False)
        url = "s3://bench/clickme-sample/store.zarr"
        start = time.perf_counter()
        nd.push(local.location, url, progress=False)
        push_s = time.perf_counter() - start
        results: dict[str, list[list[float]]] = {}
        for _ in range(ROUNDS):
            for name, location in (("local", local.location), ("s3", url)):
                for check in ("off", "once", "always"):
                    rates = samples_per_s(nd.ClickMe.open(location), check)
                    results.setdefault(f"{name} {check}", []).append(rates)
            cached = nd.ClickMe.open(url, cache="local")  # a fresh cache folder each round
            rates = samples_per_s(cached, "once")
            shutil.rmtree(cached.shard_cache.folder)
            results.setdefault("s3 once, cache='local'", []).append(rates)
    print(f"| push of the 48-sample store (12.6 MB) to the server | {push_s:.1f} s |")
    print("|---|---:|")
    print()
    print("| reader, check | epoch 1 samples/s | later epochs samples/s | ratio to local off |")
    print("|---|---:|---:|---:|")
    base = np.median([r[1:] for r in results["local off"]])
    for key, runs in results.items():
        first, later = np.median([r[0] for r in runs]), np.median([r[1:] for r in runs])
        print(f"| {key} | {first:,.0f} | {later:,.0f} | {later / base:.3f} |")
    benchdata.write_results(args.json, push_s=push_s, samples_per_s_by_epoch=results)


if __name__ == "__main__":
    main()
