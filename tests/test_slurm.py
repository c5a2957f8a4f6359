"""The SLURM launcher: profiles and options (no cluster needed), then a real single-node Slurm
cluster (slurm/testcluster/up.sh, started and stopped by PID by the `cluster` fixture): a grid slice
with a generator submitted as arrays with a dependency, idempotent resubmission, status from the
scheduler, a cancelled job resubmitted and a preempted job requeued by submitit, both resuming from
their checkpoints with the record of an uninterrupted run. Every wait is bounded.

Without SLURM (slurm-wlm, munge) or root the cluster tests skip; with CI=true they fail instead."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.orchestration.grids import GRIDS, Grid, grid_specs, select
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.slurm import options as slurm_options, profiles
from benchmark.orchestration.slurm import scheduler as slurm_scheduler, states as slurm_states, submit as slurm_submit
from benchmark.orchestration.store import Store
from benchmark.spec import RunSpec
from helpers import fake_record, grid_tasks
from toy_stages import TOY_GRID

REPO = Path(__file__).resolve().parent.parent
WAIT_S = 1800  # the longest any test waits for jobs (2 shared cores; a job here takes 0.5-3 min: 5x that, and more)
SLICE = ["--grid", "demo", "--methods", "baseline,chimeramix_grid", "--shots", "5", "--seeds", "0"]
ON_TEST_CLUSTER = ["--executor", "slurm", "--slurm-profile", "testcluster"]


# ----------------------------------------------------------------------------------------------
# Profiles and options: no cluster needed
# ----------------------------------------------------------------------------------------------

def test_shipped_profiles_load_and_resolve_per_dataset_and_stage():
    default = profiles.load_profile("default")
    gen = default.resources("cifair10", "generator")
    assert (gen.gres, gen.cpus, gen.mem, gen.time, gen.partition) == ("gpu:1", 6, "12G", 1440, "gpu")
    assert default.resources("cifair10", "classifier").runs_per_job == 4
    assert default.resources("cifair100", "classifier").runs_per_job == 1
    test = profiles.load_profile("testcluster").resources("digits", "classifier")
    assert (test.partition, test.gres, test.gpus, test.cpus) == ("debug", None, None, 1)


def test_profile_layers_and_command_line_overrides(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('partition = "a"\ncpus = 2\ntime = "1-02:00:00"\nmem = 8\naccount = "lab"\n'
                    '[generator]\ncpus = 3\n[classifier]\nqos = "short"\n'
                    '[datasets.stl10]\npartition = "big"\nsbatch = { mail-type = "FAIL" }\n'
                    '[datasets.stl10.generator]\ntime = 90\n[datasets.folder]\naccount = ""\n')
    profile = profiles.load_profile(str(path))
    r = profile.resources("cifair10", "generator")
    assert (r.partition, r.cpus, r.time, r.mem, r.account, r.qos) == ("a", 3, 1560, "8G", "lab", None)
    r = profile.resources("stl10", "generator")
    assert (r.partition, r.cpus, r.time, r.sbatch) == ("big", 3, 90, (("mail-type", "FAIL"),))
    r = profile.resources("stl10", "classifier")
    assert (r.partition, r.cpus, r.time, r.qos) == ("big", 2, 1560, "short")
    assert profile.resources("folder:/x/y", "classifier").account is None
    over = profile.with_overrides({"partition": "fast", "time": "00:30:00", "cpus": "4", "mem": "500M", "gres": None})
    r = over.resources("stl10", "generator")
    assert (r.partition, r.time, r.cpus, r.mem) == ("fast", 30, 4, "500M")
    params = r.executor_parameters()
    assert params["time"] == 30 and params["partition"] == "fast" and params["additional_parameters"] == {"mail-type": "FAIL"}


@pytest.mark.parametrize("text, minutes", [(90, 90), ("90", 90), ("1:30", 2), ("02:00:00", 120),
                                          ("1-00:00:00", 1440), ("2-6", 3240), ("1-01:30", 1530)])
def test_time_limits_in_slurm_formats(text, minutes):
    assert profiles.parse_minutes(text, "x") == minutes


@pytest.mark.parametrize("content, message", [
    ('partiton = "a"\n', "unknown key(s) partiton"),
    ('[datasets.cifar11]\ncpus = 1\n', "unknown dataset [datasets.cifar11]"),
    ('[gpu]\ncpus = 1\n', "unknown table [gpu]"),
    ('time = "soon"\n', "time 'soon' is not a SLURM time limit"),
    ('mem = "1.5G"\n', "mem '1.5G' is not a memory size"),
    ('cpus = 0\n', "cpus must be an integer >= 1"),
    ('cpus = \n', "slurm profile"),
])
def test_bad_profiles_name_the_bad_value(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        profiles.load_profile(str(path))


def test_cli_errors_for_slurm_options(capsys, tmp_path):
    results = str(tmp_path / "results")
    assert main(["run", *SLICE, "--partition", "gpu", "--results-dir", results]) == 2
    assert "--partition only apply to --executor slurm (got --executor local)" in capsys.readouterr().err
    assert main(["run", *SLICE, "--executor", "slurm", "--slurm-profile", "nope", "--dry-run", "--results-dir", results]) == 2
    assert "unknown slurm profile 'nope'; valid: default, testcluster" in capsys.readouterr().err
    assert main(["run", *SLICE, "--executor", "slurm", "--time", "soon", "--dry-run", "--results-dir", results]) == 2
    assert "command line: time 'soon' is not a SLURM time limit" in capsys.readouterr().err


def test_a_bad_slurm_option_fails_before_the_plan_is_printed(capsys, tmp_path):
    assert main(["run", *SLICE, "--executor", "slurm", "--gpus", "x", "--dry-run",
                 "--results-dir", str(tmp_path / "results")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == ["error: command line: gpus must be an integer >= 0, got 'x'"]


def test_every_slurm_option_is_in_help_and_the_slurm_docs():
    help_text = subprocess.run([sys.executable, "-m", "benchmark", "run", "--help"], capture_output=True, text=True,
                               cwd=REPO, env={**os.environ, "COLUMNS": "200"}).stdout
    readme = (REPO / "docs" / "slurm.md").read_text()
    for option in ["--slurm-profile", "--retry-failed", *(slurm_options.option(f) for f, *_ in slurm_options.CLI_OVERRIDES)]:
        assert option in help_text, option
        assert f"`{option}" in readme, option


def test_dry_run_shows_the_arrays_of_table1_on_the_default_profile(capsys, tmp_path, monkeypatch):
    results = tmp_path / "results"
    assert main(["run", "--grid", "table1", "--executor", "slurm", "--dry-run", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert "slurm profile default: would submit" in out
    assert "classifier cifair100" in out and "gres=gpu:1 cpus=6 mem=12G time=1-00:00:00" in out
    if any(t.requires for t in grid_tasks("table1")):
        assert "generator cifair10" in out and "held until the stages it needs end" in out
    assert "GPU-hours of training on a GPU (one per job; assumed step times" in out  # the one estimate
    assert "of training on cpu" not in out


def test_dependency_names_whole_arrays_and_single_jobs():
    arrays = {"10": {"10_0", "10_1"}, "11": {"11_0", "11_1"}}
    assert slurm_submit.dependency_string({"10_0", "10_1", "11_1"}, arrays) == "afterany:10:11_1"
    assert slurm_submit.dependency_string({"7"}, {}) == "afterany:7"
    assert slurm_submit.dependency_string(set(), arrays) is None


def test_an_ended_job_is_read_from_its_log_and_end_note(tmp_path):
    store = Store(tmp_path)
    folder = store.jobs_dir / "slurm"
    folder.mkdir(parents=True)
    (folder / "5_0_log.err").write_text("step 3\nslurmstepd: error: *** JOB 5 ON vm CANCELLED AT 2024-01-01T00:00:00 ***\n")
    assert slurm_scheduler.ended_job(store, "5", "")[0] == "CANCELLED"
    (folder / "6_1_0_log.err").write_text("slurmstepd: error: *** JOB 7 ON vm CANCELLED AT 2024-01-01T00:00:00 "
                                          "DUE TO TIME LIMIT ***\n")
    state, error, _ = slurm_scheduler.ended_job(store, "6_1", "")
    assert state == "TIMEOUT" and error.startswith("*** JOB 7") and "DUE TO TIME LIMIT" in error
    # a requeue is not an end: the job ran again (and was then killed by the OOM killer)
    (folder / "7_0_log.err").write_text("slurmstepd-vm: error: *** JOB 7 ON vm CANCELLED AT 2024-01-01T00:00:00 DUE TO "
                                        "JOB REQUEUE ***\nepoch 3\nslurmstepd: error: Detected 1 oom_kill event\n")
    assert slurm_scheduler.ended_job(store, "7", "")[0] == "OUT_OF_MEMORY"
    (folder / "4_0_log.err").write_text("slurmstepd-vm: error: *** JOB 4 ON vm CANCELLED AT 2024-01-01T00:00:00 DUE TO "
                                        "JOB REQUEUE ***\nepoch 3\n")
    assert slurm_scheduler.ended_job(store, "4", "") == ("UNKNOWN", "epoch 3", [])
    (folder / "8_end.json").write_text('{"outcome": "error", "error": "ValueError: bad", "skipped": []}')
    assert slurm_scheduler.ended_job(store, "8", "") == ("FAILED", "ValueError: bad", [])
    (folder / "10_2_end.json").write_text('{"outcome": "success", "error": "", "skipped": ["abc"]}')
    assert slurm_scheduler.ended_job(store, "10_2", "") == ("COMPLETED", "no log", ["abc"])
    assert slurm_scheduler.ended_job(store, "9", "OUT_OF_MEMORY")[0] == "OUT_OF_MEMORY"


# ----------------------------------------------------------------------------------------------
# A real single-node cluster
# ----------------------------------------------------------------------------------------------

def why_no_cluster() -> str | None:
    for exe in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "srun"):
        if shutil.which(exe) is None and not Path("/usr/sbin", exe).exists():
            return f"{exe} not found: apt-get install -y --no-install-recommends slurm-wlm munge"
    if os.geteuid() != 0:
        return "the test cluster runs slurmd as root (SlurmdUser=root); run the tests as root"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_cluster() -> None:
    """Skip without SLURM (saying why); in CI (CI=true) fail instead."""
    reason = why_no_cluster()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no SLURM test cluster: {reason}")
        pytest.skip(reason)


def test_without_slurm_the_cluster_tests_skip_here_and_fail_in_ci(monkeypatch):
    monkeypatch.setattr(f"{__name__}.why_no_cluster", lambda: "sbatch not found: apt-get install ...")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="sbatch not found"):
        require_cluster()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but no SLURM test cluster: sbatch not found"):
        require_cluster()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real Slurm controller + node on this machine for this module, stopped by PID afterwards."""
    require_cluster()
    base = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURMCTLD_PORT": str(free_port()), "SLURMD_PORT": str(free_port())}
    previous = os.environ.get("SLURM_CONF")
    try:
        up = subprocess.run(["bash", str(REPO / "slurm/testcluster/up.sh"), str(base)], env=env,
                            capture_output=True, text=True, timeout=1800)
        assert up.returncode == 0, f"up.sh failed:\n{up.stdout}\n{up.stderr}"
        os.environ["SLURM_CONF"] = str(base / "slurm.conf")
        yield base
    finally:
        subprocess.run(["bash", str(REPO / "slurm/testcluster/down.sh"), str(base)], timeout=1800)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


