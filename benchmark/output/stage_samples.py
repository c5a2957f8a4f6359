"""`samples` of the methods whose images come from a stage but are not compositions:

- GLICO: per row a training image, its decoded latent, the images of its latent slerped towards a
  same-class image's latent at the method's ratios, that image's decoded latent and the image itself
  (one noise code per row: the row shows the path the method samples from);
- SuperMix: per row two images of the subset with their teacher labels, the mask the stage's
  fitting found with the subset's trained teacher (coloured by source), the mix with the teacher's
  top-2 classes, then images of the stored set with their teacher labels.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import RunTask
from benchmark.output.samples import grid, mask_rgb, pick_sources, plain_batch, to_rgb
from benchmark.training.pipeline import TrainData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from methods.glico import Glico
    from methods.supermix import SuperMix

SET_IMAGES = 4  # stored SuperMix images per row


def glico_figure(method: Glico, task: RunTask, store: Store, subset: TrainData, rows: int, seed: int,
                 classes: tuple[str, ...]) -> Figure:
    from methods.glico import RATIOS
    from methods.glico_net import slerped_images
    picks = pick_sources(subset.labels, rows, 2, torch.Generator().manual_seed(seed))
    idx, partners = picks[:, 0], picks[:, 1]
    ratios = (0.0, *RATIOS, 1.0)
    made = []
    for ratio in ratios:
        torch.manual_seed(seed)  # the same noise code of each row at every ratio
        made.append(slerped_images(method.generator, method.latents, idx, partners, ratio, subset.images.shape[-1]))
    columns = [plain_batch(subset, idx).x, *made, plain_batch(subset, partners).x]
    titles = ["image", "decoded", *(f"slerp {r}" for r in RATIOS), "partner decoded", "partner"]
    fig, axes = grid(len(picks), len(columns))
    for r in range(len(picks)):
        for c, (images, title) in enumerate(zip(columns, titles)):
            axes[r, c].imshow(to_rgb(images[r]))
            if r == 0:
                axes[r, c].set_title(title, fontsize=8)
        axes[r, 0].set_ylabel(classes[int(subset.labels[idx[r]])], fontsize=8)
    return fig


def supermix_figure(method: SuperMix, task: RunTask, store: Store, subset: TrainData, rows: int, seed: int,
                    classes: tuple[str, ...]) -> Figure:
    from methods.supermix_mixing import mix_batch
    from methods.teacher_model import load_teacher
    (mixed_set,) = task.requires
    (teacher_stage,) = mixed_set.requires
    device = subset.labels.device
    teacher = load_teacher(store.artifact_path(teacher_stage.id), device)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(subset.labels), generator=gen)[:4 * rows].to(device)
    torch.manual_seed(seed)
    mixes = mix_batch(teacher, plain_batch(subset, order).x, len(classes), mixed_set.recipe)
    shown = min(rows, len(mixes.images))
    with torch.no_grad():
        top = teacher(mixes.images[:shown]).topk(2, dim=1).indices.tolist()
        source_labels = teacher(mixes.sources[:shown].flatten(0, 1)).argmax(1).view(-1, 2).tolist()
    stored = torch.randint(len(method.mixed_labels), (max(shown, 1), SET_IMAGES), generator=gen)
    fig, axes = grid(max(shown, 1), 4 + SET_IMAGES)
    for r in range(shown):
        cells = [(to_rgb(mixes.sources[r, 0]), f"source 1: {classes[source_labels[r][0]]}"),
                 (to_rgb(mixes.sources[r, 1]), f"source 2: {classes[source_labels[r][1]]}"),
                 (mask_rgb(mixes.masks[r], mixes.masks.shape[-1]), "mask" if r == 0 else ""),
                 (to_rgb(mixes.images[r]), "mix: " + " + ".join(classes[c] for c in top[r]))]
        for c, (image, title) in enumerate(cells):
            axes[r, c].imshow(image)
            axes[r, c].set_title(title, fontsize=8)
    if not shown:
        axes[0, 0].set_title(f"no mix of {len(order)} met the top-2 rule", fontsize=8, loc="left")
    for r in range(max(shown, 1)):
        for j, i in enumerate(stored[r].tolist()):
            ax = axes[r, 4 + j]
            ax.imshow(method.mixed_images[i].cpu().permute(1, 2, 0).numpy())
            ax.set_title(f"set: {classes[int(method.mixed_labels[i])]}", fontsize=8)
    return fig
