"""The SLURM options of `run` (--executor slurm): each overrides the profile for every job."""
from __future__ import annotations

from benchmark.errors import UserError
from benchmark.orchestration.slurm.profiles import DEFAULT_PROFILE

CLI_OVERRIDES = [  # (Resources field, metavar, help); the option is --FIELD with dashes
    ("partition", "NAME", "partition (sbatch --partition)"),
    ("account", "NAME", "account to charge (sbatch --account)"),
    ("qos", "NAME", "quality of service (sbatch --qos)"),
    ("gres", "SPEC", "generic resources per node, e.g. gpu:1 or gpu:a100:1 (sbatch --gres)"),
    ("gpus", "N", "GPUs per node (sbatch --gpus-per-node), instead of --gres"),
    ("cpus", "N", "CPUs per job (sbatch --cpus-per-task)"),
    ("mem", "SIZE", "memory per job, e.g. 12G or 500M (sbatch --mem)"),
    ("time", "LIMIT", "time limit per job: minutes, HH:MM:SS or D-HH:MM:SS (sbatch --time); a job that reaches it "
                      "is checkpointed and requeued up to --max-timeouts times"),
    ("constraint", "FEATURES", "node features, e.g. a100 (sbatch --constraint)"),
    ("array_parallelism", "N", "jobs of one array that may run at once (sbatch --array=...%%N)"),
    ("runs_per_job", "N", "runs (or stages) that one job trains one after another; packs several short runs into "
                          "one job"),
    ("max_timeouts", "N", "requeues after reaching the time limit before the job counts as failed"),
]


def option(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_slurm_arguments(parser) -> None:
    group = parser.add_argument_group(
        "SLURM (--executor slurm)",
        "Submit job arrays and return at once: the stages (e.g. generators) the runs need first, level by level, "
        "the runs that need them held until the jobs that train them end. Resources come from the cluster "
        "profile, per dataset and section (see slurm/default.toml); each option below overrides the profile for "
        "every job. Running the same command again submits only runs that have no record, are not queued and "
        "have not failed.")
    group.add_argument("--slurm-profile", default=None, metavar="NAME|PATH",
                       help="cluster profile: slurm/NAME.toml (looked up in ./slurm, then the repository's slurm/) or "
                            f"the path of a .toml file (default: {DEFAULT_PROFILE}; shipped: default, testcluster)")
    for field_name, metavar, text in CLI_OVERRIDES:
        group.add_argument(option(field_name), default=None, metavar=metavar, help=text)
    group.add_argument("--retry-failed", action="store_true",
                       help="also resubmit runs and stages whose last job failed (without it they are left "
                            "out and the command says how many)")


def slurm_options_from_args(args):
    """SlurmOptions for --executor slurm (None for the other executors); a UserError if a SLURM
    option comes with another executor."""
    given = {f: getattr(args, f) for f, _, _ in CLI_OVERRIDES if getattr(args, f) is not None}
    if args.executor != "slurm":
        used = [option(f) for f in given]
        used += ["--slurm-profile"] * (args.slurm_profile is not None) + ["--retry-failed"] * args.retry_failed
        if used:
            raise UserError(f"{', '.join(used)} only apply to --executor slurm (got --executor {args.executor})")
        return None
    from benchmark.orchestration.slurm.submit import SlurmOptions
    options = SlurmOptions(args.slurm_profile or DEFAULT_PROFILE, given, args.retry_failed)
    options.resources()  # a bad profile or value fails here, before the plan is measured or data is read
    return options
