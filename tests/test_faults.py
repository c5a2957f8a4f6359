"""Faults and damaged files: a file of the store that is not what it should be is treated as absent
and moved aside with one warning; a damaged checkpoint or stage artifact is retrained; an unusable
results directory, a full disk, an unwritable output are one line, never a traceback."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmark.atomic import save_atomic
from benchmark.cli import main
from benchmark.orchestration.grids import grid_specs, select
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from helpers import add_untrained_stages, fake_record

SELECTION = ["--grid", "demo", "--methods", "baseline,chimeramix_grid", "--shots", "5", "--seeds", "0"]
BASELINE_ONLY = ["--grid", "demo", "--methods", "baseline", "--shots", "5", "--seeds", "0"]
PLAN = resolve(select(grid_specs("demo"), "demo", "baseline,chimeramix_grid", None, "5", "0"))
BASELINE, CHIMERAMIX = PLAN.runs
(GENERATOR,) = PLAN.stages
WRONG_SHAPES = ["5", "[1, 2]", '"text"', "{}", '{"spec": 1, "error": 2, "job_id": 3, "stage": [], "sets": {}}',
                "not json {"]


def plant(store: Store, content: str) -> list[Path]:
    """`content` in every file of the store that `status` and `report` read (and a run of the grid
    outside the selection done: the report reads the analyses of a grid with results)."""
    add_untrained_stages(store, "chimeramix_grid")
    other_seed = resolve(select(grid_specs("demo"), "demo", "baseline", None, "5", "1")).runs[0]
    store.write_record(fake_record(other_seed, 60.0))
    paths = [store.record_path(BASELINE.id), store.failure_path(CHIMERAMIX.id), store.submission_path(BASELINE.id),
             store.root / "artifacts" / f"{GENERATOR.id}.json", store.root / "analysis" / "fid" / "x.json",
             store.root / "analysis" / "cse" / "y.json"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return paths


@pytest.fixture
def no_scheduler(monkeypatch):
    monkeypatch.setattr("benchmark.orchestration.status.scheduler_for", lambda required: (None, "no SLURM here"))


@pytest.mark.parametrize("content", WRONG_SHAPES)
def test_files_of_the_wrong_shape_are_absent_and_set_aside(tmp_path, capsys, no_scheduler, content):
    store = Store(tmp_path / "results")
    planted = plant(store, content)
    assert main(["status", *SELECTION, "--results-dir", str(store.root)]) == 0
    assert main(["report", "--grid", "demo", "--no-fid", "--no-figures", "--results-dir", str(store.root),
                 "--out", str(tmp_path / "reports")]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(planted), err
    for path in planted:
        assert not path.exists() and path.with_name(path.name + ".invalid").read_text() == content
        assert any(str(path) in w and "treated as absent" in w for w in warnings)
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    assert total[1:3] == ["0", "2"] and not GENERATOR.done(store)  # done, missing


def test_progress_and_step_time_files_of_the_wrong_shape(tmp_path, capsys):
    store = Store(tmp_path / "results")
    for content in ["5", "3 0", "4 2", "-1 3", "x y", ""]:
        store.progress_path(BASELINE.id).parent.mkdir(parents=True, exist_ok=True)
        store.progress_path(BASELINE.id).write_text(content)
        assert store.progress(BASELINE.id) == (0, 1)
        assert not store.progress_path(BASELINE.id).exists()
    store.write_progress(BASELINE.id, 3, 12)
    assert store.progress(BASELINE.id) == (3, 12)
    assert capsys.readouterr().err.count("warning:") == 6
    from benchmark.orchestration.cost import CostModel
    table = tmp_path / "step_times.json"
    for content in ['{"cpu": {"steps": {"x": "fast"}}}', "[0.1]", '{"cpu": {"steps": {"x": -1}}}', '{"cpu": 5}', "{"]:
        table.write_text(content)
        model = CostModel.for_device("cpu", table)
        assert model.steps == {} and model.seconds(BASELINE) is None  # no estimate, no crash


@pytest.mark.slow
def test_run_treats_invalid_files_as_absent(tmp_path, capsys):
    """`run` (local processes) over a record, a failure note, a progress file and a claim of the
    wrong shape: it trains the run and sets each file aside."""
    store = Store(tmp_path / "results")
    files = [store.record_path(BASELINE.id), store.failure_path(BASELINE.id), store.progress_path(BASELINE.id),
             store.root / "claims" / f"{BASELINE.id}.json"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[1]")
    argv = ["run", *BASELINE_ONLY, "--workers", "1", "--quiet", "--results-dir",
            str(store.root)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "1 runs finished" in out and "Traceback" not in out + err
    assert store.is_done(BASELINE.id)
    assert all(path.with_name(path.name + ".invalid").exists() for path in files[:1] + files[3:])


# ---------------------------------------------------------------- damaged checkpoints and artifacts

def test_a_damaged_stage_artifact_means_the_stage_is_not_done(tmp_path, capsys):
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "chimeramix_grid")
    artifact = store.artifact_path(GENERATOR.id)
    assert GENERATOR.done(store) and PLAN.waves(store) == [list(PLAN.runs)]
    data = artifact.read_bytes()
    for damaged in (data[: len(data) // 2], b"garbage" * 100):
        artifact.write_bytes(damaged)
        assert not GENERATOR.done(store)
        assert not artifact.exists() and artifact.with_name(artifact.name + ".invalid").read_bytes() == damaged
        assert PLAN.waves(store)[0] == [GENERATOR]  # trained again
        artifact.write_bytes(data)
    assert GENERATOR.done(store)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(str(artifact) in line and "trained again" in line for line in err)


def wrong_shapes(state: dict) -> dict:
    """The artifact with its first weight of another shape."""
    weights = dict(state["generator"])
    first = next(iter(weights))
    weights[first] = torch.zeros(3, *weights[first].shape)
    return {**state, "generator": weights}


ARTIFACT_DAMAGES = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:100]),
    "empty dict": lambda path: save_atomic({}, path),
    "wrong shapes": lambda path: save_atomic(wrong_shapes(torch.load(path, weights_only=True)), path),
}


@pytest.mark.parametrize("method", ["chimeramix_grid", "glico", "supermix"])
def test_an_artifact_that_loads_but_is_not_what_its_kind_writes_is_set_aside(method, tmp_path, capsys):
    """`{}`, an artifact of another stage or with other fields: each kind checks its artifacts."""
    store = Store(tmp_path / "results")
    add_untrained_stages(store, method)
    for stage in resolve([CHIMERAMIX.spec.__class__(method, "digits", 5, 0, profile="quick")]).stages:
        artifact = store.artifact_path(stage.id)
        state = torch.load(artifact, weights_only=True)
        other = {**state, "stage": {**state["stage"], "seed": 7}}
        for planted, why in (({}, "no stage"), ({"stage": state["stage"]}, "no "), (other, "made for another stage")):
            save_atomic(planted, artifact)
            assert not stage.done(store)
            assert why in capsys.readouterr().err and artifact.with_name(artifact.name + ".invalid").exists()
            save_atomic(state, artifact)
            assert stage.done(store)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ARTIFACT_DAMAGES)
def test_a_damaged_artifact_is_retrained_by_the_next_run(tmp_path, capsys, damage):
    results = tmp_path / "results"
    argv = ["run", *SELECTION, "--executor", "debug", "--quiet", "--results-dir", str(results)]
    store = Store(results)
    add_untrained_stages(store, "chimeramix_grid")
    artifact = store.artifact_path(GENERATOR.id)
    ARTIFACT_DAMAGES[damage](artifact)
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "1 stages trained, 2 runs finished" in out and f"warning: {artifact} is not a valid stage artifact" in err
    assert "untrained" not in json.dumps(store.stage_record(GENERATOR.id))


# ---------------------------------------------------------------- the results directory and outputs

def one_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out + err, (out, err)
    return lines[0]


def test_a_results_path_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "results"
    path.write_text("")
    for argv in (["run", *SELECTION], ["status", *SELECTION], ["report"]):
        assert main([*argv, "--results-dir", str(path)]) == 2
        assert f"results directory {path} is a file, not a directory" in one_line(capsys)


def test_results_dir_from_the_environment_empty_or_nowhere(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCHMARK_RESULTS_DIR", "")
    for argv in (["run", *SELECTION], ["status", *SELECTION], ["report"]):
        assert main(argv) == 2
        assert "$BENCHMARK_RESULTS_DIR is set but empty" in one_line(capsys)
    nowhere = tmp_path / "typo"
    monkeypatch.setenv("BENCHMARK_RESULTS_DIR", str(nowhere))
    for argv in (["status", *SELECTION], ["report"]):
        assert main(argv) == 2
        assert f"no results directory {nowhere} ($BENCHMARK_RESULTS_DIR): nothing has run there" in one_line(capsys)
    assert not nowhere.exists()


@contextlib.contextmanager
def read_only(path: Path):
    """`path` as a read-only directory: a read-only tmpfs as root (root ignores permissions), else mode 555."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and shutil.which("mount"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)


