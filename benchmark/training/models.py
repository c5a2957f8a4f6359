"""Classifier architectures. Every model has `features(x) -> [B, D]` and a linear `head`, so that
methods can work on penultimate features (SynerMix) or replace the head (Cosine + CE)."""
from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from benchmark.errors import UserError


class Classifier(nn.Module, ABC):
    head: nn.Linear

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class WideBlock(nn.Module):
    """Pre-activation wide residual block (Zagoruyko & Komodakis), dropout between the convs."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(o)
        y = self.conv1(o)
        y = F.relu(self.bn2(y))
        if self.dropout > 0:
            y = F.dropout(y, self.dropout, self.training)
        return skip + self.conv2(y)


class WideResNet(Classifier):
    """WRN-depth-k for 32x32 inputs: 3 groups of (depth-4)/6 blocks, widths 16k/32k/64k, 8x8 pool."""

    def __init__(self, depth: int, widen: int, num_classes: int, dropout: float = 0.3):
        super().__init__()
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        blocks = []
        for g in range(3):
            for i in range(n):
                cin = widths[g] if i == 0 else widths[g + 1]
                blocks.append(WideBlock(cin, widths[g + 1], (1 if g == 0 else 2) if i == 0 else 1, dropout))
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(widths[3])
        self.head = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.blocks(self.conv(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class ResNet50(Classifier):
    """torchvision ResNet-50 without pretrained weights (STL-10, 96x96)."""

    def __init__(self, num_classes: int):
        super().__init__()
        net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
        self.head = net.fc
        net.fc = nn.Identity()
        self.body = net

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SmallCNN(Classifier):
    """Three stride-2 conv blocks and a linear head: the `quick` profile's model (about 5 ms per
    CPU step at batch 10, 24k parameters)."""

    def __init__(self, num_classes: int, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TinyNet(Classifier):
    """One 3x3 conv with 8 channels and a linear head (314 parameters at 10 classes): its step
    costs next to nothing, so `perf` uses it to expose the host overhead around the model."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1)
        self.head = nn.Linear(8, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x)).mean((2, 3))


MODELS: dict[str, Callable[[int], Classifier]] = {
    "wrn-16-8": lambda c: WideResNet(16, 8, c, dropout=0.3),
    "wrn-16-4": lambda c: WideResNet(16, 4, c, dropout=0.3),
    "wrn-16-2": lambda c: WideResNet(16, 2, c, dropout=0.3),
    "wrn-16-1": lambda c: WideResNet(16, 1, c, dropout=0.3),
    "resnet50": ResNet50,
    "cnn": SmallCNN,
    "tiny": TinyNet,
}


def build_model(name: str, num_classes: int) -> Classifier:
    if name not in MODELS:
        raise UserError(f"unknown model '{name}'; valid: {', '.join(MODELS)}")
    return MODELS[name](num_classes)


@functools.cache
def cpu_computes_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16, AMX)."""
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def bf16_autocast(device: torch.device, native_cpu: bool = False) -> torch.autocast:
    """bf16 autocast on CUDA; with `native_cpu` also on CPUs that compute bf16 natively, where the
    generator's inference is about 3x faster than in fp32. Training on a CPU stays in fp32."""
    enabled = device.type == "cuda" or (native_cpu and device.type == "cpu" and cpu_computes_bf16())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
