"""`samples`: the figure of the images a method makes, drawn by the function its `figure` names
(with the method set up on the subset and its trained stages). Here the composing methods' figure,
like the papers' Fig. 2 (a trained generator, or the pixel-space ablations): per row, the N source
images of one class, then several masks (coloured by source) each followed by the composition it
produces. GLICO's and SuperMix's figures (the images their stages give):
benchmark/output/stage_samples.py."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmark.atomic import replace_atomic  # noqa: E402
from benchmark.data import cached_dataset, subsample  # noqa: E402
from benchmark.errors import UserError  # noqa: E402
from benchmark.imports import import_object  # noqa: E402
from benchmark.orchestration.store import Store  # noqa: E402
from benchmark.orchestration.tasks import RunTask  # noqa: E402
from benchmark.output.analysis.sets import prepared_method, set_task  # noqa: E402
from benchmark.training.pipeline import Batch, TrainData, denormalize, normalize  # noqa: E402
from methods import METHODS  # noqa: E402

if TYPE_CHECKING:
    from methods.generative import Composition

COMPOSITIONS = 4  # masks and compositions per row of the composing methods' figure

SOURCE_COLOURS = torch.tensor([[0.12, 0.47, 0.71], [1.0, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
                               [0.58, 0.40, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.50, 0.50, 0.50]])


def plain_batch(data: TrainData, idx: torch.Tensor) -> Batch:
    """The images `idx` without crop or flip."""
    n = len(idx)
    centre = torch.full((n,), data.pad, device=idx.device)
    return Batch(x=normalize(data.images[idx]), y=data.labels[idx], idx=idx, top=centre, left=centre,
                 flip=torch.zeros(n, dtype=torch.bool, device=idx.device))


def repeat(batch: Batch, times: int) -> Batch:
    return Batch(*(t.repeat_interleave(times, 0) for t in (batch.x, batch.y, batch.idx, batch.top, batch.left, batch.flip)))


def pick_sources(labels: torch.Tensor, rows: int, n_images: int, gen: torch.Generator) -> torch.Tensor:
    """[rows, N] indices: rows of distinct classes, N distinct images of the row's class where it has them."""
    classes = torch.unique(labels)
    chosen = classes[torch.randperm(len(classes), generator=gen)[:rows]]
    picks = []
    for c in chosen:
        members = torch.nonzero(labels == c).flatten()
        order = torch.randperm(len(members), generator=gen)
        picks.append(members[order[torch.arange(n_images) % len(members)]])
    return torch.stack(picks)


def to_rgb(x: torch.Tensor) -> np.ndarray:
    """A normalised image [3, H, W] -> uint8 [H, W, 3]."""
    return denormalize(x).cpu().permute(1, 2, 0).numpy()


def mask_rgb(masks: torch.Tensor, size: int) -> np.ndarray:
    """One-hot masks [N, h, w] -> the colour of each location's source, [size, size, 3]."""
    up = F.interpolate(masks[None].float().cpu(), size=(size, size), mode="nearest")[0]
    return torch.einsum("nhw,nc->hwc", up, SOURCE_COLOURS[:len(masks)]).numpy()


def sample_methods() -> list[str]:
    """The methods `samples` draws: those that name a figure."""
    return [name for name, cls in METHODS.items() if cls.figure]


def write_samples(method: str, dataset: str, shots: int, seed: int, profile: str, store: Store, data_dir: Path,
                  outs: list[Path], rows: int) -> list[Path]:
    """The figure of a method's images on a subset, written to each of `outs` (its suffix the format)."""
    if method not in sample_methods():
        raise UserError(f"method '{method}' makes no images `samples` draws; valid: {', '.join(sample_methods())}")
    if rows < 1:
        raise UserError(f"--rows must be at least 1, got {rows}")
    formats = FigureCanvasBase.get_supported_filetypes()
    for out in outs:
        if out.suffix[1:].lower() not in formats:
            raise UserError(f"--out '{out}': not an image format matplotlib writes; valid suffixes: "
                            f"{', '.join('.' + f for f in formats)}")
    task = set_task(method, dataset, shots, seed, profile)
    data = cached_dataset(dataset, str(data_dir))
    idx = subsample(data.train_y, shots, seed)
    subset = TrainData(data.train_x[idx], data.train_y[idx], task.recipe.pad)
    mixer = prepared_method(task, store, subset)
    title = f"{task.method.label}: {data.name}, {shots} shots, seed {seed}, {profile} profile"
    draw = import_object(task.method.figure)
    return save(draw(mixer, task, store, subset, min(rows, data.num_classes), seed, data.classes), title, outs)


def composition_figure(method: Composition, task: RunTask, store: Store, subset: TrainData, rows: int, seed: int,
                       classes: tuple[str, ...]) -> plt.Figure:
    """Per row (one class): the N source images, then masks each followed by the composition it gives."""
    n = method.n_images
    picks = pick_sources(subset.labels, rows, n, torch.Generator().manual_seed(seed))
    sources = [repeat(plain_batch(subset, picks[:, j]), COMPOSITIONS) for j in range(n)]
    torch.manual_seed(seed)
    masks = method.composer.masks(sources)
    made = method.render(torch.stack([s.x for s in sources], 1), masks)
    return plot(sources, masks, made, len(picks), COMPOSITIONS, classes)


def plot(sources: list[Batch], masks: torch.Tensor, made: torch.Tensor, rows: int, compositions: int,
         classes: tuple[str, ...]) -> plt.Figure:
    n = len(sources)
    size = made.shape[-1]
    fig, axes = grid(rows, n + 2 * compositions)
    for r in range(rows):
        first = r * compositions
        for j in range(n):
            ax = axes[r, j]
            ax.imshow(to_rgb(sources[j].x[first]))
            for spine in ax.spines.values():
                spine.set_edgecolor(SOURCE_COLOURS[j].tolist())
                spine.set_linewidth(4)
            if r == 0:
                ax.set_title(f"source {j + 1}", fontsize=8, color=SOURCE_COLOURS[j].tolist())
        axes[r, 0].set_ylabel(classes[int(sources[0].y[first])], fontsize=8)
        for k in range(compositions):
            axes[r, n + 2 * k].imshow(mask_rgb(masks[first + k], size))
            axes[r, n + 2 * k + 1].imshow(to_rgb(made[first + k]))
            if r == 0:
                axes[r, n + 2 * k].set_title("mask", fontsize=8)
                axes[r, n + 2 * k + 1].set_title("composition", fontsize=8)
    return fig


def grid(rows: int, cols: int) -> tuple[plt.Figure, np.ndarray]:
    """A figure of rows x cols images without ticks."""
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.4 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def save(fig: plt.Figure, title: str, outs: list[Path]) -> list[Path]:
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    for out in outs:
        kind = out.suffix[1:].lower()  # a format matplotlib writes (write_samples checked)
        replace_atomic(out, lambda f: fig.savefig(f, format=kind, dpi=110,
                                                  metadata={"CreationDate": None} if kind == "pdf" else None))
    plt.close(fig)
    return outs
