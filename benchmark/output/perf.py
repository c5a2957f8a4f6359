"""`perf`: the cost of each method's training step on this device, on random images of a
dataset's shape (the subset is 10 images per class), so no data files are needed.

Per method:
- `step ms`, `images/s`: the whole training step with the recipe's model (WRN-16-8 / ResNet-50 at
  the paper profile): batch assembly, augmentation, method logic, forward, backward, optimizer,
  scheduler;
- `bare ms`: the same model's forward + backward + optimizer step on a batch already made;
  `loop eff.` = bare / step;
- `overhead ms`: the same two with the 314-parameter `tiny` model, whose own step costs next to
  nothing: tiny step - tiny bare = the host work around the model, the cost that decides a grid's
  GPU-hours at the papers' batch sizes;
- methods that replace batches with probability p_gen are timed with p_gen forced to 0 (the
  real-batch step, the main columns) and to 1: `gen ms` is the generated-batch step with the
  recipe's model, `gen/real` its ratio to the real one, `gen overhead` the generated batch's host
  cost with the tiny model (making the batch: partners, masks, generator). A generator stage is
  stood in for by an untrained generator of the same recipe: same cost.

Step and bare are timed alternately, one after the other in every round, so that a change of the
machine's load hits both alike; each figure is the median over the rounds.
"""
from __future__ import annotations

import dataclasses
import json
import time
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from tqdm import tqdm

from benchmark.data import DATASETS, check_dataset_name
from benchmark.data.photos import stored_size
from benchmark.errors import UserError
from benchmark.arguments import parse_list
from benchmark.orchestration.plan import Plan, resolve
from benchmark.orchestration.tasks import RunTask, StageTask, Task
from benchmark.training.engine import default_device
from benchmark.training.engine import Trainer
from benchmark.training.models import bf16_autocast, cpu_computes_bf16
from benchmark.profiles import LARGE_FROM, recipe_for
from benchmark.spec import RunSpec
from benchmark.training.timing import interleaved_medians
from methods import METHODS, get_method
from methods.base import BatchReplacement

PERF_SHOTS = 10
TINY_ROUNDS_FACTOR = 5  # the tiny model's rounds are cheap: more of them steady its small figures
REGRESSION_FACTOR = 2.0
CHECKED = ("overhead_ms", "generated_overhead_ms")  # the figures `--check` compares


def time_trainer(trainer: Trainer, rounds: int, device: torch.device,
                 with_bare: bool = True) -> tuple[float, float | None, float]:
    """(whole step, bare forward+backward+optimizer step or None) median seconds of a trainer, and
    its mean images per step (more than the batch size where the sampler balances batches)."""
    trainer.model.train()
    batches = trainer.epoch_batches()
    position = [0]

    def step() -> None:
        trainer.step(batches[position[0] % len(batches)])
        position[0] += 1

    batch = trainer.data.batch(batches[0])
    x, y = trainer.layout(batch.x), batch.y

    def bare() -> None:
        with bf16_autocast(trainer.device):
            loss = F.cross_entropy(trainer.forward(x), y)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    medians = interleaved_medians({"step": step, "bare": bare} if with_bare else {"step": step}, rounds, device)
    return medians["step"], medians.get("bare"), sum(map(len, batches)) / len(batches)


class Bench:
    """Random images of a dataset's shape and the stand-ins of the stages the methods need (kinds'
    untrained artifacts, which cost what trained ones cost), for timing trainers."""

    def __init__(self, dataset: str, profile: str, device: torch.device, compile_model: bool, tmp: Path):
        info = DATASETS[dataset]
        self.dataset, self.profile, self.device, self.compile_model, self.tmp = dataset, profile, device, compile_model, tmp
        self.num_classes = info.num_classes
        gen = torch.Generator().manual_seed(0)
        n = PERF_SHOTS * info.num_classes
        # a photo set's images are stored larger than they are trained (benchmark.data.photos)
        side = stored_size(info.image_size) if info.image_size >= LARGE_FROM else info.image_size
        self.images = torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=gen)
        self.sizes = torch.full((n, 2), side) if side != info.image_size else None
        self.labels = torch.arange(info.num_classes).repeat_interleave(PERF_SHOTS)

    def task(self, method: str, overrides: dict[str, Any]) -> RunTask:
        spec = RunSpec(method, self.dataset, PERF_SHOTS, 0, profile=self.profile, overrides=tuple(overrides.items()))
        return resolve([spec]).runs[0]

    def stand_in(self, stage: StageTask) -> Path:
        path = self.tmp / f"{stage.id}.pt"
        if not path.exists():
            stage.kind.stand_in(stage.work(self.images, self.labels, self.num_classes, self.device, self.inputs(stage),
                                           path))
        return path

    def inputs(self, task: Task) -> dict[str, Path]:
        return {s.kind.name: self.stand_in(s) for s in task.requires}

    def time(self, task: RunTask, model: str | None, rounds: int,
             with_bare: bool = True) -> tuple[float, float | None, float]:
        """(step, bare or None) median seconds of the task with its recipe's model, or with `model`, and
        its mean images per step."""
        recipe = task.recipe if model is None else dataclasses.replace(task.recipe, model=model)
        trainer = task.trainer(self.images, self.labels, self.device, self.inputs(task),
                               self.compile_model and model is None, recipe, self.sizes)
        return time_trainer(trainer, rounds, self.device, with_bare)