def test_a_read_only_results_dir_and_outputs_are_one_line(tmp_path, capsys):
    store = Store(tmp_path / "results")
    store.write_record(fake_record(BASELINE, 50.0))
    with read_only(tmp_path / "ro") as ro:
        assert main(["run", *SELECTION, "--results-dir", str(ro)]) == 2
        assert f"results directory {ro} is not writable" in one_line(capsys)
        assert main(["report", "--no-fid", "--no-figures", "--results-dir", str(store.root), "--out", str(ro)]) == 2
        assert f"--out {ro} is not writable" in one_line(capsys)
        out = ro / "samples" / "x.png"
        assert main(["samples", "--method", "gridmix", "--dataset", "digits", "--shots", "5", "--seed", "0",
                     "--out", str(out)]) == 2
        assert f"--out's directory {out.parent} is not writable" in one_line(capsys)
        assert main(["status", *SELECTION, "--results-dir", str(ro)]) == 0  # reading needs no writing


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (root only), nearly full."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.slow
def test_a_full_disk_leaves_no_temporary_files_and_says_so(tiny_disk):
    results = tiny_disk / "results"
    filler = tiny_disk / "filler"
    free = shutil.disk_usage(tiny_disk).free
    filler.write_bytes(b"\0" * (free - 160_000))  # room to start, not for the checkpoints
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", *BASELINE_ONLY,
                           "--executor", "debug", "--checkpoint-every", "0", "--quiet", "--results-dir", str(results)],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr, proc
    assert not [p for p in tiny_disk.rglob("*") if p.name.endswith(".tmp")]
    failure = Store(results).load_failure(BASELINE.id)
    said = proc.stdout + proc.stderr
    assert (failure is not None and "No space left on device" in failure["error"]
            and "No space left on device" in said) or "the disk is full" in said, said