def wait_until(predicate, what: str, timeout: float = WAIT_S, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    queue = subprocess.run(["squeue", "-a", "-r", "-t", "all"], capture_output=True, text=True).stdout
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; queue:\n{queue}")


def in_queue(job_id: str) -> bool:
    state = slurm_scheduler.Scheduler().queue().get(job_id, ("", ""))[0]
    return state in slurm_scheduler.PENDING_STATES | slurm_scheduler.RUNNING_STATES


def show(capsys, text: str) -> None:
    """Print past pytest's capture (visible with -s): what the commands printed, for the log."""
    with capsys.disabled():
        print("\n" + text)


def job_logs(store: Store) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((store.jobs_dir / "slurm").glob("*_log.err")))


@pytest.mark.slow
def test_grid_slice_runs_as_arrays_with_a_generator_dependency(cluster, capsys, tmp_path):
    results = tmp_path / "results"
    argv = ["run", *SLICE, *ON_TEST_CLUSTER, "--results-dir", str(results), "--quiet"]
    tasks = resolve(select(grid_specs("demo"), "demo", "baseline,chimeramix_grid", None, "5", "0")).runs
    store = Store(results)
    assert main(argv) == 0
    out = capsys.readouterr().out
    show(capsys, "run:\n" + out)
    assert "submitted 1 generator stage(s) and 2 run(s)" in out
    cm = next(t for t in tasks if t.spec.method == "chimeramix_grid")
    base = next(t for t in tasks if t.spec.method == "baseline")
    (stage,) = cm.requires
    gen_job = store.load_submission(stage.id)["job_id"]
    cm_sub = store.load_submission(cm.id)
    assert cm_sub["dependency"] == f"afterany:{gen_job.split('_')[0]}"
    assert store.load_submission(base.id)["dependency"] is None
    # the scheduler holds the classifier until the generator's job has ended
    shown = subprocess.run(["scontrol", "show", "job", cm_sub["job_id"]], capture_output=True, text=True).stdout
    assert f"Dependency=afterany:{gen_job}" in shown

    # the same command again submits nothing: both runs are queued
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "nothing to submit" in out and "2 already queued" in out

    assert main(["status", *SLICE, "--results-dir", str(results)]) == 0
    midway = capsys.readouterr().out
    show(capsys, "status midway:\n" + midway)
    cm_line = next(line for line in midway.splitlines() if line.startswith("chimeramix_grid"))
    assert cm_line.split()[2:] == ["0", "0", "0", "1", "0"]  # done missing failed pending running
    assert "SLURM jobs:" in midway and "Dependency: 1" in midway

    wait_until(lambda: all(t.done(store) for t in tasks), "both records", every=2)
    records = {r.spec.method: r for r in store.records()}
    assert records["chimeramix_grid"].stages[0]["stage_id"] == stage.id
    assert all(r.environment["threads"] == 1 for r in records.values()), "cpus=1 in the profile = 1 thread"
    assert main(["status", *SLICE, "--results-dir", str(results)]) == 0
    done = capsys.readouterr().out
    assert next(line for line in done.splitlines() if line.startswith("total")).split()[1:6] == ["2", "0", "0", "0", "0"], done
    assert main(argv) == 0
    assert "nothing to submit" in capsys.readouterr().out