def measure(bench: Bench, method: str, steps: int, overhead_only: bool) -> dict[str, Any]:
    cls = get_method(method)
    replaces_batches = issubclass(cls, BatchReplacement)

    def spec(p_gen: float | None = None) -> RunTask:
        return bench.task(method, {} if p_gen is None else {"p_gen": p_gen})

    real = spec(0.0) if replaces_batches else spec()
    tiny_rounds = TINY_ROUNDS_FACTOR * steps
    tiny_step, tiny_bare, _ = bench.time(real, "tiny", tiny_rounds)
    recipe = real.recipe
    row: dict[str, Any] = {
        "method": method, "dataset": bench.dataset, "profile": bench.profile, "model": recipe.model,
        "batch": recipe.batch_size, "device": bench.device.type, "threads": torch.get_num_threads(),
        "compiled": bench.compile_model,
        "generator_bf16": bench.device.type == "cuda" or cpu_computes_bf16(),  # how generated batches decode
        "tiny_step_ms": 1000 * tiny_step, "tiny_bare_ms": 1000 * tiny_bare, "overhead_ms": 1000 * (tiny_step - tiny_bare),
        "step_ms": None, "bare_ms": None, "images_per_s": None, "loop_efficiency": None,
        "generated_step_ms": None, "generated_ratio": None, "generated_overhead_ms": None,
    }
    if not overhead_only:
        step, bare, images = bench.time(real, None, steps)
        row.update(step_ms=1000 * step, bare_ms=1000 * bare, images_per_s=images / step,
                   loop_efficiency=bare / step)
    if replaces_batches:
        gen_step, gen_bare, _ = bench.time(spec(1.0), "tiny", steps)
        row["generated_overhead_ms"] = 1000 * (gen_step - gen_bare)
        if not overhead_only:
            gen_step, _, _ = bench.time(spec(1.0), None, steps, with_bare=False)  # the bare step is the real batch's
            row.update(generated_step_ms=1000 * gen_step, generated_ratio=gen_step / step)
    return row


def run_perf(methods: str | None, dataset: str, profile: str, steps: int, overhead_only: bool = False,
             compile_model: bool = False, progress: bool = True) -> list[dict[str, Any]]:
    check_dataset_name(dataset)
    if dataset not in DATASETS:
        raise UserError(f"perf needs a registered dataset for its shape, got '{dataset}'; valid: {', '.join(DATASETS)}")
    recipe_for(profile, DATASETS[dataset].image_size)
    names = parse_list(methods, "--methods") or list(METHODS)
    for name in names:
        get_method(name)
    device = default_device()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(dataset, profile, device, compile_model, Path(tmp))
        return [measure(bench, name, steps, overhead_only)
                for name in tqdm(names, desc="perf", unit="method", disable=not progress)]


def fmt(value: float | None, spec: str) -> str:
    """A figure; "-" when not measured; "noise" when a difference of two timings came out negative (a
    measurement error on a busy machine, not a figure)."""
    width = f">{spec.split('.')[0]}"
    if value is None:
        return format("-", width)
    return format("noise", width) if value < 0 else format(value, spec)


