"""Run every benchmark in one session and write BENCHMARKS.md and its chart.

    python scripts/bench/run_all.py            # ~10 minutes on 2 cores

Each benchmark script prints markdown tables and writes JSON under
``bench-data/``; this driver runs them one after another on the same machine,
copies their tables into BENCHMARKS.md under the section text below, and draws
``docs/loader-throughput.png`` from the loader results. Numbers on a shared
2-core machine are noisy: read the ratios, which every script measures within
one run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402

HERE = Path(__file__).parent
REPO = HERE.parents[1]
RESULTS = benchdata.DEFAULT_ROOT
CHART = REPO / "docs" / "loader-throughput.png"

SECTIONS = [
    (
        "loaders",
        "Loaders: shuffled uint8 batches",
        "bench_loaders.py",
        "The same >= 2,000 natural-image ClickMe records, read in shuffled batches of 64 by each "
        "pipeline in one run: (a) the Harmonization package's tf.data pipeline over the TFRecord "
        "shards (decode JPEG, resize, blur, one-hot); (b) the per-sample path of the lab's PyTorch "
        "code (PIL decode, heatmap stacked as a 4th channel, per-sample transforms, default "
        "collate); (c) our PyTorch loader; (d) our tf.data dataset; (e) the ceiling, the same "
        "bytes gathered from memory with NumPy. (a) and (b) include their per-sample resize/blur "
        "work because that is the cost those pipelines impose on every sample; our loaders hand "
        "over uint8 batches and leave augmentation to the batched GPU/CPU step below. Peak RSS is "
        "measured in a fresh process while iterating two epochs over the data at 1x and 4x. "
        "`num_workers=N` reads with N threads for ClickMe (it declares itself thread-safe): a "
        "batch reaches the training loop without a copy, where worker processes (c2p) copy each "
        "16 MB batch through shared memory, dearer than the read itself. Threads share the GIL "
        "with the training loop for the reader's per-sample Python work, so on 2 busy cores they "
        "add little to the raw layout; they pay off with the compact layout, whose JPEG decoding "
        "releases the GIL. The (k) rows read the compact layout, whose limit is JPEG decoding "
        "(see Store layouts). The (g) rows, end to end to CUDA tensors with GPU augmentation, "
        "appear only when a GPU is present; they are in the GPU section above, from "
        "`scripts/bench/gpu.sh` on an H200.",
    ),
    (
        "layouts",
        "Store layouts: raw and compact",
        "bench_layouts.py",
        "The same records in each ClickMe layout: `raw` stores decoded pixels (one sample per "
        "chunk, uncompressed), `compact` the published JPEG bytes unchanged (ragged byte arrays, "
        "crc32c per item), decoded on every read by a pool of threads with the raw conversion's "
        "decoder (identical pixels). The decode rows show simplejpeg releasing the GIL: N "
        "threads decode about N times as fast as one. Defaults: `clickme-train` compact (its raw "
        "store would be ~12x the download, tens of GB; decoding keeps up with a GPU given a few "
        "cores per GPU, or decodes on the GPU with `loader(..., device='cuda')`), `clickme-val` "
        "and the sample raw (small, read often: raw is several times faster). Heatmaps stay "
        "uncompressed in the raw layout: blosc-lz4 halves them (64 to 27 KB, 14 % of a sample) "
        "but reads them 4x slower (Reader table), which would halve a raw batch read. GPU decode "
        "(nvJPEG): see the GPU section above.",
    ),
    (
        "reader",
        "Reader: store layouts",
        "bench_reader.py",
        "Random batches of 64 samples from the same images and heatmaps written in each candidate "
        "layout, read by our thread-free shard reader, tensorstore and zarr-python's default "
        "reader. The store uses one sample per chunk, 64 chunks per shard, uncompressed: "
        "compression saves at most 17 % of a sample's bytes and costs 2-4x in read speed, and a "
        "crc32c codec in the chunk chain halves tensorstore's reads (we keep per-chunk crc32c "
        "sidecars for `verify` instead).",
    ),
    (
        "augment",
        "Augmentation: batched vs per-sample",
        "bench_augment.py",
        "Batch 256 of 256x256 uint8 images and heatmaps to 224x224 with random resized crops, "
        "flips and rotations, each preset against a per-sample CPU baseline doing the same work "
        "(heatmap stacked as a fourth channel, transforms one sample at a time; + heatmap blur "
        "for `default`; + colour jitter with the same pixel math, normalisation and heatmap "
        "max-norm for `full`). Batching wins on the CPU because one resampling serves the whole "
        "batch and the per-sample path pays thousands of small multi-threaded ops; the colour "
        "math is memory-bound in both. The script prints the devices it found; this run had no "
        "GPU: the CUDA rows (target: >= 50,000 samples/s on an H100/H200) are in the GPU section "
        "above.",
    ),
    (
        "convert",
        "Conversion: TFRecord shards to the store",
        "bench_convert.py",
        "Conversion of the benchmark shards from scratch into the raw layout, with 1 decoding "
        "thread and one per core (threads of the calling process: no worker processes, so "
        "nothing re-imports the user's script), against the JPEG decode limit measured first in "
        "the same run (image + heatmap; Pillow as the issue's reference, and simplejpeg, which "
        "the converter uses). JPEG decoding (libjpeg-turbo, TensorFlow's settings) and raw disk "
        "writes dominate; memory is bounded by one unit of 128 samples per thread.",
    ),
    (
        "s3",
        "Object stores: S3 on 127.0.0.1 against local disk",
        "bench_s3.py",
        "The bundled 48-sample ClickMe store pushed with `nd.push` to moto's S3 server on "
        '127.0.0.1, then shuffled batches of 16 read through `ClickMe.open("s3://...")` and '
        "from the local store, 3 epochs x 3 rounds, medians, with checksum-on-read `off`, "
        '`once` (the default) and `always`, and with `cache="local"` (the first epoch fetches '
        "whole shards, each checked against the manifest; later epochs read them from disk). "
        "moto is a Python server in the reading process, so the server is the limit; real "
        "object stores serve range requests far faster.",
    ),
    (
        "training",
        "Harmonized training: harmonizer loss vs cross-entropy",
        "bench_training.py",
        "One training step (forward, loss, backward, SGD update) of the same tiny CNN (conv 16, "
        "batch norm, ReLU, conv 16, ReLU, global average pooling, 1000 logits) on the same batch "
        "(16 images of 64x64), one intra-op thread per framework, TF steps in `tf.function`: "
        "plain cross-entropy against the harmonizer loss (`neural_datasets.harmonize`), whose "
        "saliency needs a second-order graph, and against the restatement of the Harmonization "
        "package's `harmonizer_loss` (`tests/support/upstream_harmonizer.py`; the package is "
        "Keras-2 code that cannot be installed beside our TensorFlow). CUDA rows appear when a "
        "GPU is present.",
    ),
    (
        "pls",
        "IT predictivity: PLS per layer",
        "bench_pls.py",
        "One layer of the neural-harmonizer IT protocol at realistic sizes (George's 17x17 grid: "
        "14 images, leave one out, 700 features, 30 sites, 25 PLS components, synthetic values): "
        "upstream's loop of scikit-learn `PLSRegression(25, scale=False, tol=1e-4)` fits (timed "
        "on 2 folds, scaled to 14) against `neural_datasets.metrics.it_predictivity`, which "
        "computes every fold's PLS from shared moments, batched, exactly (default) or with "
        "scikit-learn's power iteration at `tol=1e-4` (the same numbers to 1e-15).",
    ),
    (
        "scores",
        "Scores: ClickMe alignment",
        "bench_scores.py",
        "The ClickMe scores (Spearman, Dice and IoU of each map) of the same 256 maps of 224x224: "
        "(a) the Harmonization package's metrics as published, restated (per-image "
        "`scipy.stats.spearmanr`, then `np.percentile` thresholds of both maps for Dice and again "
        "for IoU); (b), (c) `neural_datasets.metrics.clickme_scores`, which sorts each map once "
        "as packed (value, pixel) keys for the ranks and the threshold Dice and IoU share, on 1 "
        "thread and on one per CPU. Heatmaps are quantised to 256 levels (ties) as ClickMe's are. "
        "The results are checked equal to (a) first; the BLAS thread setting is left at its "
        "default (scipy's correlation uses BLAS; ours does not).",
    ),
]


def run(script: str, key: str) -> list[str]:
    """Run one benchmark; return the markdown table lines it printed."""
    out = RESULTS / f"{key}.json"
    print(f"running {script} ...", file=sys.stderr, flush=True)
    result = subprocess.run(
        [sys.executable, str(HERE / script), "--json", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    return [line for line in lines if line.startswith("|") or not line.strip()]


def chart(results: Path, target: Path) -> None:
    """Horizontal bars of loader samples/s, annotated with the ratio to (a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results.read_text())
    rates, names = data["samples_per_s"], data["pipelines"]
    keys = [k for k in names if k in rates]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(keys) + 1.2))
    bars = ax.barh(
        [f"({k}) {names[k]}" for k in keys],
        [rates[k] for k in keys],
        color=["#888" if k in ("a", "b0", "b2") else "#2b7bba" for k in keys],
    )
    for bar, key in zip(bars, keys):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {rates[key]:,.0f}/s ({rates[key] / rates['a']:.1f}x a)",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("samples/s (log scale), shuffled batches of 64")
    ax.set_title(f"Loader throughput on {data['cpus']} CPU cores, same data, one run")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)