# ---------------------------------------------------------------- files that are no regular files

class Hung(Exception):
    pass


def bounded(test):
    """The test fails, instead of hanging or exhausting the machine, if what it checks regresses: a
    read blocked (on a FIFO) is interrupted after 300 s, and the process may map at most 4 GiB more
    than it has (a read of /dev/zero, a range of 10^8 values fail at that); either is reported
    without its frames, whose formatting would need the memory that ran out."""
    import resource
    import signal

    def interrupt(signum, frame):
        raise Hung("a read blocked for 300 s")

    @functools.wraps(test)
    def guarded(*args, **kwargs):
        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.alarm(300)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        mapped = int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                          if line.startswith("VmSize:")).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (4 << 30), hard))
        try:
            return test(*args, **kwargs)
        except (Hung, MemoryError) as exc:
            pytest.fail(f"{type(exc).__name__}: {exc}", pytrace=False)
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return guarded


def plant_special(path: Path, kind: str) -> None:
    """A FIFO, or a link to /dev/zero, at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("folder", ["runs", "jobs/local", "tune/trials", "analysis/fid"])
def test_a_folder_of_the_results_directory_planted_as_a_link_is_refused(tmp_path, capsys, folder):
    """`runs/` (or any folder of the store) as a link to a directory elsewhere would send the records
    there: every command refuses the store with one line, and nothing is written through the link."""
    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (results / folder).parent.mkdir(parents=True, exist_ok=True)
    (results / folder).symlink_to(elsewhere, target_is_directory=True)
    for argv in (["run", *BASELINE_ONLY, "--executor", "debug", "--quiet"], ["status", *BASELINE_ONLY], ["report"]):
        assert main([*argv, "--results-dir", str(results)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {results / folder} is a symbolic link: the results directory's own folders must be "
                       "folders in it (move it away; to keep results elsewhere, give that place as --results-dir)"]
    assert not any(elsewhere.iterdir())


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@bounded
def test_status_and_report_read_only_regular_files(tmp_path, capsys, ended_jobs, kind):
    """A record, an analysis result and a job's log (`jobs/slurm/<id>_0_log.err`) that are FIFOs or
    links to /dev/zero: `status` and `report` neither block nor fill the memory; the record and
    the result are set aside, the log is no log."""
    store = Store(tmp_path / "results")
    store.write_submission(CHIMERAMIX.id, {"job_id": "41", "position": 0, "log": "x"})
    special = [store.record_path(BASELINE.id), store.root / "analysis" / "fid" / "x.json",
               store.slurm_jobs_dir / "41_0_log.err", store.slurm_jobs_dir / "41_end.json"]
    for path in special:
        plant_special(path, kind)
    store.write_record(fake_record(resolve(select(grid_specs("demo"), "demo", "baseline", None, "5", "1")).runs[0], 60.0))
    assert main(["status", *SELECTION, "--results-dir", str(store.root)]) == 0
    assert main(["report", "--grid", "demo", "--no-fid", "--no-figures", "--results-dir", str(store.root),
                 "--out", str(tmp_path / "reports")]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "job 41 UNKNOWN: no log" in out
    for path in [*special[:2], special[3]]:  # the log is only read, never moved
        assert not os.path.lexists(path) and os.path.lexists(path.with_name(path.name + ".invalid"))
        assert f"warning: {path} is not a valid" in err
    assert ("(a FIFO)" if kind == "fifo" else "(a symbolic link)") in err


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@bounded
def test_progress_claims_notes_and_checkpoints_read_only_regular_files(tmp_path, capsys, kind):
    from benchmark.orchestration.claims import claim_path, holder
    from benchmark.orchestration.job_end import log_tail, read_end_note
    store = Store(tmp_path / "results")
    for path in (store.progress_path(BASELINE.id), claim_path(store.root, BASELINE.id), store.failure_path(BASELINE.id),
                 store.jobs_dir / "local" / "7_end.json", store.jobs_dir / "local" / "7_0_log.err"):
        plant_special(path, kind)
    assert store.progress(BASELINE.id) == (0, 1)
    assert holder(store.root, BASELINE.id) is None
    assert store.load_failure(BASELINE.id) is None
    assert read_end_note(store.jobs_dir / "local", "7") is None
    assert log_tail(store.jobs_dir / "local" / "7_0_log.err") == []
    from benchmark.training.resumable import resume
    plant_special(store.checkpoint_path(BASELINE.id), kind)
    fresh = object()
    assert resume(None, {}, fresh, store.checkpoint_path(BASELINE.id), 12) is fresh  # trained from the start
    assert capsys.readouterr().err.count("warning:") == 5


# ---------------------------------------------------------------- checkpoints whose progress was edited

def edited_checkpoint(store: Store, tmp_path: Path, edit: dict) -> Path:
    """BASELINE's checkpoint after 2 of its epochs (as a run killed then leaves it), its progress
    edited."""
    import torch
    from benchmark.orchestration.worker import JobOptions, execute

    def killed(epoch: int, epochs: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(BASELINE, store, tmp_path / "data", JobOptions(checkpoint_every_s=0), killed)
    path = store.checkpoint_path(BASELINE.id)
    state = torch.load(path, weights_only=True)
    state["progress"].update(edit)
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """BASELINE's record, trained without a break (one torch thread, as the tests that compare with it)."""
    import torch
    from benchmark.orchestration.worker import execute
    store = Store(tmp_path_factory.mktemp("uninterrupted"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        execute(BASELINE, store, store.root / "data")
    finally:
        torch.set_num_threads(threads)
    return store.load_record(BASELINE.id)


EDITS = [{"epoch": 10**6}, {"epoch": -3}, {"curve_loss": "abc"}, {"curve_acc": [[1, 50.0]]},
         {"train_seconds": float("nan")}]


@pytest.mark.slow
@pytest.mark.parametrize("edit", EDITS, ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items()))
def test_a_checkpoint_whose_progress_does_not_fit_is_set_aside(tmp_path, capsys, one_thread, uninterrupted, edit):
    """An edited progress (an epoch beyond the recipe's or negative, a curve of another type or
    length) is treated like a damaged checkpoint: moved aside with one warning, the run trained from
    the start, ending with the uninterrupted record."""
    from benchmark.orchestration.worker import execute
    store = Store(tmp_path / "results")
    path = edited_checkpoint(store, tmp_path, edit)
    execute(BASELINE, store, tmp_path / "data")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"warning: {path} is not a valid checkpoint (progress." in err[0], err
    assert "training from the start" in err[0] and path.with_name(path.name + ".invalid").exists()
    record = store.load_record(BASELINE.id)
    assert record.timing["resumed_from_epoch"] == 0
    assert (record.metrics, record.curve) == (uninterrupted.metrics, uninterrupted.curve)


@pytest.mark.slow
def test_run_says_on_its_console_that_a_worker_set_a_checkpoint_aside(tmp_path, capsys, one_thread):
    store = Store(tmp_path / "results")
    path = edited_checkpoint(store, tmp_path, {"epoch": 10**6})
    capsys.readouterr()
    assert main(["run", *BASELINE_ONLY, "--workers", "1", "--quiet", "--results-dir", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {path} is not a valid checkpoint (progress.epoch 1000000 is not a whole number in 0..11; " \
           "training from the start)" in err
    assert "1 runs finished" in out and store.load_record(BASELINE.id).timing["resumed_from_epoch"] == 0


# ---------------------------------------------------------------- folder datasets: manifests, caches, names

@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A folder dataset of two classes (5 images each), its decoded cache in this test's directory."""
    from test_own_images import write_folder
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    return write_folder(tmp_path / "mine", {"a": 5, "b": 5})


def folder_plan(root: Path):
    from benchmark.spec import RunSpec
    return resolve([RunSpec("baseline", f"folder:{root}", 2, 0, profile="quick")])


@pytest.mark.parametrize("content", ['{"contents": 5}', '[[1]]', '{"contents": [[1]]}', '{"contents": {"a/000.png": 1}}'])
def test_a_folder_manifest_of_the_wrong_shape_is_set_aside(tmp_path, capsys, folder, content):
    from benchmark.orchestration.folders import check_folders
    store = Store(tmp_path / "results")
    plan = folder_plan(folder)
    dataset = plan.runs[0].dataset
    store.write_record(fake_record(plan.runs[0], 50.0))  # results of the folder: a change would be refused
    path = store.manifest_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    check_folders(plan, store)
    assert path.with_name(path.name + ".invalid").read_text() == content
    assert f"warning: {path} is not a valid dataset manifest" in capsys.readouterr().err
    assert set(store.manifest(dataset)["contents"]) == {f"{c}/{i:03d}.png" for c in "ab" for i in range(5)}


def cache_contents(kind: str, good: dict) -> dict:
    import torch
    (train_x, train_y), test = good["train"], good["test"]
    return {"empty": {},
            "shapes": {"train": (train_x[:-1], train_y[:-1]), "test": test},
            "labels": {"train": (train_x, 1 - train_y), "test": test},
            "dtype": {"train": (train_x.float(), train_y), "test": test},
            "tensors": {"train": torch.zeros(3), "test": test}}[kind]


@pytest.mark.parametrize("kind", ["empty", "shapes", "labels", "dtype", "tensors"])
def test_a_folder_cache_that_does_not_fit_the_folder_is_set_aside(tmp_path, capsys, folder, kind):
    """The decoded cache of a folder (under the cache directory) saved as {} or holding other tensors
    (counts, labels, dtype): moved aside with one warning, the images decoded again; `subsets`
    works on it."""
    import torch
    from benchmark.data.folder import decoded_cache_path, load_folder
    from benchmark.data.folder_index import scan_folder
    decoded = load_folder(folder, "mine", 32)
    cache = decoded_cache_path(scan_folder(folder), 32)
    torch.save(cache_contents(kind, torch.load(cache, weights_only=True)), cache)
    assert main(["subsets", "--dataset", f"folder:{folder}", "--shots", "2", "--seeds", "0",
                 "--out", str(tmp_path / "subsets")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {cache} is not a valid decoded folder cache"), err
    again = load_folder(folder, "mine", 32)
    assert torch.equal(again.train_x, decoded.train_x) and torch.equal(again.train_y, decoded.train_y)


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path, capsys, folder):
    with open(os.path.join(os.fsencode(folder / "a"), b"caf\xe9.png"), "wb") as f:
        f.write((folder / "a" / "000.png").read_bytes())
    for argv in (["subsets", "--dataset", f"folder:{folder}", "--shots", "1", "--seeds", "0"],
                 ["run", "--datasets", f"folder:{folder}", "--methods", "baseline", "--shots", "1", "--seeds", "0",
                  "--dry-run"]):
        assert main(argv) == 2
        line = one_line(capsys)
        assert "caf\\xe9.png" in line and "not UTF-8" in line and "rename it" in line


@bounded
def test_a_fifo_in_a_class_folder_is_one_line(tmp_path, capsys, folder):
    os.mkfifo(folder / "b" / "pipe.png")
    for argv in (["run", "--datasets", f"folder:{folder}", "--methods", "baseline", "--shots", "1", "--seeds", "0",
                  "--profile", "quick", "--results-dir", str(tmp_path / "results")],
                 ["subsets", "--dataset", f"folder:{folder}", "--shots", "1", "--seeds", "0"]):
        assert main(argv) == 2
        line = one_line(capsys)
        assert f"{folder / 'b' / 'pipe.png'} is not a regular file (a FIFO)" in line


# ---------------------------------------------------------------- ranges and sizes beyond reason

@pytest.mark.parametrize("option, value", [("--seeds", "0-100000000"), ("--shots", "1-100000000"),
                                           ("--seeds", "99999999999999999999999")])
@bounded
def test_absurd_ranges_and_seeds_are_one_line_at_plan_time(capsys, option, value):
    selection = {"--datasets": "digits", "--methods": "baseline", "--shots": "5", "--seeds": "0", option: value}
    for argv in (["run", "--grid", "demo", option, value, "--dry-run"],
                 ["run", *(x for pair in selection.items() for x in pair), "--profile", "quick", "--dry-run"]):
        assert main(argv) == 2
        line = one_line(capsys)
        assert line.startswith(f"error: {option}: ") and value in line, line


@bounded
def test_a_product_beyond_reason_is_one_line(capsys):
    assert main(["run", "--datasets", "digits", "--methods", "all", "--shots", "1-2000", "--seeds", "0-2000",
                 "--profile", "quick", "--dry-run"]) == 2
    assert "runs (1 datasets x " in (line := one_line(capsys)) and "at most 100000" in line


@bounded
def test_fid_k_beyond_reason_is_one_line(tmp_path, capsys):
    assert main(["analyze", "fid", "--dataset", "digits", "--shots", "5", "--sets", "original", "--k", "99999999999",
                 "--results-dir", str(tmp_path / "results")]) == 2
    assert "--k must be at least 2 and at most 50000, got 99999999999" in one_line(capsys)


GRID_FILE = """
datasets = ["digits"]
methods = ["mixup"]
shots = 5
seeds = {seeds}
profile = "quick"
{overrides}
"""


@pytest.mark.parametrize("seeds, overrides, message", [
    ('"0"', "[overrides.mixup]\nalpha = []", "overrides.mixup.alpha: empty; give at least one value"),
    ('["99999999999999999999999"]', "", "seeds: 99999999999999999999999 is too large; give integers from 0 to "
                                        "18446744073709551615"),
])
def test_a_grid_file_that_plans_nothing_or_a_seed_beyond_64_bits_is_refused(tmp_path, capsys, seeds, overrides,
                                                                             message):
    path = tmp_path / "grid.toml"
    path.write_text(GRID_FILE.format(seeds=seeds, overrides=overrides))
    for command in ("run", "status"):
        assert main([command, "--grid", str(path), *(["--dry-run"] if command == "run" else [])]) == 2
        assert one_line(capsys) == f"error: {path}: {message}"


@pytest.mark.parametrize("command", ["export", "report", "samples", "subsets"])
def test_outputs_on_a_full_disk_leave_no_empty_files(tmp_path, capsys, tiny_disk, command):
    """export --out, report --out, samples --out and subsets --out write whole files or none (they
    used to leave 0-byte files)."""
    store = Store(tmp_path / "results")
    store.write_record(fake_record(BASELINE, 50.0))
    out = tiny_disk / "out"
    argv = {"export": ["export", "--results-dir", str(store.root), "--out", str(out / "runs.csv")],
            "report": ["report", "--no-fid", "--no-figures", "--results-dir", str(store.root), "--out", str(out)],
            "samples": ["samples", "--method", "gridmix", "--dataset", "digits", "--shots", "5", "--seed", "0",
                        "--results-dir", str(store.root), "--out", str(out / "gridmix.png")],
            "subsets": ["subsets", "--dataset", "digits", "--shots", "5", "--seeds", "0", "--out", str(out)]}[command]
    out.mkdir()
    filler = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)
    for chunk in (1 << 16, 1 << 12):  # every block of the disk
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"\0" * chunk)
    os.close(filler)
    assert main(argv) == 1
    assert "the disk is full" in one_line(capsys)
    assert [p for p in out.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------- smaller faults

@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "150"])
def test_a_record_or_analysis_whose_figure_is_not_finite_is_set_aside(tmp_path, capsys, value):
    """An accuracy (or FID) of NaN or inf would be the best cell of its column and break the figures."""
    store = Store(tmp_path / "results")
    store.write_record(fake_record(BASELINE, 50.0))
    record = store.record_path(BASELINE.id)
    record.write_text(record.read_text().replace('"accuracy": 50.0', f'"accuracy": {value}'))
    result = {"dataset": "digits", "dataset_label": "digits", "shots": 5, "seed": 0, "profile": "quick", "k": 10,
              "reference_size": 10, "reference_pool": 10, "weights": "w",
              "sets": [{"name": "original", "label": "Original", "fid": 1.0}]}
    fid = store.root / "analysis" / "fid" / "x.json"
    fid.parent.mkdir(parents=True)
    fid.write_text(json.dumps(result).replace('"fid": 1.0', f'"fid": {value}'))
    from benchmark.output.analysis.results import load_result
    assert store.load_record(BASELINE.id) is None
    assert (load_result(fid) is None) == (value != "150")  # an FID of 150 is a fine FID
    err = capsys.readouterr().err
    assert f"warning: {record} is not a valid run record" in err


def test_status_escapes_what_a_failure_note_says(tmp_path, capsys, no_scheduler):
    store = Store(tmp_path / "results")
    store.write_failure(BASELINE.id, BASELINE.to_dict(), "RuntimeError: \x1b]0;owned\x07\x1b[2J\x1b[31mred", "lo\x1bg")
    assert main(["status", *SELECTION, "--results-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "error: RuntimeError: \\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred" in out and "log: lo\\x1bg" in out


@pytest.mark.parametrize("pid", [0, -1])
def test_a_claim_of_pid_0_or_minus_1_is_invalid(tmp_path, capsys, pid):
    """os.kill(0) and os.kill(-1) signal a process group or every process: such a claim looked alive."""
    import platform
    from benchmark.orchestration.claims import claim_path, holder
    path = claim_path(tmp_path, BASELINE.id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"host": platform.node(), "pid": pid, "job": None, "token": "t"}))
    assert holder(tmp_path, BASELINE.id) is None
    assert f"warning: {path} is not a valid claim" in capsys.readouterr().err


def test_a_method_selected_twice_is_one_run(tmp_path, capsys):
    assert main(["run", "--datasets", "digits", "--methods", "baseline,baseline", "--shots", "5", "--seeds", "0",
                 "--profile", "quick", "--dry-run", "--results-dir", str(tmp_path / "results")]) == 0
    assert "total: 1 runs (1 to do)" in capsys.readouterr().out


def test_subset_files_quote_class_and_file_names(tmp_path, capsys, monkeypatch):
    """A class folder whose name holds a newline, a file whose name holds a tab: each row of the
    subset file still reads back as (class, file) with the csv module."""
    import csv
    from test_own_images import write_folder
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    root = write_folder(tmp_path / "mine", {"two\nlines": 4, 'say "b"': 4})
    for image in (root / "two\nlines").iterdir():
        image.rename(image.with_name("a\t" + image.name))
    assert main(["subsets", "--dataset", f"folder:{root}", "--shots", "all", "--seeds", "0",
                 "--out", str(tmp_path / "subsets")]) == 0
    (path,) = (tmp_path / "subsets").iterdir()
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert len(rows) == 6 and all(len(row) == 2 and row[1].startswith(row[0] + "/") for row in rows)
    assert sum(row[0] == "two\nlines" and "/a\t" in row[1] for row in rows) == 3


@pytest.mark.parametrize("damage", ["empty dict", "wrong shapes"])
def test_samples_and_fid_on_a_wrong_artifact_are_one_line(tmp_path, capsys, damage):
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "chimeramix_grid")
    ARTIFACT_DAMAGES[damage](store.artifact_path(GENERATOR.id))
    common = ["--dataset", "digits", "--shots", "5", "--seed", "0", "--profile", "quick", "--results-dir", str(store.root)]
    for argv in (["samples", "--method", "chimeramix_grid", *common, "--out", str(tmp_path / "s.png")],
                 ["analyze", "fid", "--sets", "chimeramix_grid", "--k", "10", *common]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and err[0].startswith("warning:") and "trained again" in err[0], err
        assert err[1].startswith("error: no trained generator for chimeramix_grid digits shots=5") and "Traceback" not in err[1]
        save_atomic(torch.load(store.artifact_path(GENERATOR.id).with_name(f"{GENERATOR.id}.pt.invalid"),
                               weights_only=True), store.artifact_path(GENERATOR.id))
