"""Command line: python -m benchmark (or smalldata-benchmark) run | tune | status | report | export | list | perf |
samples | subsets | analyze. Parsing imports nothing heavy: --help, list, status and the dry run answer without
torch; each command imports what it computes with."""
from __future__ import annotations

import argparse
import io
import signal
import sys
from pathlib import Path

from benchmark.arguments import results_dir, writable_dir
from benchmark.atomic import write_text_atomic
from benchmark.errors import UserError, disk_full, os_error_line
from benchmark.stored import printable
from benchmark.parser import build_parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the workers are stopped and nothing finished is lost."""


def selected(args: argparse.Namespace, log=print):
    """The selection of the command line (a grid, a grid file, or a product of the options); its
    notes (the profile chosen, runs left out and why) go to `log`."""
    from benchmark.orchestration.selection import from_args
    selection = from_args(args)
    for note in selection.notes:
        log(note)
    return selection


def with_tuned(specs: list, store):
    """These runs and the tuned runs `tune` chose for them (in `store`), resolved into the task graph."""
    from benchmark.orchestration.plan import resolve
    from benchmark.orchestration.tuning import tuned_runs
    return resolve([*specs, *tuned_runs(specs, store)])


def has_selection(args: argparse.Namespace) -> bool:
    return any(getattr(args, option) is not None for option in ("grid", "datasets", "methods", "shots", "seeds",
                                                                 "profile"))


def launch_options(args: argparse.Namespace):
    """What `run` and `tune` check before they select: --workers, the SLURM options (None to train
    here) and the data directory."""
    from benchmark.data import default_data_dir
    from benchmark.orchestration.slurm.options import slurm_options_from_args

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    return slurm_options_from_args(args), args.data_dir or default_data_dir()


def results_store(args: argparse.Namespace):
    from benchmark.orchestration.store import Store
    return Store(writable_dir(results_dir(args.results_dir, must_exist=False), "results directory"))


def check_data(plan, store, data_dir: Path, args: argparse.Namespace) -> None:
    """Every dataset of the plan is there (or downloaded with --download) and every folder is sound."""
    from benchmark.orchestration.folders import check_folders
    from benchmark.orchestration.plan import validate_data
    validate_data(plan, data_dir, args.download)
    check_folders(plan, store)


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.orchestration.plan import resolve

    slurm_options, data_dir = launch_options(args)
    selection = selected(args)
    plan = resolve(selection.specs)
    found = []
    if selection.tune is not None:
        from benchmark.orchestration.tuning import searches
        tune = selection.tune
        found = searches(resolve([s for s in selection.specs if s.method in tune.methods]), tune.trials, tune.once)
    store = results_store(args)
    if args.dry_run:
        if found:
            print(tuning_dry_run(found, store, args, slurm_options) + "\n")
        print(dry_run(plan, store, slurm_options))
        return 0
    check_data(plan, store, data_dir, args)
    if found:
        status = run_searches(found, store, data_dir, args, slurm_options)
        if status is not None:
            return status
        plan = with_tuned(selection.specs, store)
    return train_runs(plan, store, data_dir, args, slurm_options)


def dry_run(plan, store, slurm_options) -> str:
    from benchmark.orchestration.cost import CostModel, local_device_kind
    from benchmark.orchestration.plan import describe_plan
    device = slurm_options.device_kind(plan) if slurm_options else local_device_kind()
    lines = [describe_plan(plan, store, CostModel.for_device(device))]
    if slurm_options:
        from benchmark.orchestration.slurm.scheduler import scheduler_for
        from benchmark.orchestration.slurm.submit import plan_submission
        scheduler = scheduler_for(required=False)[0]
        lines += plan_submission(plan, store, slurm_options, scheduler).dry_run(slurm_options.profile)
    return "\n".join(lines)


def job_options(args: argparse.Namespace):
    from benchmark.orchestration.worker import JobOptions
    return JobOptions(checkpoint_every_s=args.checkpoint_every, compile_model=args.compile)


def train_runs(plan, store, data_dir: Path, args: argparse.Namespace, slurm_options) -> int:
    """Train (or submit) the plan's unfinished runs and say how it went."""
    if slurm_options:
        from benchmark.orchestration.slurm.submit import submit
        print("\n".join(submit(plan, store, data_dir, slurm_options, job_options(args)).summary(store.slurm_jobs_dir)))
        return 0
    from benchmark.orchestration.local import launch
    outcome = launch(plan, args.executor, store, data_dir, args.workers, job_options(args), not args.quiet)
    stages = f"{outcome.stages_trained} stages trained, " if outcome.stages_trained else ""
    left = f", {len(outcome.left)} left to another process" if outcome.left else ""
    print(f"{stages}{len(outcome.done)} runs finished, {outcome.skipped} already done, {len(outcome.failed)} failed"
          f"{left}; records in {store.root / 'runs'}")
    print_failures(store, outcome.failed)
    return 1 if outcome.failed else 0