def measurement_errors(rows: list[dict[str, Any]]) -> list[str]:
    """The overheads that came out negative: the machine's load changed between the two timings."""
    return [f"{r['method']}: {key} measured {r[key]:.2f} ms, a measurement error (timing noise), not a figure"
            for r in rows for key in CHECKED if r[key] is not None and r[key] < 0]


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'method':<18} {'model':<9} {'batch':>5} {'step ms':>9} {'images/s':>9} {'bare ms':>9} {'loop eff.':>9} "
            f"{'overhead':>9} {'gen ms':>9} {'gen/real':>8} {'gen overhead':>12}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['method']:<18} {r['model']:<9} {r['batch']:>5} {fmt(r['step_ms'], '9.1f')} "
                     f"{fmt(r['images_per_s'], '9.1f')} {fmt(r['bare_ms'], '9.1f')} {fmt(r['loop_efficiency'], '9.2f')} "
                     f"{fmt(r['overhead_ms'], '9.2f')} {fmt(r['generated_step_ms'], '9.1f')} "
                     f"{fmt(r['generated_ratio'], '8.2f')} {fmt(r['generated_overhead_ms'], '12.1f')}")
    if rows:
        r = rows[0]
        lines.append(f"device: {r['device']}, {r['threads']} threads, dataset shape and recipe: {r['dataset']} "
                     f"({r['profile']} profile){', compiled model' if r['compiled'] else ''}. All times in ms. "
                     "overhead = tiny-model step - tiny-model forward+backward+optimizer step (host work per step); "
                     "methods with p_gen: the main columns are real batches (p_gen 0), gen = generated batches (p_gen 1)")
    return "\n".join(lines)


Baseline = dict[tuple[str, str, str], dict[str, Any]]  # (method, dataset, profile) -> saved row


def load_baseline(path: Path) -> Baseline:
    """The rows of a `perf --json` file, checked before anything is measured: each names its method,
    dataset and profile, and its figures are numbers or null."""
    try:
        baseline = {(r["method"], r["dataset"], r["profile"]): r for r in json.loads(path.read_text())}
    except FileNotFoundError:
        raise UserError(f"--check: no file {path}; write one with: python -m benchmark perf --json > FILE") from None
    except (OSError, ValueError, TypeError, KeyError):  # ValueError: not UTF-8, not JSON
        raise UserError(f"--check: {path} is not the output of `perf --json`") from None
    figures = [row.get(key) for row in baseline.values() for key in CHECKED]
    if not all(f is None or (isinstance(f, (int, float)) and not isinstance(f, bool)) for f in figures):
        raise UserError(f"--check: {path} is not the output of `perf --json` (a figure that is not a number)")
    return baseline


def compared(rows: list[dict[str, Any]], baseline: Baseline) -> Iterator[tuple[dict[str, Any], str, float]]:
    """(row, figure, the baseline's value) of every figure of `rows` the baseline can be compared with.
    A generated batch's figure is compared only with one decoded at the same precision (bf16 on a GPU
    or on a CPU that computes bf16 natively, fp32 elsewhere: about 3x apart on a CPU)."""
    for row in rows:
        old = baseline.get((row["method"], row["dataset"], row["profile"]))
        for key in CHECKED:
            if old is None or old.get(key) is None or row[key] is None or row[key] < 0:
                continue
            if key == "generated_overhead_ms" and old.get("generator_bf16") != row.get("generator_bf16"):
                continue
            yield row, key, old[key]


def check_regressions(rows: list[dict[str, Any]], baseline: Baseline) -> dict[str, list[str]]:
    """Per method, its figures that are more than REGRESSION_FACTOR times the baseline's."""
    found: dict[str, list[str]] = {}
    for row, key, old in compared(rows, baseline):
        if row[key] > REGRESSION_FACTOR * max(old, 0.01):
            found.setdefault(row["method"], []).append(
                f"{row['method']}: {key} {row[key]:.2f} ms, baseline {old:.2f} ms ({row[key] / max(old, 0.01):.1f}x)")
    return found


def confirmed_regressions(rows: list[dict[str, Any]], baseline: Baseline, remeasure: Callable[[list[str]], list[dict[str, Any]]]) -> list[str]:
    """The regressions of `rows` that a second measurement of the flagged methods confirms (each
    figure: the lower of the two), since one timing on a shared machine can be slow by chance."""
    flagged = check_regressions(rows, baseline)
    if not flagged:
        return []
    again = {r["method"]: r for r in remeasure(list(flagged))}
    best = [{**r, **{k: min(r[k], again[r["method"]][k]) for k in CHECKED if r[k] is not None}}
            for r in rows if r["method"] in again]
    return [line for lines in check_regressions(best, baseline).values() for line in lines]


def measure_step_times(plan: Plan, device: torch.device, progress: bool = True) -> dict[str, float]:
    """Seconds of one training step of every kind of step the plan's runs and stages take (their
    step keys), each measured once on `device` (a median of a few steps on random images)."""
    tasks = {t.step_key: t for t in [*plan.stages, *plan.runs]}
    return {key: task.measure_step(device) for key, task in tqdm(tasks.items(), desc="step times", unit="step kind",
                                                                 disable=not progress)}


def device_description(device: torch.device) -> str:
    """The device and software the step times were measured with."""
    import platform
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                     platform.processor() or "a CPU")
        name = f"{model}, {torch.get_num_threads()} threads"
    return f"{name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"
