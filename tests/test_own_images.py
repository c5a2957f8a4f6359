"""A practitioner's own images: folder datasets (sizes, modes, cache, changed folders, bad input),
selections without a named grid, grid files, and the training subsets others can reuse."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.cli import main
from benchmark.data import check_dataset_name, dataset_label, image_size, load_dataset, subsample
from benchmark.data.folder import load_folder
from benchmark.errors import UserError
from benchmark.orchestration.folders import check_folders
from benchmark.orchestration.grid_file import read_grid_file
from benchmark.arguments import parse_ints, parse_shots
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.selection import from_args
from benchmark.orchestration.store import Store
from benchmark.profiles import recipe_for
from benchmark.spec import ALL_SHOTS, RunSpec


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))


def write_folder(root: Path, per_class: dict[str, int]) -> Path:
    """Class folders of grey squares whose shade is the class's index (different sizes)."""
    for label, (name, count) in enumerate(per_class.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("L", (20 + i, 24), 40 * label).save(root / name / f"{i:03d}.png")
    return root


def one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_every_image_mode_and_size_loads(tmp_path: Path) -> None:
    root = tmp_path / "modes"
    write_folder(root, {"a": 3})
    b = root / "b"
    b.mkdir()
    Image.new("RGBA", (50, 30), (200, 100, 0, 0)).save(b / "rgba.png")
    Image.new("RGB", (64, 64), (200, 100, 0)).save(b / "rgb.jpg", quality=100)
    Image.new("RGB", (8, 8), (200, 100, 0)).convert("P").save(b / "palette.png")
    Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(b / "white16.png")
    Image.fromarray(np.full((16, 16), 32896, np.uint16)).save(b / "grey16.png")  # 128 x 257
    data = load_folder(root, "modes", 32)
    assert data.train_x.shape[1:] == (3, 32, 32) and data.train_x.dtype == torch.uint8
    pixels = {name: image[:, 16, 16].tolist() for name, image in zip(data.train_ids, data.train_x)}
    pixels |= {f"test{i}": image[:, 16, 16].tolist() for i, image in enumerate(data.test_x)}
    assert pixels.get("b/white16.png", [255] * 3) == [255] * 3 and pixels.get("b/grey16.png", [128] * 3) == [128] * 3
    assert [255] * 3 in pixels.values() or [128] * 3 in pixels.values()  # at least one 16-bit image is in the pool


@pytest.mark.parametrize("make, message", [
    (lambda root: write_folder(root, {"only": 4}), "has one class folder (only)"),
    (lambda root: (write_folder(root, {"a": 3, "b": 3}) / "a" / "notes.txt").write_text("x"),
     "notes.txt is not an image"),
    (lambda root: (write_folder(root, {"a": 3, "b": 3}) / "a" / "more").mkdir(), "is a folder inside class folder"),
    (lambda root: (write_folder(root, {"a": 3}) / "b").mkdir(), "has no images"),
    (lambda root: write_folder(root, {"a": 3, "b": 1}), "has 1 image; a train/test split needs at least 2"),
    (lambda root: root.mkdir(), "has no class folders"),
    (lambda root: None, "not found"),
])
def test_a_bad_folder_is_one_line_naming_it(tmp_path, capsys, make, message) -> None:
    root = tmp_path / "mine"
    make(root)
    line = one_error_line(capsys, ["run", "--datasets", f"folder:{root}", "--methods", "baseline", "--shots", "1",
                                   "--seeds", "0", "--dry-run"])
    assert message in line and str(root) in line


def test_unreadable_images_and_too_many_shots_stop_before_training(tmp_path, capsys) -> None:
    root = write_folder(tmp_path / "mine", {"a": 4, "b": 4})
    results = tmp_path / "results"
    argv = ["run", "--datasets", f"folder:{root}", "--methods", "baseline", "--shots", "5", "--seeds", "0",
            "--profile", "quick", "--results-dir", str(results)]
    assert "shots 5 is more than class 'a' (label 0) has (3 training images); use shots <= 3" in \
        one_error_line(capsys, argv)
    Image.fromarray(np.zeros((4, 4), np.float32)).save(root / "b" / "float.tif")
    assert f"{root / 'b' / 'float.tif'} is a floating-point image" in one_error_line(capsys, argv)
    (root / "b" / "float.tif").write_bytes(b"not a tiff")
    assert f"cannot read image {root / 'b' / 'float.tif'}" in one_error_line(capsys, argv)
    assert not (results / "runs").exists()


def test_folder_sizes_are_part_of_the_name() -> None:
    assert image_size("folder:/x/pets") == 32 and image_size("folder@96:/x/pets") == 96
    assert dataset_label("folder@96:/x/pets") == "folder@96:pets" and dataset_label("folder:/x/pets") == "folder:pets"
    assert recipe_for("paper", image_size("folder@96:/x/pets")).model == "resnet50"
    assert recipe_for("paper", 64).model == recipe_for("paper", 32).model  # 64: 32's
    assert RunSpec("baseline", "folder:/x/pets", 5, 0).id != RunSpec("baseline", "folder@96:/x/pets", 5, 0).id
    for name, message in [("folder@32:/x", "32 px is the default); write folder:/x"),
                          ("folder@4:/x", "'4' in 'folder@4:/x' is not a whole number of pixels from 8 to 512"),
                          ("folder@big:/x", "is not a whole number of pixels")]:
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check_dataset_name(name)


def test_images_are_decoded_once_and_a_changed_folder_again(tmp_path: Path, monkeypatch) -> None:
    root = write_folder(tmp_path / "mine", {"a": 5, "b": 5})
    first = load_folder(root, "mine", 32)
    big = load_folder(root, "mine", 48)
    assert big.train_x.shape[-1] == 48

    def no_decoding(path, size):
        raise AssertionError(f"decoded {path} again")
    monkeypatch.setattr("benchmark.data.folder.read_image", no_decoding)
    again = load_folder(root, "mine", 32)
    assert torch.equal(again.train_x, first.train_x) and again.fingerprint == first.fingerprint
    Image.new("L", (20, 24), 255).save(root / "b" / "000.png")  # modified: decoded afresh
    with pytest.raises(AssertionError, match="decoded"):
        load_folder(root, "mine", 32)


def test_a_changed_folder_never_mixes_with_results_of_the_old_one(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "mine", {"a": 5, "b": 5})
    store = Store(tmp_path / "results")
    plan = resolve([RunSpec("baseline", f"folder:{root}", 2, 0, profile="quick")])
    check_folders(plan, store)  # the manifest
    (root / "a" / "new.png").write_bytes((root / "a" / "000.png").read_bytes())
    check_folders(plan, store)  # nothing trained yet: the manifest follows the folder
    store.checkpoint_path(plan.runs[0].id).parent.mkdir(parents=True, exist_ok=True)
    store.checkpoint_path(plan.runs[0].id).write_bytes(b"a run in flight")
    (root / "b" / "001.png").unlink()
    Image.new("L", (20, 24), 7).save(root / "b" / "000.png")
    with pytest.raises(UserError, match=r"folder .*mine changed since the results .* were trained on it: 1 file "
                                        r"removed \(b/001.png\), 1 file modified \(b/000.png\); restore it"):
        check_folders(plan, store)
    assert store.checkpoint_path(plan.runs[0].id).read_bytes() == b"a run in flight"


def test_seed_and_shot_ranges() -> None:
    assert parse_ints("0-4", "--seeds", False) == [0, 1, 2, 3, 4]
    assert parse_ints("3,0-2,2", "--seeds", False) == [3, 0, 1, 2]
    assert parse_shots("1-3,all") == [1, 2, 3, ALL_SHOTS]
    with pytest.raises(UserError, match="'4-2' is an empty range"):
        parse_ints("4-2", "--seeds", False)
    with pytest.raises(UserError, match="'a-b' is not an integer or a range FIRST-LAST"):
        parse_ints("a-b", "--seeds", False)
    with pytest.raises(UserError, match="0 is not allowed"):
        parse_shots("0-2")


def test_all_shots_is_the_whole_pool() -> None:
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    assert subsample(labels, ALL_SHOTS, 3).tolist() == list(range(6))


def selection_args(**given) -> argparse.Namespace:
    options = {"grid": None, "datasets": None, "methods": None, "shots": None, "seeds": None, "profile": None}
    return argparse.Namespace(**(options | given))


def test_a_selection_without_a_grid_is_the_product_minus_what_does_not_apply(tmp_path, monkeypatch) -> None:
    root = write_folder(tmp_path / "mine", {"a": 5, "b": 5})
    monkeypatch.setattr("benchmark.orchestration.cost.local_device_kind", lambda: "cpu")
    selection = from_args(selection_args(datasets=f"folder:{root},digits", methods="baseline,chimeramix_grid",
                                         shots="1,all", seeds="0-2"))
    specs = {(s.method, s.dataset.split(":")[0], s.shots, s.seed, s.profile) for s in selection.specs}
    assert len(specs) == len(selection.specs) == 2 * 3 + 2 * 3 + 1 * 3 + 1 * 3
    assert ("chimeramix_grid", "folder", ALL_SHOTS, 2, "medium") in specs and ("baseline", "digits", 1, 0, "paper") in specs
    assert not any(s.method == "chimeramix_grid" and s.shots == 1 for s in selection.specs)
    assert selection.notes == [
        "profile medium for folder:mine: the default of folder datasets on a machine without a GPU (--profile paper "
        "for the published recipe)",
        "left out on folder:mine at 1 shots (composes images of one class, and 1 shot per class gives it no two to "
        "compose): chimeramix_grid",
        "left out on digits at 1 shots (composes images of one class, and 1 shot per class gives it no two to "
        "compose): chimeramix_grid"]
    monkeypatch.setattr("benchmark.orchestration.cost.local_device_kind", lambda: "cuda")
    on_gpu = from_args(selection_args(datasets=f"folder:{root}", methods="all", shots="2", seeds="0"))
    assert {s.profile for s in on_gpu.specs} == {"paper"} and len(on_gpu.specs) > 10


def test_a_selection_needs_every_option(capsys) -> None:
    line = one_error_line(capsys, ["status", "--datasets", "digits", "--methods", "all"])
    assert "give --grid G, or --datasets, --methods, --shots and --seeds (missing: --shots, --seeds)" in line


GOOD_GRID = """
datasets = ["digits"]
methods = ["baseline", "hydramix"]
shots = "5,10"
seeds = "0-1"
profile = "quick"
augment = ["none", "trivialaugment"]

[overrides.hydramix]
p_gen = [0.25, 0.5]
"""

BAD_GRID = """
datasets = ["digits", "imagenet"]
methods = ["baseline", "cutmix"]
shots = [5, 0]
seeds = "2-1"
profile = "fast"
augment = ["sometimes"]
epochs = 3

[overrides.baseline]
p_gen = 0.5

[overrides.mixup]
alpha = 1.0
"""


def test_a_grid_file_is_a_product_with_sweeps(tmp_path) -> None:
    path = tmp_path / "my_sweep.toml"
    path.write_text(GOOD_GRID)
    grid = read_grid_file(path)
    assert grid.name == "my_sweep"
    # baseline: 2 shots x 2 seeds x 2 augments; hydramix: 2 x 2 x 2 x 2 values of p_gen
    assert len(grid.specs) == 8 + 16 and {s.profile for s in grid.specs} == {"quick"}
    assert {dict(s.overrides).get("p_gen") for s in grid.specs if s.method == "hydramix"} == {0.25, 0.5}
    assert len(resolve(grid.specs).runs) == 24


def test_a_grid_file_reports_every_mistake_one_line_each(tmp_path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD_GRID)
    assert main(["run", "--grid", str(path), "--dry-run"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    expected = ["unknown key 'epochs'; valid: datasets, methods, shots, seeds, profile, augment, compare_with, overrides",
                "datasets: unknown dataset 'imagenet'", "methods: unknown method 'cutmix'",
                "shots: 0 is not allowed", "seeds: '2-1' is an empty range",
                "profile: unknown profile 'fast'; valid: paper, quick, medium",
                "augment: unknown augment policy 'sometimes'; valid: none, autoaugment, trivialaugment",
                "overrides.baseline.p_gen: ", "overrides.mixup: method 'mixup' is not among the grid's methods"]
    assert len(lines) == len(expected)
    for line, part in zip(lines, expected):
        assert line.startswith(f"error: {path}: {part}")
    path.write_text("datasets = [\n")
    assert f"{path}: not valid TOML" in one_error_line(capsys, ["run", "--grid", str(path), "--dry-run"])


def test_subsets_are_the_files_the_runs_train_on(tmp_path, capsys) -> None:
    root = write_folder(tmp_path / "mine", {"a": 6, "b": 6})
    out = tmp_path / "subsets"
    assert main(["subsets", "--dataset", f"folder:{root}", "--shots", "2,all", "--seeds", "0-1", "--out", str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"folder_mine_shots-{s}_seed-{k}.tsv" for s in (2, "all") for k in (0, 1)]
    lines = (out / "folder_mine_shots-2_seed-0.tsv").read_text().splitlines()
    assert len(lines) == 4 and all(line.split("\t")[1].startswith(line.split("\t")[0] + "/") for line in lines)
    assert len((out / "folder_mine_shots-all_seed-0.tsv").read_text().splitlines()) == 10
    from benchmark.data.subsets import subset_hash
    data = load_dataset(f"folder:{root}", tmp_path)
    printed = capsys.readouterr().out
    assert f"(subset {subset_hash(data, subsample(data.train_y, 2, 1, data.classes))})" in printed


@pytest.mark.slow
def test_a_folder_of_real_images_from_run_to_recommendation(tmp_path, capsys) -> None:
    """The README's path: digits exported as PNG files, run without a grid, status, report, subsets;
    the same folder at another size is another dataset with its own records."""
    from benchmark.data.digits import export_pngs
    from benchmark.orchestration.record import RunRecord
    root = export_pngs(tmp_path / "digits", classes=3, per_class=15)
    results, reports = tmp_path / "results", tmp_path / "reports"
    selection = ["--datasets", f"folder:{root}", "--methods", "baseline,mixup", "--shots", "3", "--seeds", "0-1",
                 "--profile", "quick", "--results-dir", str(results)]
    assert main(["run", *selection, "--workers", "1", "--quiet"]) == 0
    assert main(["status", *selection]) == 0
    assert "total" in capsys.readouterr().out
    assert main(["report", *selection, "--out", str(reports)]) == 0
    report = (reports / "folder-digits" / "tables.md").read_text()
    assert "## Recommendation" in report and "### Recommendation: folder:digits, 3 shots, quick profile" in report
    assert (reports / "folder-digits" / "figures" / "recommendation_folder-digits--3-shots--quick-profile.png").is_file()
    assert main(["subsets", "--dataset", f"folder:{root}", "--shots", "3", "--seeds", "0-1",
                 "--out", str(tmp_path / "subsets")]) == 0
    records = [RunRecord.from_json(json.loads(p.read_text()), p.stem) for p in (results / "runs").glob("*.json")]
    printed = capsys.readouterr().out
    assert len(records) == 4 and all(f"(subset {r.subset})" in printed for r in records)
    assert len({r.subset for r in records}) == 2  # one subset per seed, shared by the methods
    bigger = ["--datasets", f"folder@48:{root}", *selection[2:]]
    assert main(["run", *bigger, "--methods", "baseline", "--seeds", "0", "--workers", "1", "--quiet"]) == 0
    assert len(list((results / "runs").glob("*.json"))) == 5