def print_failures(store, failed: list) -> None:
    for task in failed[:10]:
        failure = store.load_failure(task.id) or {}
        print(f"  failed: {task.describe()}: {printable(failure.get('error', 'no record written'))} "
              f"(log: {printable(str(failure.get('log')))})")


def tuning_dry_run(found, store, args: argparse.Namespace, slurm_options) -> str:
    from benchmark.orchestration.cost import CostModel, local_device_kind
    from benchmark.orchestration.tuning import describe_tuning, trial_plan
    device = slurm_options.device_kind(trial_plan(found)) if slurm_options else local_device_kind()
    return describe_tuning(found, store, CostModel.for_device(device))


def run_searches(found, store, data_dir: Path, args: argparse.Namespace, slurm_options) -> int | None:
    """Train (or submit) the searches' unfinished trials, then choose each search's values; None
    when every search has chosen (its tuned runs can train), else the exit status."""
    from benchmark.orchestration.tuning import choose, describe_choice, trial_plan
    trials = trial_plan(found)
    if slurm_options:
        from benchmark.orchestration.slurm.submit import submit
        print("\n".join(submit(trials, store, data_dir, slurm_options, job_options(args)).summary(store.slurm_jobs_dir)))
        if not all(t.done(store) for t in trials.runs):
            print("the tuned runs need the trials' results: run the same command again once the trials have finished "
                  "(`status` with the same selection counts them)")
            return 0
    else:
        from benchmark.orchestration.local import launch
        outcome = launch(trials, args.executor, store, data_dir, args.workers, job_options(args), not args.quiet)
        left = f", {len(outcome.left)} left to another process" if outcome.left else ""
        print(f"{len(outcome.done)} trials finished, {outcome.skipped} already done, {len(outcome.failed)} failed{left}; "
              f"records in {store.root / 'tune' / 'trials'}")
        print_failures(store, outcome.failed)
        if outcome.failed or outcome.left:
            print("no tuned run is trained before every trial has finished: run the same command again to resume")
            return 1 if outcome.failed else 0
    for search in found:
        choices = choose(search, store)
        print(describe_choice(search, choices[0] if choices else None))
        if not choices:
            return 1
    return None


def cmd_tune(args: argparse.Namespace) -> int:
    from benchmark.orchestration.plan import resolve
    from benchmark.orchestration.tuning import searches, tuned_runs
    from benchmark.parser import DEFAULT_TRIALS

    slurm_options, data_dir = launch_options(args)
    selection = selected(args)
    plan = resolve(selection.specs)
    found = searches(plan, DEFAULT_TRIALS if args.trials is None else args.trials, args.once)
    store = results_store(args)
    if args.dry_run:
        print(tuning_dry_run(found, store, args, slurm_options))
        return 0
    check_data(plan, store, data_dir, args)
    status = run_searches(found, store, data_dir, args, slurm_options)
    if status is not None:
        return status
    return train_runs(resolve(tuned_runs(selection.specs, store)), store, data_dir, args, slurm_options)


