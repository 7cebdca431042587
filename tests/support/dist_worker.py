"""One rank of the two-rank loader test, launched by ``torch.distributed.run`` (gloo, CPU).

Reads two epochs of the bundled ClickMe sample through ``neural_datasets.torch.loader``
in each configuration of ``CONFIGS`` and writes the sample index of every image it
received (identified by its bytes), per configuration, epoch and batch, to
``<out>/rank<r>.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch.distributed as dist

import neural_datasets as nd
from neural_datasets.torch import loader

# name: (batch size, drop_last, workers); the worker forks after this process has read.
CONFIGS = {"drop": (5, True, 0), "pad": (7, False, 1)}


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    clickme = nd.ClickMe("sample", progress=False)
    index_of = {
        _digest(image): i
        for i, image in enumerate(clickme.read_batch(range(len(clickme)))["image"])
    }
    seen = {}
    for name, (batch_size, drop_last, workers) in CONFIGS.items():
        batches = loader(clickme, batch_size, seed=3, drop_last=drop_last, num_workers=workers)
        seen[name] = []
        for epoch in range(2):
            batches.set_epoch(epoch)
            nhwc = (b["image"].permute(0, 2, 3, 1).numpy() for b in batches)
            seen[name].append([[index_of[_digest(image)] for image in batch] for batch in nhwc])
    (out / f"rank{dist.get_rank()}.json").write_text(json.dumps(seen))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
