"""A trial of `tune` as a task of the task graph (benchmark.orchestration.tuning plans them): it is
claimed, run and noted like a run, by the same workers and launchers, and is done when its record
(results/tune/trials/<id>.json) exists.

A trial draws its values (the recipe's lr and weight decay, the method's hyperparameters that
declare a search range) from the search's Optuna study, kept in a journal file under the results
directory (file-locked, so processes on several machines share it), and scores them by k-fold
cross-validation inside the run's training subset: k = min(shots, 5) stratified folds, each with at
least one image of every class; for each fold the run trains on the other folds with the engine
and is evaluated on the held-out images. No test image is read. After each fold the mean accuracy
so far goes to the study's successive-halving pruner (ASHA with a reduction factor of 2): a trial
that is not among the best half at its rung stops there. The objective is the mean accuracy over
the k folds.

A trial killed mid-way resumes as itself: its Optuna trial is found again by the task's id (its
values are in the study), the folds it finished are in the trial's attributes, and the fold it was
training resumes from its checkpoint. The study is only the sampler's memory: what `tune` decides
is read from the trial records, validated.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.hparams import HParam
from benchmark.orchestration.tasks import CLASSIFIER_SECTION, EpochCallback, Node, Resolver, RunTask
from benchmark.spec import RunSpec, TrialSpec
from benchmark.stored import set_aside
from benchmark.training.recipes import recipe_params

if TYPE_CHECKING:
    import optuna
    import torch

    from benchmark.data import ImageSet
    from benchmark.orchestration.store import Store

MAX_FOLDS = 5
STARTUP_TRIALS = 8  # trials drawn at random before TPE models the results
REDUCTION_FACTOR = 2  # successive halving keeps the best half at each rung (GEM's ASHA setting)
PRUNING_FROM = 2  # the first rung: folds trained before a trial may be stopped (one fold is a handful of images)
SIGNIFICANT_DIGITS = 3  # a drawn float is rounded to this before it is tried: the value tried is the value kept


def folds_for(shots: int) -> int:
    return min(shots, MAX_FOLDS)


def search_space(run: RunTask) -> dict[str, tuple[str, HParam]]:
    """name -> ("recipe" or "method", its declaration): the recipe values and the method's
    hyperparameters that declare a search range, less those the run fixes."""
    space = {name: ("recipe", p) for name, p in recipe_params(run.recipe).items()
             if p.search is not None and name not in dict(run.spec.recipe)}
    for name, p in run.method.hparams(run.context).items():
        if p.search is not None and name not in dict(run.spec.overrides) and name not in space:
            space[name] = ("method", p)
    return space


def with_values(spec: RunSpec, space: dict[str, tuple[str, HParam]], values: dict[str, Any]) -> RunSpec:
    """The run with the values of a trial (method hyperparameters as overrides, the rest as recipe values)."""
    method = {name: v for name, v in values.items() if space[name][0] == "method"}
    recipe = {name: v for name, v in values.items() if space[name][0] == "recipe"}
    return dataclasses.replace(spec, overrides=tuple(sorted({**dict(spec.overrides), **method}.items())),
                               recipe=tuple(sorted({**dict(spec.recipe), **recipe}.items())))


def fold_of(labels: torch.Tensor, folds: int, seed: int) -> torch.Tensor:
    """Each image's fold: every class's images in a random order (seeded by the subset's seed), the
    j-th in fold j mod `folds`; a class of at least `folds` images is in every fold."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    fold = torch.empty(len(labels), dtype=torch.int64)
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        fold[members[torch.randperm(len(members), generator=generator)]] = torch.arange(len(members)) % folds
    return fold


def open_study(store: Store, spec: TrialSpec) -> optuna.Study:
    """The search's study (created by its first trial), with a sampler seeded by this trial, so that
    trials started in fresh processes do not all draw the same first values."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = store.study_path(spec.study_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    sampler = optuna.samplers.TPESampler(seed=int(spec.id[:8], 16), n_startup_trials=STARTUP_TRIALS,
                                         constant_liar=True)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=PRUNING_FROM, reduction_factor=REDUCTION_FACTOR)

    def study() -> optuna.Study:
        storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
        return optuna.create_study(storage=storage, study_name=spec.study_id, direction="maximize", sampler=sampler,
                                   pruner=pruner, load_if_exists=True)

    try:
        return study()
    except Exception as exc:  # noqa: BLE001  a damaged journal fails anywhere in its replay
        set_aside(path, "study journal", f"{type(exc).__name__}; a new study starts, finished trials keep their records")
        return study()


def own_trial(study: optuna.Study, task_id: str) -> tuple[optuna.Trial | None, optuna.trial.FrozenTrial | None]:
    """The study's trial of this task: (a live trial to go on with, None) when it is new or was
    interrupted, (None, the finished trial) when only its record is missing."""
    import optuna
    for frozen in study.get_trials(deepcopy=False):
        if frozen.user_attrs.get("task") == task_id:
            if frozen.state == optuna.trial.TrialState.RUNNING:
                return optuna.trial.Trial(study, frozen._trial_id), None  # the documented constructor takes the id
            return None, frozen
    trial = study.ask()
    trial.set_user_attr("task", task_id)
    return trial, None


def frozen(study: optuna.Study, trial: optuna.Trial) -> optuna.trial.FrozenTrial:
    """The trial as the study has it now (its attributes and reported values)."""
    return study.get_trials(deepcopy=False)[trial.number]


def draw(trial: optuna.Trial, name: str, p: HParam) -> int | float:
    low, high = p.search
    if isinstance(p.default, int):
        return trial.suggest_int(name, int(low), int(high), log=p.log)
    return float(f"{trial.suggest_float(name, low, high, log=p.log):.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True, eq=False)
class TrialTask(Node):
    spec: TrialSpec
    run: RunTask  # the run whose method and recipe the trial searches (the seed's run with the defaults)

    section = CLASSIFIER_SECTION
    what = "trial"

    @cached_property
    def space(self) -> dict[str, tuple[str, HParam]]:
        return search_space(self.run)

    @cached_property
    def steps(self) -> int:
        """Every fold's training: the subset less the held-out fold, under the run's recipe."""
        shots, k, recipe = self.spec.shots, self.spec.folds, self.run.recipe
        held_out = [shots // k + (f < shots % k) for f in range(k)]
        classes = self.run.context.num_classes
        return sum(recipe.epochs * recipe.epoch_steps((shots - h) * classes, shots) for h in held_out)

    @property
    def passes(self) -> int:
        return self.run.passes

    @property
    def step_key(self) -> str:
        return self.run.step_key

    @property
    def gpu_step_s(self) -> float:
        return self.run.gpu_step_s

    def measure_step(self, device: torch.device) -> float:
        return self.run.measure_step(device)

    def done(self, store: Store) -> bool:
        return store.trial_record(self.id) is not None

    def result(self, store: Store) -> str:
        record = store.trial_record(self.id) or {}
        values = ", ".join(f"{k}={v}" for k, v in record.get("values", {}).items())
        if record.get("state") == "complete":
            return f"validation accuracy {record['value']:.2f} % ({values})"
        return f"pruned after {len(record.get('folds', []))} of {self.spec.folds} folds ({values})"

    def train(self, data: ImageSet, idx: torch.Tensor, inputs: dict[str, Path], store: Store, device: torch.device,
              checkpoint_every_s: float, compile_model: bool, on_epoch: EpochCallback | None) -> None:
        import optuna

        from benchmark.training.engine import train
        study = open_study(store, self.spec)
        trial, finished = own_trial(study, self.id)
        if finished is not None:  # told before its record was written
            self.write_record(store, finished.number, finished.state == optuna.trial.TrialState.COMPLETE,
                              dict(finished.user_attrs["values"]), list(finished.user_attrs["folds"]), 0.0)
            return
        values = {name: draw(trial, name, p) for name, (_, p) in self.space.items()}
        trial.set_user_attr("values", values)
        run = Resolver(lambda _: self.run.shape).run(with_values(self.run.spec, self.space, values))
        labels = data.train_y[idx]
        fold = fold_of(labels, self.spec.folds, self.spec.seed)
        k, epochs = self.spec.folds, run.recipe.epochs
        accuracies = list(frozen(study, trial).user_attrs.get("folds", []))
        seconds = 0.0
        for f in range(k):
            if f == len(accuracies):
                train_idx, held_idx = idx[fold != f], idx[fold == f]
                trainer = run.trainer(data.train_x[train_idx], data.train_y[train_idx], device, inputs, compile_model)
                checkpoint = store.checkpoint_path(f"{self.id}_fold{f}")
                _, progress, _ = train(trainer, {**self.to_dict(), "fold": f, "values": values}, checkpoint,
                                       checkpoint_every_s, None if on_epoch is None else
                                       lambda e, n, f=f: on_epoch(f * n + e, k * n))
                checkpoint.unlink(missing_ok=True)
                held = trainer.evaluate(data.train_x[held_idx].to(device), data.train_y[held_idx].to(device))
                accuracies.append(held["accuracy"])
                seconds += progress.train_seconds
                trial.set_user_attr("folds", accuracies)
            if f + 1 not in frozen(study, trial).intermediate_values:
                trial.report(sum(accuracies[:f + 1]) / (f + 1), f + 1)
            if f + 1 < k and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                self.write_record(store, trial.number, False, values, accuracies, seconds)
                return
        study.tell(trial, sum(accuracies) / k)
        self.write_record(store, trial.number, True, values, accuracies, seconds)

    def write_record(self, store: Store, number: int, complete: bool, values: dict[str, Any], folds: list[float],
                     seconds: float) -> None:
        store.write_trial_record(self.id, {
            "trial": self.to_dict(), "number": number, "state": "complete" if complete else "pruned",
            "values": values, "folds": folds, "value": sum(folds) / len(folds) if complete else None,
            "train_seconds": seconds})
