"""The SLURM launcher: the plan's unfinished tasks as job arrays through submitit, the stages the
runs need first, level by level, and the arrays that need them held by a dependency; all
submitted at once (nothing waits here).

- profiles.py: resources per dataset and section from a cluster profile (slurm/<name>.toml);
- submit.py: which tasks to submit as which arrays, the job each runs (`SlurmBatch`, requeued by
  submitit on a time limit or preemption), the submission and its summary;
- scheduler.py: squeue / sacct and the jobs' logs;
- states.py: each task's state from the store and the scheduler (for `run` and `status`);
- options.py: the command-line options of `run --executor slurm`.
"""