@pytest.mark.slow
def test_a_chain_of_stages_becomes_dependencies_level_by_level(cluster, toy, capsys, tmp_path):
    """The toy run needs a label set made with a teacher: three arrays, each held by the one before."""
    results = tmp_path / "results"
    argv = ["run", "--grid", TOY_GRID, *ON_TEST_CLUSTER, "--quiet", "--results-dir", str(results)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    show(capsys, "run:\n" + out)
    assert "submitted 1 teacher stage(s), 1 teacher-label set stage(s) and 2 run(s)" in out
    store = Store(results)
    toy_run, baseline = resolve(toy).runs
    (label_set,) = toy_run.requires
    (teacher,) = label_set.requires
    submitted = {t.what: store.load_submission(t.id) for t in (teacher, label_set, toy_run)}
    array = {what: s["job_id"].split("_")[0] for what, s in submitted.items()}
    assert submitted["teacher stage"]["dependency"] is None
    assert submitted["teacher-label set stage"]["dependency"] == f"afterany:{array['teacher stage']}"
    assert submitted["run"]["dependency"] == f"afterany:{array['teacher-label set stage']}"
    assert store.load_submission(baseline.id)["dependency"] is None
    assert main(["status", "--grid", TOY_GRID, "--results-dir", str(results)]) == 0
    midway = capsys.readouterr().out
    show(capsys, "status midway:\n" + midway)
    assert "teacher stages of the unfinished runs:" in midway
    wait_until(lambda: toy_run.done(store) and baseline.done(store), "both records", every=2)
    assert store.load_record(toy_run.id).stages[0]["stage_id"] == label_set.id
    assert teacher.done(store)


# --- interruptions: a run long enough to interrupt (a folder dataset of 100 classes, quick profile) ---

def noise_folder(root: Path, classes: int) -> None:
    """A folder dataset: `classes` class folders of 7 noisy 32x32 images around a class colour."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c:03d}").mkdir(parents=True)
        mean = rng.integers(0, 256, 3)
        for i in range(7):
            pixels = np.clip(mean + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"class{c:03d}" / f"{i}.png")


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """A RunSpec of ~6,000 steps (15 s on an idle core) on a folder of 100 classes x 7 noise images,
    and a grid `slurmtest` holding only it (in this process; jobs get the pickled spec)."""
    root = tmp_path_factory.mktemp("folder100")
    noise_folder(root, classes=100)
    spec = RunSpec("baseline", f"folder:{root}", 5, 0, profile="quick")
    GRIDS["slurmtest"] = Grid(lambda: [spec], "one long quick run on a folder dataset (tests)")
    yield spec
    GRIDS.pop("slurmtest", None)


def submit_long(results: Path) -> int:
    return main(["run", "--grid", "slurmtest", *ON_TEST_CLUSTER, "--checkpoint-every", "0", "--quiet",
                 "--results-dir", str(results)])


@pytest.fixture(scope="module")
def reference(cluster, long_run, tmp_path_factory):
    """The uninterrupted run on the cluster (same profile, so the same single thread)."""
    results = tmp_path_factory.mktemp("reference")
    assert submit_long(results) == 0
    return Store(results)


def checkpoint_then(store: Store, spec: RunSpec) -> str:
    """Wait until the run has written a checkpoint; its job id."""
    checkpoint = store.root / "checkpoints" / f"{spec.id}.pt"
    wait_until(lambda: checkpoint.exists() or store.is_done(spec.id), "the first checkpoint", every=0.1)
    assert not store.is_done(spec.id), "the run finished before it could be interrupted"
    return store.load_submission(spec.id)["job_id"]


def same_as_reference(record, reference: Store, spec: RunSpec):
    wait_until(lambda: reference.is_done(spec.id), "the uninterrupted reference run", every=2)
    clean = reference.load_record(spec.id)
    assert record.metrics == clean.metrics and record.curve == clean.curve
    return clean


@pytest.mark.slow
def test_cancelled_job_is_resubmitted_and_resumes_from_its_checkpoint(cluster, long_run, reference, capsys, tmp_path):
    store = Store(tmp_path / "results")
    assert submit_long(store.root) == 0
    job = checkpoint_then(store, long_run)
    subprocess.run(["scancel", job], check=True, timeout=60)
    wait_until(lambda: not in_queue(job), f"job {job} to leave the queue")
    assert not store.is_done(long_run.id) and store.checkpoint_path(long_run.id).exists()
    capsys.readouterr()
    assert main(["status", "--grid", "slurmtest", "--results-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    show(capsys, "status after scancel:\n" + out)
    assert next(line for line in out.splitlines() if line.startswith("total")).split()[1:3] == ["0", "1"]  # missing
    assert "cancelled" in out

    assert submit_long(store.root) == 0  # resubmitted without --retry-failed: a cancel is not a failure
    assert "submitted 1 run(s) as 1 job(s)" in capsys.readouterr().out
    new_job = store.load_submission(long_run.id)["job_id"]
    assert new_job != job
    wait_until(lambda: store.is_done(long_run.id), "the resubmitted run's record", every=1)
    record = store.load_record(long_run.id)
    show(capsys, f"cancelled job {job}, resubmitted as {new_job}: resumed_from_epoch "
                 f"{record.timing['resumed_from_epoch']}, accuracy {record.accuracy:.2f}")
    assert record.timing["resumed_from_epoch"] > 0, job_logs(store)
    same_as_reference(record, reference, long_run)
    assert not store.checkpoint_path(long_run.id).exists()


@pytest.mark.slow
def test_preempted_job_checkpoints_requeues_itself_and_resumes(cluster, long_run, reference, capsys, tmp_path):
    """submitit's preemption path (what slurm sends on preemption; submitit's own Job._interrupt
    does the same): SIGTERM, then USR2 -> SlurmBatch.checkpoint() -> scontrol requeue, same job id."""
    store = Store(tmp_path / "results")
    assert submit_long(store.root) == 0
    job = checkpoint_then(store, long_run)
    subprocess.run(["scancel", job, "--signal", "SIGTERM"], check=True, timeout=60)
    subprocess.run(["scancel", job, "--signal", "USR2"], check=True, timeout=60)
    wait_until(lambda: store.is_done(long_run.id), "the requeued run's record", every=1)
    record = store.load_record(long_run.id)
    log = job_logs(store)
    show(capsys, f"preempted job {job}, requeued: resumed_from_epoch {record.timing['resumed_from_epoch']}, "
                 f"accuracy {record.accuracy:.2f}")
    assert "this job is preempted" in log and f"JOB {job} ON" in log and "DUE TO JOB REQUEUE" in log, log
    assert store.load_submission(long_run.id)["job_id"] == job  # requeued, not resubmitted
    assert record.timing["resumed_from_epoch"] > 0, log
    same_as_reference(record, reference, long_run)


@pytest.mark.slow
def test_tune_submits_its_trials_then_the_tuned_runs(cluster, capsys, tmp_path):
    """`tune --executor slurm`: the trials go to the cluster as an array; run again once they have
    finished, it chooses the values and submits the tuned runs; a third time there is nothing to do."""
    grid = tmp_path / "tiny.toml"
    grid.write_text('datasets = ["digits"]\nmethods = ["baseline"]\nshots = 3\nseeds = "0-1"\nprofile = "quick"\n'
                    '[recipe]\nepochs = 2\n')
    results = tmp_path / "results"
    argv = ["tune", "--grid", str(grid), "--trials", "2", "--once", *ON_TEST_CLUSTER, "--results-dir", str(results)]
    store = Store(results)
    assert main(argv) == 0
    out = capsys.readouterr().out
    show(capsys, "tune:\n" + out)
    assert "submitted 2 trial(s) as 2 job(s) in 1 array(s); 0 trial(s) already done" in out
    assert "run the same command again once the trials have finished" in out
    wait_until(lambda: len(list((results / "tune" / "trials").glob("*.json"))) == 2, "both trials' records", every=2)
    wait_until(lambda: not any(in_queue(j) for j in slurm_scheduler.Scheduler().queue()), "the trials' jobs to end")
    assert main(argv) == 0
    out = capsys.readouterr().out
    show(capsys, "tune again:\n" + out)
    assert "tuned on seed 0's subset for seeds 0,1: 2 trials" in out and "submitted 2 run(s)" in out
    tuned = [RunSpec.from_dict(store.choice(p.stem)["tuned"]) for p in (results / "tune" / "choices").glob("*.json")]
    wait_until(lambda: all(store.is_done(s.id) for s in tuned), "the tuned runs' records", every=2)
    assert main(argv) == 0
    assert "nothing to submit: 2 run(s) already done" in capsys.readouterr().out


@pytest.mark.slow
def test_failed_run_is_left_out_until_retry_failed(cluster, capsys, tmp_path):
    """A run whose job fails shows its error and log in `status`; `run` leaves it out and says why;
    --retry-failed resubmits it."""
    store = Store(tmp_path / "results")
    data = tmp_path / "data"
    noise_folder(data, classes=10)
    spec = RunSpec("baseline", f"folder:{data}", 5, 0, profile="quick")
    GRIDS["slurmbroken"] = Grid(lambda: [spec], "a run whose data disappear after submission (tests)")
    node = socket.gethostname().split(".")[0]
    try:
        argv = ["run", "--grid", "slurmbroken", *ON_TEST_CLUSTER, "--quiet", "--results-dir", str(store.root)]
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=drain", "reason=test"], check=True)
        try:  # the drained node holds the job until the data are gone
            assert main(argv) == 0
        finally:
            shutil.move(data, tmp_path / "elsewhere")
            subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], check=True)
        job = store.load_submission(spec.id)["job_id"]
        wait_until(lambda: not in_queue(job), f"job {job} to end")
        capsys.readouterr()
        shutil.move(tmp_path / "elsewhere", data)  # status plans the folder's runs from its files
        assert main(["status", "--grid", "slurmbroken", "--results-dir", str(store.root)]) == 0
        out = capsys.readouterr().out
        show(capsys, "status of a failed run:\n" + out)
        assert f"(job {job})" in out and "not found" in out and f"{job}_0_log.err" in out
        assert main(argv) == 0
        out = capsys.readouterr().out
        show(capsys, "run again:\n" + out)
        assert "nothing to submit" in out and "left out 1 task(s): failed runs" in out
        assert main([*argv, "--retry-failed"]) == 0
        assert "submitted 1 run(s) as 1 job(s)" in capsys.readouterr().out
        wait_until(lambda: store.is_done(spec.id), "the retried run's record", every=1)
        assert store.load_failure(spec.id) is None
    finally:
        GRIDS.pop("slurmbroken", None)


def test_failed_generator_leaves_out_its_runs_until_retry_failed(tmp_path):
    """The plan without a scheduler: a failed stage blocks the runs that need it; --retry-failed
    plans both, the runs held until the generator's job ends."""
    store = Store(tmp_path / "results")
    plan = resolve(select(grid_specs("demo"), "demo", "baseline,chimeramix_grid", None, "5", "0"))
    (stage,) = plan.stages
    store.write_failure(stage.id, stage.to_dict(), "RuntimeError: boom", "/logs/1_0_log.err")
    sub = slurm_submit.plan_submission(plan, store, slurm_submit.SlurmOptions("testcluster"), None)
    assert [(a.section, [t.spec.method for t in a.tasks]) for a in sub.arrays] == [("classifier", ["baseline"])]
    assert sorted(why.split(" (")[0] for _, why in sub.left_out) == [
        "failed generator stages", "runs whose required stage failed"]
    sub = slurm_submit.plan_submission(plan, store, slurm_submit.SlurmOptions("testcluster", retry_failed=True), None)
    assert [(a.section, a.waits) for a in sub.arrays] == [("generator", False), ("classifier", False),
                                                          ("classifier", True)]


