"""The plug-in's ``SPECS``: a ClickMe-format dataset of its own (the bundled sample's files)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from neural_datasets.datasets.clickme.spec import SAMPLE_FOLDER, shard_spec
from neural_datasets.datasets.spec import apply_pins

LAB_CLICKME = replace(
    shard_spec(
        "lab-clickme",
        SAMPLE_FOLDER.as_uri(),  # a real plug-in points at its own server or bundled files
        ["clickme-sample-0.tfrecords", "clickme-sample-1.tfrecords"],
        split="lab",
        description="A lab's ClickMe-format heatmaps (here: the bundled sample's shards).",
    ),
    samples=48,
    license="CC0 (example)",
    homepage="https://example.org/lab-clickme",
    bibtex="@misc{lab2026clickme,\n  title = {Lab ClickMe maps},\n  year = {2026}\n}\n",
)

SPECS = apply_pins((LAB_CLICKME,), Path(__file__).with_name("checksums.tsv"))
