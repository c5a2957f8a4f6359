"""`status`: the runs of a selection as done / missing / failed / pending / running, per method and
dataset, from the store and, for tasks submitted to SLURM, from the scheduler; and the trials of
`tune` that have finished for them."""
from __future__ import annotations

from collections import Counter

from benchmark.orchestration.plan import Plan
from benchmark.orchestration.slurm.scheduler import RUNNING_STATES, scheduler_for
from benchmark.orchestration.slurm.states import task_states
from benchmark.orchestration.store import Store
from benchmark.spec import TrialSpec
from benchmark.stored import printable

COLUMNS = ("done", "missing", "failed", "pending", "running")


def status_lines(store: Store, plan: Plan) -> tuple[list[str], list[str]]:
    """(table lines, detail lines): the plan's runs per method and dataset as done / missing /
    failed / pending / running, the stages of the unfinished runs per kind, the SLURM jobs, and each
    failed task with its error and log."""
    uses_slurm = store.submissions_dir.is_dir()
    scheduler, problem = scheduler_for(required=False) if uses_slurm else (None, None)
    unfinished = plan.unfinished(store)
    pending = {r.id for r in unfinished.runs}
    done = {r.id for r in plan.runs if r.id not in pending}
    stages = unfinished.stages
    states = task_states(store, [*stages, *plan.runs], scheduler, done)
    counts: dict[tuple[str, str], Counter] = {}
    for run in plan.runs:
        counts.setdefault((run.spec.method, run.dataset), Counter())[states[run.id].state] += 1
    columns = COLUMNS
    m = max([18, *(len(method) for method, _ in counts)])
    d = max([12, *(len(dataset) for _, dataset in counts)])  # a folder's path can be long
    table = [f"{'method':<{m}} {'dataset':<{d}} " + " ".join(f"{c:>7}" for c in columns)]
    total: Counter = Counter()
    for (method, dataset), c in counts.items():
        total.update(c)
        table.append(f"{method:<{m}} {dataset:<{d}} " + " ".join(f"{c[col]:>7}" for col in columns))
    table.append(f"{'total':<{m + d + 1}} " + " ".join(f"{total[col]:>7}" for col in columns) + f"   (results: {store.root})")
    details = []
    for label in dict.fromkeys(s.label for s in stages):
        sc = Counter(states[s.id].state for s in stages if s.label == label)
        details.append(f"{label} stages of the unfinished runs: " + ", ".join(f"{sc[c]} {c}" for c in columns if sc[c]))
    if problem:
        details.append(f"scheduler not reachable ({problem}): submitted runs without a record are shown as pending")
    if scheduler is not None:
        queue = scheduler.queue()
        jobs = {s.job_id: queue[s.job_id] for s in states.values()
                if s.job_id in queue and s.state in ("pending", "running")}
        if jobs:
            running = sum(state in RUNNING_STATES for state, _ in jobs.values())
            pend = Counter(reason for state, reason in jobs.values() if state not in RUNNING_STATES)
            reasons = ", ".join(f"{reason}: {n}" for reason, n in pend.most_common())
            details.append(f"SLURM jobs: {running} running, {sum(pend.values())} pending"
                           + (f" (reasons: {reasons})" if reasons else ""))
        interrupted = [s for s in states.values() if s.state == "missing" and s.job_id]
        if interrupted:
            details.append(f"{len(interrupted)} task(s) whose job was cancelled or interrupted: the next `run` "
                           "resubmits them and they resume from their checkpoints")
    failed_tasks = [t for t in [*stages, *plan.runs] if states[t.id].state == "failed"]
    for task in failed_tasks:
        s = states[task.id]
        job = f" (job {s.job_id})" if s.job_id else ""
        details.append(f"failed: {task.describe()}{job}\n  error: {printable(s.detail)}\n"
                       f"  log: {printable(str(s.log))}")
    if failed_tasks and uses_slurm:
        details.append("`run ... --executor slurm --retry-failed` resubmits the failed tasks")
    return table, details



def trial_lines(store: Store, plan: Plan) -> list[str]:
    """A line per search of `tune` on the plan's runs with finished trials in the store: how many
    finished (complete, pruned), and whether `tune` has chosen its values."""
    folder = store.root / "tune" / "trials"
    if not folder.is_dir():
        return []
    runs = {r.id: r for r in plan.runs}
    studies: dict[str, tuple[TrialSpec, Counter]] = {}
    for path in sorted(folder.glob("*.json")):
        record = store.trial_record(path.stem)
        if record is None:
            continue
        t = TrialSpec.from_dict(record["trial"])
        if t.run.id in runs:
            studies.setdefault(t.study_id, (t, Counter()))[1][record["state"]] += 1
    lines = []
    for t, states in studies.values():
        run = runs[t.run.id]
        chosen = "values chosen" if store.choice(run.id) is not None else "no values chosen yet"
        lines.append(f"tune: {t.method} {t.dataset} shots={t.shots} [{t.profile}] on seed {t.seed}'s subset: "
                     f"{sum(states.values())} trials finished ({states['complete']} complete, {states['pruned']} "
                     f"pruned); {chosen}")
    return lines

