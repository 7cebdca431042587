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
def test_compact_batches_are_decoded_on_the_gpu_close_to_the_cpu_decoder(
    cache: str, num_workers: int
) -> None:
    pytest.importorskip("torchvision")
    ds = nd.ClickMe("sample", cache_dir=cache, layout="compact", progress=False)
    on_gpu = _epoch(ds, device="cuda", num_workers=num_workers)
    on_cpu = _epoch(ds, num_workers=num_workers)  # simplejpeg, the raw conversion's decoder
    assert len(on_gpu) == len(on_cpu) == 3
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        assert torch.equal(gpu["label"].cpu(), cpu["label"])
        for key in ("image", "heatmap"):
            got, want = gpu[key], cpu[key]
            assert (got.device.type, got.dtype, got.shape) == ("cuda", torch.uint8, want.shape)
            assert got.is_contiguous(memory_format=torch.channels_last)
            diff = (got.cpu().int() - want.int()).abs()
            # nvJPEG's IDCT and upsampling differ from libjpeg-turbo's fast integer DCT by a
            # few levels on some pixels (BENCHMARKS.md, Store layouts); a swapped channel,
            # sample or orientation would differ by tens of levels on average.
            assert diff.float().mean() < 2.0, key
            assert diff.max() <= 48, key
