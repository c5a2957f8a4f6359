"""Classifier architectures (and scattering hybrids of two of them), each with mixing points in the
spirit of timm's `forward_intermediates`.

Every classifier is a sequence of `blocks` followed by `pool` (to the penultimate features [B, D])
and a linear `head`. Mixing point k is the input of block k (0 = the image, 1 = after the first
block, ...): `forward(x, mix)` applies a `FeatureMix` there (Manifold MixUp, SynerMix),
`features(x)` gives the penultimate features (SynerMix-Intra, Cosine + CE), and
`forward_intermediates(x)` the hidden features at every mixing point.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from benchmark.errors import UserError
from benchmark.training.scattering import ScatteringStem

if TYPE_CHECKING:
    from benchmark.training.pipeline import FeatureMix


class Classifier(nn.Module):
    blocks: nn.ModuleList  # mixing point k is the input of blocks[k]
    head: nn.Linear

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's output -> penultimate features [B, D]."""
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    @property
    def mixing_points(self) -> int:
        return len(self.blocks)

    def features(self, x: torch.Tensor, mix: FeatureMix | None = None) -> torch.Tensor:
        for point, block in enumerate(self.blocks):
            if mix is not None and mix.point == point:
                x = mix(x)
            x = block(x)
        return self.pool(x)

    def forward(self, x: torch.Tensor, mix: FeatureMix | None = None) -> torch.Tensor:
        return self.head(self.features(x, mix))

    def forward_intermediates(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(penultimate features, the hidden features at every mixing point)."""
        hidden = []
        for block in self.blocks:
            hidden.append(x)
            x = block(x)
        return self.pool(x), hidden


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


def wide_group(cin: int, cout: int, n: int, stride: int, dropout: float) -> list[WideBlock]:
    return [WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1, dropout) for i in range(n)]


class WideResNet(Classifier):
    """WRN-depth-k for 32x32 inputs: 3 groups of (depth-4)/6 blocks, widths 16k/32k/64k, 8x8 pool.
    Mixing points: the input, after the first group, after the second, after the third.

    With `scattering`, the deep hybrid network of Oyallon et al.: the first conv and the first group
    are replaced by a ScatteringStem (J = 2: 8x8 maps of width 16k) and the other groups keep the
    8x8 resolution (stride 1)."""

    def __init__(self, depth: int, widen: int, num_classes: int, dropout: float = 0.3, scattering: bool = False):
        super().__init__()
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        if scattering:
            groups = [ScatteringStem(widths[1]), *(nn.Sequential(*wide_group(widths[g], widths[g + 1], n, 1, dropout))
                                                  for g in (1, 2))]
        else:
            stem = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
            groups = [nn.Sequential(stem, *wide_group(widths[0], widths[1], n, 1, dropout)),
                      *(nn.Sequential(*wide_group(widths[g], widths[g + 1], n, 2, dropout)) for g in (1, 2))]
        self.blocks = nn.ModuleList(groups)
        self.bn = nn.BatchNorm2d(widths[3])
        self.head = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return super().pool(F.relu(self.bn(x)))


class ResNet18CIFAR(Classifier):
    """torchvision ResNet-18 without weights, with the CIFAR stem of SynerMix's code: a 3x3 stride-1
    first conv and no max pooling. Mixing points: the input, after layer1, layer2, layer3."""

    def __init__(self, num_classes: int):
        super().__init__()
        net = torchvision.models.resnet18(weights=None, num_classes=num_classes)
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.blocks = nn.ModuleList([nn.Sequential(net.conv1, net.bn1, net.relu, net.layer1), net.layer2, net.layer3,
                                     net.layer4])
        self.head = net.fc


class ResNet18(Classifier):
    """torchvision ResNet-18 without weights, with its ImageNet stem (7x7 stride-2 conv, max pooling):
    SynerMix's model of the 224-px sets. Mixing points: the input, after layer1, layer2, layer3."""

    def __init__(self, num_classes: int):
        super().__init__()
        net = torchvision.models.resnet18(weights=None, num_classes=num_classes)
        self.blocks = nn.ModuleList([nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1), net.layer2,
                                     net.layer3, net.layer4])
        self.head = net.fc


class ResNet50(Classifier):
    """torchvision ResNet-50 without pretrained weights (STL-10, 96x96). Mixing points: the input,
    after layer1, layer2, layer3."""

    def __init__(self, num_classes: int):
        super().__init__()
        net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
        self.blocks = nn.ModuleList([nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1), net.layer2,
                                     net.layer3, net.layer4])
        self.head = net.fc


class SmallCNN(Classifier):
    """Three stride-2 conv blocks and a linear head: the `quick` profile's model (about 5 ms per
    CPU step at batch 10, 24k parameters). Mixing points: the input, after each block but the last.
    With `scattering` (32x32 inputs), a ScatteringStem to the second block's 8x8 maps replaces the
    first two blocks; its scattering has L = 4 orientations (25 coefficients per channel): at L = 8
    the transform alone costs about 6 ms of CPU per image, over a minute per demo run, at L = 4 about 1 ms."""

    def __init__(self, num_classes: int, width: int = 16, scattering: bool = False):
        super().__init__()
        blocks: list[nn.Module] = [ScatteringStem(2 * width, L=4)] if scattering else []
        cin = 2 * width if scattering else 3
        for cout in (width, 2 * width, 4 * width)[2 if scattering else 0:]:
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(cin, num_classes)


class TinyNet(Classifier):
    """One 3x3 conv with 8 channels and a linear head (314 parameters at 10 classes): its step
    costs next to nothing, so `perf` uses it to expose the host overhead around the model."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU())])
        self.head = nn.Linear(8, num_classes)


MODELS: dict[str, Callable[[int], Classifier]] = {
    "wrn-16-8": lambda c: WideResNet(16, 8, c, dropout=0.3),
    "wrn-16-4": lambda c: WideResNet(16, 4, c, dropout=0.3),
    "wrn-16-2": lambda c: WideResNet(16, 2, c, dropout=0.3),
    "wrn-16-1": lambda c: WideResNet(16, 1, c, dropout=0.3),
    "resnet50": ResNet50,
    "resnet18-cifar": ResNet18CIFAR,
    "resnet18": ResNet18,
    "cnn": SmallCNN,
    "tiny": TinyNet,
    "scattering-wrn-16-8": lambda c: WideResNet(16, 8, c, dropout=0.3, scattering=True),
    "scattering-cnn": lambda c: SmallCNN(c, scattering=True),
}


class CosineCEModel(nn.Module):
    """A classifier whose output is an embedding (Cosine + CE, methods/cosine.py), plus a
    classification head ReLU -> BatchNorm -> Linear on the L2-normalised embedding; `forward`
    gives the head's logits."""

    def __init__(self, embed: nn.Module, num_classes: int):
        super().__init__()
        self.embed = embed
        self.cls = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(num_classes), nn.Linear(num_classes, num_classes))

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(x)
        return emb, self.cls(F.normalize(emb, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.both(x)[1]


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