def cmd_status(args: argparse.Namespace) -> int:
    from benchmark.orchestration.status import status_lines, trial_lines
    from benchmark.orchestration.store import Store

    specs = selected(args).specs
    store = Store(results_dir(args.results_dir, must_exist=True))
    plan = with_tuned(specs, store)
    table, details = status_lines(store, plan)  # the store, and the scheduler for SLURM runs
    print("\n".join([*table, *details, *trial_lines(store, plan)]))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.output.report import write_report
    from benchmark.orchestration.store import Store

    selection = selected(args) if has_selection(args) else None
    store = Store(results_dir(args.results_dir, must_exist=True))
    writable_dir(args.out, "--out")
    if not args.no_fid and args.grid in (None, "demo"):
        from benchmark.output.analysis.fid import demo_fid
        try:
            demo_fid(store, args.data_dir)
        except Exception as exc:  # noqa: BLE001  the tables must still be written
            print(f"demo FID failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    written = write_report(store, args.out, selection, figures=not args.no_figures, data_dir=args.data_dir)
    for path in written:
        print(f"wrote {path} (and report.tex, tables.tex{'' if args.no_figures else ', figures/'} beside it)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from benchmark.orchestration.store import Store
    from benchmark.output.export import write_csv

    specs = selected(args, log=lambda note: print(note, file=sys.stderr)).specs if has_selection(args) else None
    store = Store(results_dir(args.results_dir, must_exist=True))
    records = list(store.records())
    if specs is not None:
        wanted = {run.id for run in with_tuned(specs, store).runs}
        records = [r for r in records if r.run_id in wanted]
    if args.out is None:
        write_csv(records, sys.stdout)
        return 0
    writable_dir(args.out.parent, "--out's directory")
    text = io.StringIO(newline="")
    n = write_csv(records, text)
    write_text_atomic(args.out, text.getvalue())
    print(f"wrote {n} rows to {args.out}", file=sys.stderr)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from benchmark.orchestration.store import Store

    if args.analysis == "fid-weights":
        from benchmark.output.analysis.fid import write_converted_weights
        weights, diff = write_converted_weights(args.source, args.out)
        print(f"wrote {weights.path}; largest feature difference to the TorchScript original: {diff:.2e}")
        return 0
    from benchmark.output.analysis.sets import MAX_K, parse_sets
    from benchmark.data import check_dataset_name, default_data_dir

    check_dataset_name(args.dataset)
    if args.shots < 1:
        raise UserError(f"--shots must be a positive integer, got {args.shots}")
    if not 2 <= args.k <= MAX_K:
        raise UserError(f"--k must be at least 2 and at most {MAX_K}, got {args.k}")
    names = parse_sets(args.sets)
    store = Store(results_dir(args.results_dir, must_exist=False))
    data_dir = args.data_dir or default_data_dir()
    print(f"{args.analysis.upper()} of {', '.join(names)} on {args.dataset}, {args.shots} shots, seed {args.seed}, K = {args.k}")
    if args.analysis == "fid":
        from benchmark.output.analysis.fid import run_fid
        if args.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
        result, path = run_fid(args.dataset, args.shots, args.seed, names, args.k, store, data_dir, args.profile,
                               args.reference_size, args.inception_weights, args.download, batch_size=args.batch_size,
                               feature_layer=args.feature_layer)
        print(f"reference: {result['reference_size']} of {result['reference_pool']} training images; "
              f"weights: {result['weights']}")
    else:
        from benchmark.output.analysis.cse import run_cse
        result, path = run_cse(args.dataset, args.shots, args.seed, names, args.k, store, data_dir, args.profile,
                               args.clip_model, args.clip_pretrained, args.download, args.clip_config, args.root,
                               args.with_instances, args.cache_dir)
    print(f"wrote {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.data import DATASETS
    from benchmark.orchestration.grids import GRIDS
    from methods import METHODS, PLUGINS

    if args.what in ("all", "methods"):
        print("methods:")
        width = max(len(cls.label) for cls in METHODS.values())
        source = {name: f"plug-in {PLUGINS[name]}" if name in PLUGINS else "built in" for name in METHODS}
        source_width = max(map(len, source.values()))
        for name, cls in METHODS.items():
            print(f"  {name:<18} {cls.label:<{width}} {source[name]:<{source_width}} {cls.summary}")
    if args.what in ("all", "datasets"):
        print("datasets:")
        for name, info in DATASETS.items():
            print(f"  {name:<18} {info.label:<16} {info.description}")
        print(f"  {'folder:PATH':<18} {'(yours)':<16} your images, one subfolder per class, at 32x32 "
              "(folder@SIZE:PATH at SIZE x SIZE; see README.md)")
    if args.what in ("all", "grids"):
        print("grids:")
        for name, grid in GRIDS.items():
            print(f"  {name:<18} {len(grid.build()):>5} runs  {grid.summary}")
    return 0


def cmd_perf(args: argparse.Namespace) -> int:
    from benchmark.output.perf import (CHECKED, REGRESSION_FACTOR, compared, confirmed_regressions, format_table,
                                       load_baseline, measurement_errors, run_perf)

    if args.step_times:
        return measure_step_times(args)
    if args.data_path is not None:
        return measure_data_paths(args)
    if args.grid is not None:
        raise UserError("--grid only applies to --step-times")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    baseline = None if args.check is None else load_baseline(args.check)
    rows = run_perf(args.methods, args.dataset, args.profile, args.steps, args.overhead_only, args.compile)
    if args.json:
        import json
        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows))
    for line in measurement_errors(rows):
        print(f"perf: {line}", file=sys.stderr)
    if baseline is None:
        return 0
    if not any(compared(rows, baseline)):
        measured = ", ".join(dict.fromkeys(f"{r['method']} ({r['dataset']}, {r['profile']})" for r in rows))
        raise UserError(f"--check: compared nothing: {args.check} has no {' or '.join(CHECKED)} figure of what was "
                        f"measured ({measured})")
    regressions = confirmed_regressions(rows, baseline, lambda names: run_perf(
        ",".join(names), args.dataset, args.profile, args.steps, args.overhead_only, args.compile, progress=False))
    for line in regressions:
        print(f"PERF REGRESSION (more than {REGRESSION_FACTOR:g}x {args.check}): {line}", file=sys.stderr)
    if not regressions:
        print(f"perf check: no overhead above {REGRESSION_FACTOR:g}x {args.check}", file=sys.stderr)
    return 1 if regressions else 0


def measure_data_paths(args: argparse.Namespace) -> int:
    from benchmark.data import check_dataset_name, default_data_dir
    from benchmark.output.perf_data import format_data_paths, measure_data_paths as measure
    from benchmark.training.engine import default_device

    check_dataset_name(args.data_path)
    if args.batches < 1 or args.batch_size < 1:
        raise UserError(f"--batches and --batch-size must be at least 1, got {args.batches} and {args.batch_size}")
    rows = measure(args.data_path, args.data_dir or default_data_dir(), args.batches, args.batch_size, default_device())
    if args.json:
        import json
        print(json.dumps(rows, indent=1))
    else:
        print(format_data_paths(rows))
    return 0


def measure_step_times(args: argparse.Namespace) -> int:
    from benchmark.orchestration.cost import STEP_TIMES, write_step_times
    from benchmark.orchestration.grids import GRIDS, grid_specs
    from benchmark.orchestration.plan import resolve
    from benchmark.output.perf import device_description, measure_step_times as measure
    from benchmark.training.engine import default_device

    if args.grid and args.grid.endswith(".toml"):
        from benchmark.orchestration.grid_file import read_grid_file
        specs = read_grid_file(Path(args.grid)).specs
    else:
        specs = grid_specs(args.grid) if args.grid else [s for name in GRIDS for s in grid_specs(name)]
    device = default_device()
    times = measure(resolve(specs), device)
    write_step_times(device.type, device_description(device), times)
    for key, seconds in sorted(times.items()):
        print(f"{key:<48} {1000 * seconds:10.1f} ms")
    print(f"wrote {len(times)} step times of {device.type} into {STEP_TIMES}")
    return 0


def cmd_subsets(args: argparse.Namespace) -> int:
    from benchmark.data import check_dataset_name, default_data_dir
    from benchmark.data.subsets import write_subsets
    from benchmark.arguments import parse_seeds, parse_shots

    check_dataset_name(args.dataset)
    written = write_subsets(args.dataset, parse_shots(args.shots), parse_seeds(args.seeds),
                            args.data_dir or default_data_dir(), args.out)
    for path, digest in written:
        print(f"wrote {path} (subset {digest})")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from benchmark.data import check_dataset_name, default_data_dir
    from benchmark.orchestration.store import Store
    from benchmark.output.analysis.sets import resolve_profile
    from benchmark.output.samples import write_samples

    check_dataset_name(args.dataset)
    store = Store(results_dir(args.results_dir, must_exist=False))
    profile = resolve_profile([args.method], args.dataset, args.shots, args.seed, store, args.profile)
    out = args.out or Path("reports") / "samples" / f"{args.method}_{args.dataset.replace('/', '_')}_{args.shots}_{args.seed}_{profile}.png"
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; give the image file to write")
    writable_dir(out.parent, "--out's directory")
    [path] = write_samples(args.method, args.dataset, args.shots, args.seed, profile, store,
                           args.data_dir or default_data_dir(), [out], args.rows)
    print(f"wrote {path}")
    return 0


COMMANDS = {"run": cmd_run, "tune": cmd_tune, "status": cmd_status, "report": cmd_report, "export": cmd_export, "list": cmd_list,
            "perf": cmd_perf, "samples": cmd_samples, "subsets": cmd_subsets, "analyze": cmd_analyze}


def terminate(signum: int, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        for line in str(exc).splitlines():  # one line per mistake (a grid file's)
            print(f"error: {line}", file=sys.stderr)
        return 2
    except OSError as exc:  # the results directory's disk or permissions, met while working
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 1 if disk_full(exc) else 2
    except KeyboardInterrupt as exc:
        what = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{what}: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
