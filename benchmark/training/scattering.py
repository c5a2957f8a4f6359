"""The fixed 2D scattering transform of kymatio's `Scattering2D` (order 2, J scales, L orientations),
with kymatio's own Morlet filter bank, computed as a few batched FFT products.

kymatio runs one small FFT product per scattering path (about 400 tensor ops for J = 2, L = 8);
here each order and scale is one batched product, so a forward pass is a few dozen ops on any device.
The result equals kymatio's (tests/test_scattering.py compares them to 1e-5). As in kymatio: the
image is reflect-padded to kymatio's padded size, every filter is applied in the Fourier domain,
subsampling by k is the mean over the k x k blocks of the spectrum, and the output drops one pixel
at each border. A colour image gives 1 + LJ + L^2 J(J-1)/2 coefficients per channel (81 at J = 2,
L = 8), each of size H / 2^J x W / 2^J.

kymatio 0.3.0 is imported from its filter-bank module: `kymatio.torch` also imports its 3D
scattering, whose filter bank needs `scipy.special.sph_harm`, removed in SciPy 1.17.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def coefficients(J: int, L: int) -> int:
    """Scattering coefficients per input channel: order 0, order 1 and order 2 (j2 > j1) paths."""
    return 1 + L * J + L * L * J * (J - 1) // 2


def filter_periodized(u: torch.Tensor, filters: torch.Tensor, k: int) -> torch.Tensor:
    """u [N, X, m, m] (spectra) times each of filters [F, m, m], subsampled by k in space: the sum
    over the k x k blocks of each product (the filters carry the 1/k^2 of the mean), [N, X, F, m/k, m/k]."""
    if k == 1:
        return u[:, :, None] * filters
    n, x, m, _ = u.shape
    a = m // k
    return torch.einsum("nxiajb,fiajb->nxfab", u.reshape(n, x, k, a, k, a), filters.reshape(-1, k, a, k, a))


class Scattering2D(nn.Module):
    """[B, C, H, W] -> [B, C, K, H/2^J, W/2^J], K = coefficients(J, L), in kymatio's path order:
    order 0; order 1 by (j1, theta1); order 2 by (j1, theta1), then (j2, theta2) with j2 > j1."""

    chunk = 32  # images per transform

    def __init__(self, J: int, size: int, L: int = 8):
        super().__init__()
        from kymatio.scattering2d.filter_bank import filter_bank
        from kymatio.scattering2d.utils import compute_padding
        padded, _ = compute_padding(size, size, J)
        if (padded - size + 1) // 2 >= size:
            raise ValueError(f"scattering J={J} needs images larger than {2 ** J} px, got {size}")
        self.J = J
        self.pad = ((padded - size) // 2, (padded - size + 1) // 2)
        bank = filter_bank(padded, padded, J, L)

        def spectrum(levels: list, k: int) -> torch.Tensor:
            """Filters for `filter_periodized` with subsampling k: divided by k^2."""
            return torch.stack([torch.from_numpy(level / (k * k)).to(torch.complex64) for level in levels])

        # phi_j: the low-pass at resolution j; psi1_j: the L wavelets of scale j at full resolution;
        # psi2_j1_j2: the L wavelets of scale j2 at resolution j1
        for j in range(J):
            self.register_buffer(f"phi_{j}", spectrum([bank["phi"]["levels"][j]], 2 ** (J - j)), persistent=False)
            self.register_buffer(f"psi1_{j}", spectrum([p["levels"][0] for p in bank["psi"] if p["j"] == j], 2 ** j),
                                 persistent=False)
            for j2 in range(j + 1, J):
                self.register_buffer(f"psi2_{j}_{j2}", spectrum([p["levels"][j] for p in bank["psi"] if p["j"] == j2],
                                                                2 ** (j2 - j)), persistent=False)

    def low_pass(self, u: torch.Tensor, j: int) -> torch.Tensor:
        """Spectra [N, X, m, m] at resolution j -> their averages [N, X, H/2^J, W/2^J] (real)."""
        out = torch.fft.ifft2(filter_periodized(u, getattr(self, f"phi_{j}"), 2 ** (self.J - j))).real
        return out[:, :, 0, 1:-1, 1:-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in chunks: the order-2 maps of a large batch (L^2 complex maps per channel) overflow the
        # CPU's caches, which more than doubles the time per image
        return torch.cat([self.transform(chunk) for chunk in x.split(self.chunk)])

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        with torch.autocast(x.device.type, enabled=False):
            top, bottom = self.pad
            x = F.pad(x.float().reshape(b * c, 1, h, w), (top, bottom, top, bottom), mode="reflect")
            spectra = torch.fft.fft2(x)
            out = [self.low_pass(spectra, 0)]
            first = []  # per j1: the spectra of |x * psi_j1| at resolution j1, [N, L, m, m]
            for j1 in range(self.J):
                u = filter_periodized(spectra, getattr(self, f"psi1_{j1}"), 2 ** j1)[:, 0]
                first.append(torch.fft.fft2(torch.fft.ifft2(u).abs()))
                out.append(self.low_pass(first[-1], j1))
            for j1 in range(self.J - 1):
                second = []
                for j2 in range(j1 + 1, self.J):
                    u = filter_periodized(first[j1], getattr(self, f"psi2_{j1}_{j2}"), 2 ** (j2 - j1))
                    u = torch.fft.fft2(torch.fft.ifft2(u).abs())  # [N, L1, L2, m, m]
                    second.append(self.low_pass(u.flatten(1, 2), j2).unflatten(1, u.shape[1:3]))
                out.append(torch.cat(second, 2).flatten(1, 2))
            s = torch.cat(out, 1)
        return s.reshape(b, c, *s.shape[1:])


class ScatteringStem(nn.Module):
    """The front of Oyallon et al.'s hybrid networks: the scattering of each colour channel, its
    channels normalised by a BatchNorm without affine parameters, then a 3x3 conv, BatchNorm and ReLU.
    [B, C, size, size] -> [B, width, size / 2^J, size / 2^J]."""

    def __init__(self, width: int, J: int = 2, size: int = 32, L: int = 8, in_channels: int = 3):
        super().__init__()
        self.scattering = Scattering2D(J, size, L)
        channels = in_channels * coefficients(J, L)
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.conv = nn.Conv2d(channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(self.norm(self.scattering(x).flatten(1, 2)))))
