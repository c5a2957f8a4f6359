"""`tune` (and `run --tune`): the hyperparameter searches of a selection's runs, the DEIC/GEM
protocol on a subset's training images only.

Each (method, dataset, shots, augment, profile, fixed overrides) of the selection is searched on
every seed's subset (by default: each seed's run then uses its own best values, and no subset sees
another's images), or once, on the first seed's subset, with the values reused by every seed
(`once`: cheaper; the report says which). A search is `trials` trial tasks
(benchmark.orchestration.trials) of one Optuna study. When its trials are done, `choose` takes the
trial of the best mean validation accuracy and writes, for every run it serves, the choice:
results/tune/choices/<run id>.json, naming the tuned run (the run with those values: a RunSpec whose
overrides and recipe values differ from the defaults, so its id differs from the default run's).
`run`, `status`, `report` and `export` find the tuned runs of a selection through these choices.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from benchmark.errors import UserError
from benchmark.orchestration.cost import CostModel, format_duration, two_figures
from benchmark.orchestration.plan import Plan, resolve
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import Resolver, RunTask
from benchmark.orchestration.trials import TrialTask, folds_for, search_space, with_values
from benchmark.spec import ALL_SHOTS, RunSpec, TrialSpec

PER_SEED, FIRST_SEED = "per seed", "first seed"  # a choice's mode


@dataclass(frozen=True)
class TuneOptions:
    """What a selection tunes (`run --tune`, a grid file's [tune] table)."""

    methods: tuple[str, ...]
    trials: int
    once: bool = False


@dataclass(frozen=True)
class Search:
    """One study: its trials, on the subset of `seed`, and the runs whose values it chooses."""

    trials: tuple[TrialTask, ...]
    runs: tuple[RunTask, ...]  # with the defaults, one per seed it serves
    mode: str

    @property
    def seed(self) -> int:
        return self.trials[0].spec.seed


def searches(plan: Plan, trials: int, once: bool) -> list[Search]:
    """The searches of the plan's runs; a run that cannot be tuned is a UserError (one line)."""
    if trials < 1:
        raise UserError(f"--trials must be at least 1, got {trials}")
    if not plan.runs:
        raise UserError("tune: the selection has no run of a method to tune (run --tune tunes the Baseline, a grid "
                        "file's [tune] its methods)")
    groups: dict[tuple, list[RunTask]] = defaultdict(list)
    for run in plan.runs:
        check_tunable(run)
        s = run.spec
        groups[(s.method, s.dataset, s.shots, s.augment, s.profile, s.overrides, s.recipe)].append(run)
    found = []
    for runs in groups.values():
        runs = sorted(runs, key=lambda r: r.spec.seed)
        for tuned_on in ([runs[0]] if once else runs):
            folds = folds_for(tuned_on.spec.shots)
            tasks = tuple(TrialTask(TrialSpec.of(tuned_on.spec, folds, i), (), tuned_on) for i in range(trials))
            found.append(Search(tasks, tuple(runs) if once else (tuned_on,), FIRST_SEED if once else PER_SEED))
    return found


def check_tunable(run: RunTask) -> None:
    where = f"{run.spec.method} at {run.spec.shots} shots"
    if run.spec.shots == ALL_SHOTS:
        raise UserError(f"tune: {where}: the whole pool has no fixed shots to split into folds; give --shots as numbers")
    if run.spec.shots < 2:
        raise UserError(f"tune: {where}: 1 shot leaves no image of a class to validate on; tune needs 2 or more "
                        "shots (k-fold validation inside the subset)")
    if run.requires:
        raise UserError(f"tune: {where}: its {run.requires[0].label} stage trains on the whole subset and would see "
                        "the validation folds; tune methods without stages (e.g. baseline, cutout, mixup, cosine)")
    if not search_space(run):
        raise UserError(f"tune: {where}: nothing to search (its recipe's lr and weight decay are fixed by the run)")


def trial_plan(found: list[Search]) -> Plan:
    return Plan(tuple(t for search in found for t in search.trials), what="trial")


def choose(search: Search, store: Store) -> list[dict[str, Any]]:
    """The best finished trial of the search (the highest mean validation accuracy; a tie: the
    earlier trial), written as the choice of every run it serves; [] while no trial has completed."""
    records = [r for r in (store.trial_record(t.id) for t in search.trials) if r is not None]
    complete = [r for r in records if r["state"] == "complete"]
    if not complete:
        return []
    best = max(complete, key=lambda r: (r["value"], -r["trial"]["trial"]))
    space = search.trials[0].space
    defaults = {name: p.default for name, (_, p) in space.items()}
    choices = []
    for run in search.runs:
        tuned = Resolver(lambda _: run.shape).run(with_values(run.spec, space, best["values"])).spec
        choice = {"run": run.spec.to_dict(), "tuned": tuned.to_dict(), "mode": search.mode,
                  "study": search.trials[0].spec.study_id, "tuned_on_seed": search.seed, "trials": len(search.trials),
                  "complete": len(complete), "pruned": len(records) - len(complete), "values": best["values"],
                  "defaults": defaults, "validation_accuracy": float(best["value"]), "folds": search.trials[0].spec.folds}
        store.write_choice(run.id, choice)
        choices.append(choice)
    return choices


def describe_choice(search: Search, choice: dict[str, Any] | None) -> str:
    """A search's outcome in a line: the values chosen against the recipe's and the method's defaults."""
    spec = search.trials[0].spec
    seeds = ",".join(str(r.spec.seed) for r in search.runs)
    what = (f"{spec.method}{'' if spec.augment == 'none' else '+' + spec.augment} {spec.dataset} shots={spec.shots} "
            f"[{spec.profile}] tuned on seed {spec.seed}'s subset for seed{'s' if len(search.runs) > 1 else ''} {seeds}")
    if choice is None:
        return f"{what}: no trial completed; nothing chosen"
    values = ", ".join(f"{k}={v:.3g} (default {choice['defaults'][k]:.3g})" for k, v in choice["values"].items())
    return (f"{what}: {choice['trials']} trials ({choice['complete']} complete, {choice['pruned']} pruned); best "
            f"mean validation accuracy {choice['validation_accuracy']:.2f} % over {choice['folds']} folds with {values}")


def tuned_specs(specs: list[RunSpec], store: Store) -> dict[str, dict[str, Any]]:
    """The choices `tune` wrote for these runs (after resolving: canonical ids), by tuned run id."""
    found = {}
    for run in resolve(specs).runs:
        choice = store.choice(run.id)
        if choice is not None:
            found[RunSpec.from_dict(choice["tuned"]).id] = choice
    return found


def tuned_runs(specs: list[RunSpec], store: Store) -> list[RunSpec]:
    return [RunSpec.from_dict(c["tuned"]) for c in tuned_specs(specs, store).values()]


def describe_tuning(found: list[Search], store: Store, cost: CostModel) -> str:
    """The dry run of `tune`: a row per search (its trials, those to do, steps per trial, estimated
    time), the final runs, and the total."""
    width = max(12, *(len(s.trials[0].dataset) for s in found))
    lines = [f"{'method':<18} {'dataset':<{width}} {'shots':>5} {'seed':>5} {'folds':>5} {'trials':>6} {'to do':>6} "
             f"{'steps/trial':>11} {'est. time':>10}  runs served"]
    todo: list[float | None] = []  # the estimated seconds of each trial to do
    for search in found:
        left = [t for t in search.trials if not t.done(store)]
        seconds = [cost.seconds(t) for t in left]
        todo += seconds
        time = "?" if None in seconds else format_duration(sum(seconds))
        spec = search.trials[0].spec
        seeds = ",".join(str(r.spec.seed) for r in search.runs)
        lines.append(f"{spec.method:<18} {spec.dataset:<{width}} {spec.shots:>5} {spec.seed:>5} {spec.folds:>5} "
                     f"{len(search.trials):>6} {len(left):>6} {search.trials[0].steps:>11,} {time:>10}  seeds {seeds}")
    finals = [r for s in found for r in s.runs]
    final_seconds = [cost.seconds(r) for r in finals]
    known = [s for s in todo if s is not None]
    total = f"{two_figures(sum(known) / 3600)} GPU-hours" if cost.assumed else format_duration(sum(known))
    finals_time = "?" if None in final_seconds else format_duration(sum(final_seconds))
    space = ", ".join(f"{name} {p.search[0]:.3g}-{p.search[1]:.3g}{' (log)' if p.log else ''}"
                      for name, (_, p) in found[0].trials[0].space.items())
    lines += ["", f"search space of the first search: {space}",
              f"then {len(finals)} tuned runs (one per seed, with the chosen values): about {finals_time}",
              f"total: {len(found)} searches, {sum(len(s.trials) for s in found)} trials ({len(todo)} to do); estimated "
              f"{total} of trials at most (pruned trials stop early) {cost.describe()}"]
    return "\n".join(lines)
