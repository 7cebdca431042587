"""A tiny PyTorch CNN and batch for the harmonizer-loss tests (also run by their scripts)."""


def tiny_torch_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 5),
    )


def torch_batch():
    import torch

    generator = torch.Generator().manual_seed(1)
    images = torch.rand(4, 3, 12, 12, generator=generator)
    heatmaps = torch.rand(4, 1, 12, 12, generator=generator)
    return images, torch.tensor([0, 1, 2, 3]), heatmaps
