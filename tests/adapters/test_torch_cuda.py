"""``loader(..., device="cuda")`` on a real GPU: raw stores copied, compact stores nvJPEG-decoded.

Skipped without CUDA (CI has none); ``scripts/bench/gpu.sh`` runs it on a GPU machine.
"""

from __future__ import annotations

import pytest
import torch

import neural_datasets as nd
from neural_datasets.torch import loader

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

BATCH = 16


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cuda-cache"))


def _epoch(ds: nd.ClickMe, **options: object) -> list[dict[str, torch.Tensor]]:
    batches = loader(ds, BATCH, seed=5, **options)
    batches.set_epoch(1)
    return list(batches)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_raw_batches_arrive_on_the_gpu_unchanged(cache: str, num_workers: int) -> None:
    ds = nd.ClickMe("sample", cache_dir=cache, layout="raw", progress=False)
    on_gpu = _epoch(ds, device="cuda", num_workers=num_workers)
    on_cpu = _epoch(ds, num_workers=num_workers)
    assert len(on_gpu) == len(on_cpu) == 3
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        assert gpu.keys() == cpu.keys()
        for key in cpu:
            assert gpu[key].device.type == "cuda"
            assert torch.equal(gpu[key].cpu(), cpu[key])
        assert gpu["image"].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_compact_images_are_decoded_on_the_gpu_close_to_the_cpu_decoder(
    cache: str, num_workers: int
) -> None:
    pytest.importorskip("torchvision")
    ds = nd.ClickMe("sample", cache_dir=cache, layout="compact", progress=False)
    on_gpu = _epoch(ds, device="cuda", num_workers=num_workers)
    on_cpu = _epoch(ds, num_workers=num_workers)  # simplejpeg, the raw conversion's decoder
    assert len(on_gpu) == len(on_cpu) == 3
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        for key in ("label", "heatmap"):  # heatmaps are decoded on the CPU: exact
            assert gpu[key].device.type == "cuda"
            assert torch.equal(gpu[key].cpu(), cpu[key]), key
        got, want = gpu["image"], cpu["image"]
        assert (got.device.type, got.dtype, got.shape) == ("cuda", torch.uint8, want.shape)
        assert got.is_contiguous(memory_format=torch.channels_last)
        diff = (got.cpu().int() - want.int()).abs().flatten().float()
        stats = {
            "mean": diff.mean().item(),
            "p99": diff.quantile(0.99).item(),
            "max": diff.max().item(),
            "share_over_16": (diff > 16).float().mean().item(),
        }
        # nvJPEG's IDCT and chroma upsampling differ from libjpeg-turbo's (the CPU decoder)
        # by a few levels on most pixels and by tens (58 seen) at a few sharp colour edges
        # (BENCHMARKS.md, Store layouts); a swapped channel, sample or orientation would
        # differ by tens of levels on average and on most pixels.
        assert stats["mean"] < 2.0, stats
        assert stats["share_over_16"] < 0.01, stats
