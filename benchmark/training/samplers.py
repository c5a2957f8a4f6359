"""How an epoch's sample order is cut into the index batches of its steps (a recipe's `sampler`).

- `shuffle`: consecutive slices of `batch_size` (the last one may be shorter).
- `balanced`: the same slices, and for every class that appears exactly once in a batch one more
  image of that class (drawn uniformly from the others of the subset) is appended, so that every
  class present has at least two images: the BalancedBatchSampler of SynerMix's code. A batch grows
  by its number of such classes; a class with a single image in the subset gets no partner.

The balanced batches of an epoch are drawn at once, with one read-back to the host per epoch (the
batches' sizes), so the training steps stay free of host-device synchronisation.
"""
from __future__ import annotations

import torch


def shuffle_batches(order: torch.Tensor, labels: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return list(order.split(batch_size))


def balanced_batches(order: torch.Tensor, labels: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    batches = order.split(batch_size)
    n, num_classes, device = len(labels), int(labels.max()) + 1, order.device
    grid = torch.full((len(batches) * batch_size,), -1, dtype=order.dtype, device=device)
    grid[:len(order)] = order
    grid = grid.view(len(batches), batch_size)  # the batches as rows, the last padded with -1
    valid = grid >= 0
    idx = grid.clamp(min=0)
    cls = labels[idx]
    counts = torch.zeros(len(batches), num_classes, dtype=torch.long, device=device)
    counts.scatter_add_(1, cls, valid.long())
    # the subset sorted by class: class c holds members[start[c]:start[c] + size[c]]
    members = torch.argsort(labels, stable=True)
    size = torch.bincount(labels, minlength=num_classes)
    start = torch.cumsum(size, 0) - size
    rank = torch.empty(n, dtype=torch.long, device=device)
    rank[members] = torch.arange(n, device=device) - start[labels[members]]
    # a uniform draw among the other members of the class: skip the sample's own rank
    draw = (torch.rand(idx.shape, device=device) * (size[cls] - 1)).long()
    draw = draw + (draw >= rank[idx]).long()
    partner = members[(start[cls] + draw).clamp(max=n - 1)]
    needs = valid & (counts.gather(1, cls) == 1) & (size[cls] > 1)
    extra = partner[needs].split(needs.sum(1).tolist())
    return [torch.cat([b, e]) for b, e in zip(batches, extra)]


SAMPLERS = {"shuffle": shuffle_batches, "balanced": balanced_batches}