def checksum_on_read(results: Path) -> list[str]:
    """The checksum-on-read section: its three modes from the loader run, as per-round ratios."""
    import statistics

    rounds = json.loads(results.read_text())["rounds"]
    off = rounds["c0u"]
    rows = [("`off` (c0u)", "c0u"), ("`always`: every read (c0a)", "c0a")]
    rows.append(("`once`: first read per process (c0, the default)", "c0"))
    lines = [
        "## Checksum-on-read",
        "",
        "Each sample's chunk is checked against the crc32c recorded at conversion "
        "(`checksums/<array>`), in three modes measured in the loader run above (PyTorch loader, "
        "0 workers; ratios per round, then the median). Decision rule: a mode costing under 10 % "
        "may be the default. `once` is the default (docs/integrity.md).",
        "",
        "| mode | samples/s (median) | ratio to `off` (median per round) |",
        "|---|---:|---:|",
    ]
    for label, key in rows:
        ratio = statistics.median(x / y for x, y in zip(rounds[key], off))
        lines.append(f"| {label} | {statistics.median(rounds[key]):,.0f} | {ratio:.2f} |")
    return [*lines, ""]


def headline(results: Path) -> list[str]:
    """The summary lines quoted at the top of BENCHMARKS.md and in the README."""
    data = json.loads(results.read_text())
    rate = data["samples_per_s"]
    rss = data.get("rss_bytes", {}).get("c0", {})
    sizes = sorted(rss, key=int)
    flat = (
        f" Peak RSS of the PyTorch loader: {rss[sizes[0]]['peak'] / 2**20:,.0f} MiB at "
        f"{sizes[0]} samples, {rss[sizes[-1]]['peak'] / 2**20:,.0f} MiB at {sizes[-1]}."
        if len(sizes) > 1
        else ""
    )
    return [
        f"**Headline:** shuffled uint8 batches from our PyTorch loader at "
        f"**{rate['c0'] / rate['a']:.1f}x** and from our tf.data dataset at "
        f"**{rate['d'] / rate['a']:.1f}x** the samples/s of the Harmonization package's tf.data "
        f"TFRecord pipeline, and {rate['c0'] / rate['b0']:.0f}x the per-sample PyTorch path, on "
        f"the same data in the same run.{flat}",
        "",
    ]


