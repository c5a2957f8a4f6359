"""Command line: python -m benchmark run | status | report | list | perf."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

from benchmark.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def add_selection(p: argparse.ArgumentParser, grid_required: bool = True) -> None:
    from benchmark.grids import GRIDS
    p.add_argument("--grid", required=grid_required, metavar="G", help=f"grid to use: {', '.join(GRIDS)}")
    p.add_argument("--methods", metavar="M1,M2", help="only these methods of the grid")
    p.add_argument("--datasets", metavar="D1,D2", help="only these datasets of the grid")
    p.add_argument("--shots", metavar="S1,S2", help="only these samples-per-class values of the grid")
    p.add_argument("--seeds", metavar="K1,K2", help="only these seeds of the grid")


def add_results_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", type=Path, default=None, metavar="DIR",
                   help="results directory (default: $BENCHMARK_RESULTS_DIR or ./results)")


def build_parser() -> Parser:
    p = Parser(prog="python -m benchmark", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="train every run of a grid that has no record yet",
                         description="Train every run of a grid that has no record yet. Finished runs are skipped; "
                                     "interrupted runs resume from their checkpoint.")
    add_selection(run)
    add_results_dir(run)
    run.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                     help="where the datasets are (default: $BENCHMARK_DATA_DIR or ~/.cache/smalldata-benchmark/data)")
    run.add_argument("--download", action="store_true", help="download missing dataset files (needs internet)")
    run.add_argument("--executor", default="local", metavar="E",
                     help="local (parallel local processes, default) or debug (in this process)")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="parallel local processes (default: one per GPU, else one per CPU core up to 8)")
    run.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                     help="write a checkpoint at the first epoch end after this many seconds (default 60)")
    run.add_argument("--dry-run", action="store_true", help="print the plan (run counts, training steps, estimated time) and exit")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    status = sub.add_parser("status", help="done / missing / failed runs of a grid",
                            description="Count the done, missing and failed runs of a grid, per method and dataset; "
                                        "list failed runs with their last error and log.")
    add_selection(status)
    add_results_dir(status)

    report = sub.add_parser("report", help="write Markdown tables of the results next to the published numbers",
                            description="Write one Markdown table per dataset and grid (methods x samples per class, "
                                        "mean ± std over seeds) next to the published numbers of results/paper/.")
    report.add_argument("--grid", default=None, metavar="G", help="only this grid (default: every grid with results)")
    add_results_dir(report)
    report.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR", help="output directory (default ./reports)")

    lst = sub.add_parser("list", help="show the methods, datasets and grids",
                         description="Show the registered methods, the datasets and the grids.")
    lst.add_argument("what", nargs="?", default="all", choices=["all", "methods", "datasets", "grids"])

    perf = sub.add_parser("perf", help="measure the training step of every method on this device",
                          description="Images/s of the training step of each method, and loop efficiency = bare model "
                                      "forward+backward time / whole step time, on the current device. Uses random "
                                      "images of the dataset's shape (no data files needed).")
    perf.add_argument("--methods", metavar="M1,M2", help="only these methods (default: all registered)")
    perf.add_argument("--dataset", default="cifair10", metavar="D", help="dataset whose shape and recipe to use (default cifair10)")
    perf.add_argument("--profile", default="paper", metavar="P", help="paper (the published model, default) or quick")
    perf.add_argument("--steps", type=int, default=10, metavar="N", help="timed steps per method (default 10)")
    perf.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.data import default_data_dir
    from benchmark.grids import grid_specs, select
    from benchmark.launch import EXECUTORS, launch
    from benchmark.plan import describe_plan, validate_data
    from benchmark.store import Store, default_results_dir
    from benchmark.worker import task_id

    if args.executor not in EXECUTORS:
        raise UserError(f"unknown executor '{args.executor}'; valid: {', '.join(EXECUTORS)}")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    specs = select(grid_specs(args.grid), args.grid, args.methods, args.datasets, args.shots, args.seeds)
    store = Store(args.results_dir or default_results_dir())
    data_dir = args.data_dir or default_data_dir()
    if args.dry_run:
        print(describe_plan(specs, store, data_dir))
        return 0
    validate_data(specs, data_dir, args.download)
    outcome = launch(specs, args.executor, store, data_dir, args.workers, args.checkpoint_every, not args.quiet)
    stages = f"{outcome.stages_trained} stages trained, " if outcome.stages_trained else ""
    print(f"{stages}{len(outcome.done)} runs finished, {outcome.skipped} already done, {len(outcome.failed)} failed; "
          f"records in {store.root / 'runs'}")
    for task in outcome.failed[:10]:
        failure = store.load_failure(task_id(task)) or {}
        print(f"  failed: {task.describe()}: {failure.get('error', 'no record written')} (log: {failure.get('log')})")
    return 1 if outcome.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from benchmark.grids import grid_specs, select
    from benchmark.store import Store, default_results_dir

    specs = select(grid_specs(args.grid), args.grid, args.methods, args.datasets, args.shots, args.seeds)
    store = Store(args.results_dir or default_results_dir())
    counts: dict[tuple[str, str], Counter] = {}
    failed = []
    for spec in specs:
        state = "done" if store.is_done(spec) else "failed" if store.load_failure(spec.run_id) else "missing"
        counts.setdefault((spec.method, spec.dataset), Counter())[state] += 1
        if state == "failed":
            failed.append(spec)
    total = Counter()
    print(f"{'method':<18} {'dataset':<12} {'done':>6} {'missing':>8} {'failed':>7}")
    for (method, dataset), c in counts.items():
        total.update(c)
        print(f"{method:<18} {dataset:<12} {c['done']:>6} {c['missing']:>8} {c['failed']:>7}")
    print(f"{'total':<31} {total['done']:>6} {total['missing']:>8} {total['failed']:>7}   (results: {store.root})")
    for spec in failed:
        failure = store.load_failure(spec.run_id) or {}
        print(f"failed: {spec.describe()}\n  error: {failure.get('error')}\n  log: {failure.get('log')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report import write_report
    from benchmark.store import Store, default_results_dir

    store = Store(args.results_dir or default_results_dir())
    written = write_report(store, args.out, args.grid)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.data import DATASETS
    from benchmark.grids import GRIDS
    from methods import METHODS

    if args.what in ("all", "methods"):
        print("methods:")
        for name, cls in METHODS.items():
            print(f"  {name:<18} {cls.label:<16} {cls.summary}")
    if args.what in ("all", "datasets"):
        print("datasets:")
        for name, info in DATASETS.items():
            print(f"  {name:<18} {info.label:<16} {info.description}")
        print(f"  {'folder:PATH':<18} {'(yours)':<16} your images, one subfolder per class (see README)")
    if args.what in ("all", "grids"):
        print("grids:")
        for name, grid in GRIDS.items():
            print(f"  {name:<18} {len(grid.build()):>5} runs  {grid.summary}")
    return 0


def cmd_perf(args: argparse.Namespace) -> int:
    from benchmark.perf import format_table, run_perf

    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    rows = run_perf(args.methods, args.dataset, args.profile, args.steps)
    if args.json:
        import json
        print(json.dumps(rows, indent=1))
    else:
        print(format_table(rows))
    return 0


COMMANDS = {"run": cmd_run, "status": cmd_status, "report": cmd_report, "list": cmd_list, "perf": cmd_perf}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