@pytest.mark.parametrize("value", ["5", "[1]", '"x"'])
def test_a_stage_key_that_is_not_a_table_is_named(tmp_path, value):
    path = tmp_path / "bad.toml"
    path.write_text(f"[datasets.cifair10]\ngenerator = {value}\n")
    with pytest.raises(UserError, match=r"\[datasets\.cifair10\.generator\] must be a table"):
        profiles.load_profile(str(path))


def test_a_top_level_sbatch_table_reaches_every_job(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('partition = "a"\nsbatch = { mail-type = "FAIL" }\n[classifier]\ncpus = 2\n')
    r = profiles.load_profile(str(path)).resources("stl10", "classifier")
    assert (r.partition, r.cpus, r.sbatch) == ("a", 2, (("mail-type", "FAIL"),))
    assert r.executor_parameters()["additional_parameters"] == {"mail-type": "FAIL"}


def test_task_states_of_done_tasks_and_ended_jobs(tmp_path):
    """Without a cluster: a scheduler whose queue and accounting are already known."""
    store = Store(tmp_path)
    done, cancelled, also_cancelled, completed = resolve(select(grid_specs("demo"), "demo", None, None, "5", "0")).runs[:4]
    for position, task in enumerate([cancelled, also_cancelled]):
        store.write_submission(task.id, {"job_id": "5_0", "position": position, "log": f"/logs/{position}"})
    store.write_submission(completed.id, {"job_id": "6_0", "position": 0, "log": "/logs/6"})
    scheduler = slurm_scheduler.Scheduler()
    scheduler._queue = {"6_0": ("COMPLETED", "None")}
    scheduler._acct = {"5_0": "CANCELLED"}
    TaskState = slurm_states.TaskState
    states = slurm_states.task_states(store, [done, cancelled, also_cancelled, completed], scheduler, {done.id})
    assert states[done.id] == TaskState("done")
    assert states[cancelled.id] == TaskState("missing", "5_0", "job 5_0 cancelled", "/logs/0")
    assert states[also_cancelled.id] == TaskState("missing", "5_0", "job 5_0 cancelled", "/logs/1")
    assert states[completed.id] == TaskState("failed", "6_0", "job 6_0 completed without writing a record", "/logs/6")


def test_a_slurm_batch_runs_its_tasks_marking_unfinished_ones_started(tmp_path, monkeypatch):
    from benchmark.orchestration import worker

    store = Store(tmp_path)
    finished, unfinished = resolve(select(grid_specs("demo"), "demo", None, None, "5", "0")).runs[:2]
    store.write_record(fake_record(finished, 50.0))
    started = []

    def execute(task, store, *args, **kwargs):
        started.append((task.id, store.progress_path(task.id).exists()))

    monkeypatch.setattr(worker, "execute", execute)
    batch = slurm_submit.SlurmBatch([finished, unfinished], str(tmp_path), str(tmp_path / "data"), worker.JobOptions())
    assert batch() == {"done": [unfinished.id], "failed": [], "skipped": [finished.id]}
    assert started == [(unfinished.id, True)]


def test_a_profile_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('partition = "café"\n'.encode("latin-1"))
    with pytest.raises(UserError, match=f"slurm profile {path} is not UTF-8 text"):
        profiles.load_profile(str(path))


def test_a_signal_delay_not_shorter_than_the_time_limit_is_named(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text('time = 2\nsignal_delay_s = 90\n[datasets.digits]\nsignal_delay_s = 120\n')
    profile = profiles.load_profile(str(path))
    assert profile.resources("cifair10", "classifier").signal_delay_s == 90
    with pytest.raises(UserError, match=r"\(digits classifier\): signal_delay_s 120 is not shorter than the time "
                                        r"limit 00:02:00"):
        profile.resources("digits", "classifier")