# Sections written by hand, kept from the current BENCHMARKS.md when it is regenerated: the
# targets' status (judged, not measured) and figures from machines this script does not run on.
KEPT_SECTIONS = ("## Performance targets", "## GPU:")


def kept_sections(path: Path) -> list[str]:
    """The lines of ``path``'s hand-written sections (``KEPT_SECTIONS``), in their order."""
    if not path.exists():
        return []
    kept: list[str] = []
    keeping = False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            keeping = line.startswith(KEPT_SECTIONS)
        if keeping:
            kept.append(line)
    return kept


def main() -> None:
    started = time.strftime("%Y-%m-%d")
    by_hand = kept_sections(REPO / "BENCHMARKS.md")
    machine = benchdata.machine()
    body = [
        "# Benchmarks",
        "",
        f"Measured {started} on {machine['cpus']} CPU cores ({machine['processor']}, "
        f"{machine['platform']}, Python {machine['python']}), a shared and noisy machine: compare "
        "the ratios, which each benchmark measures within one run, not the absolute numbers.",
        "Regenerate everything with `python scripts/bench/run_all.py` (writes this file, "
        "`docs/loader-throughput.png` and JSON under `bench-data/`).",
        "",
    ]
    for key, title, script, text in SECTIONS:
        table = run(script, key)
        if key == "loaders":
            body[5:5] = headline(RESULTS / "loaders.json")
            body += by_hand  # before the tables they refer to
        body += [
            f"## {title}",
            "",
            text,
            "",
            f"Command: `python scripts/bench/{script}`",
            "",
            *table,
            "",
        ]
        if key == "loaders":
            chart(RESULTS / "loaders.json", CHART)
            body += [f"![Loader throughput]({CHART.relative_to(REPO).as_posix()})", ""]
            body += checksum_on_read(RESULTS / "loaders.json")
    (REPO / "BENCHMARKS.md").write_text("\n".join(body).rstrip() + "\n")
    print("wrote BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
