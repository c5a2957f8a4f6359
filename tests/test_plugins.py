"""Methods from other packages: the worked example (examples/cutmix_plugin) installed from its own
pyproject.toml into a folder of its own, found through its entry point by the suite's command line
in a subprocess; and broken, clashing and misnamed plug-ins, each one line while the rest works."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.paths import REPOSITORY

EXAMPLE = REPOSITORY / "examples" / "cutmix_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example installed with pip from a copy of its directory (the build writes beside the
    sources; no download: its only dependency, the suite, is left out), into a folder that the
    subprocesses put on their path."""
    source = tmp_path_factory.mktemp("example") / "cutmix_plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True)
    return target


def fake_plugin(site: Path, name: str, value: str, module: str = "", code: str = "") -> Path:
    """A distribution (dist-info with an entry point) and its module, as pip would install them."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[smalldata_benchmark.methods]\n{value}\n")
    if module:
        (site / f"{module}.py").write_text(code)
    return site


def cli(*args: str, site: Path, results: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPOSITORY)])}
    if results is not None:
        env["BENCHMARK_RESULTS_DIR"] = str(results)
    return subprocess.run([sys.executable, "-m", "benchmark", *args], capture_output=True, text=True, env=env,
                          cwd=REPOSITORY)


def test_list_shows_the_installed_plugin_and_where_it_comes_from(installed):
    proc = cli("list", "methods", site=installed)
    assert proc.returncode == 0 and proc.stderr == ""
    line = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["cutmix"])
    assert "CutMix" in line and "plug-in smalldata-cutmix 0.1.0" in line
    assert "built in" in next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["mixup"])


def test_list_and_the_dry_run_stay_free_of_torch_with_a_plugin(installed, tmp_path):
    code = ("import sys\nfrom benchmark.cli import main\nmain(sys.argv[1:])\n"
            "print('LOADED', [m for m in ('torch', 'numpy') if m in sys.modules])")
    for argv in (["list"], ["run", "--datasets", "digits", "--methods", "cutmix", "--shots", "5", "--seeds", "0",
                            "--dry-run", "--results-dir", str(tmp_path)]):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(REPOSITORY)])}
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
        assert "cutmix" in proc.stdout and "LOADED []" in proc.stdout, proc.stdout[-500:] + proc.stderr[-2000:]


def test_a_plugin_method_trains_and_its_record_names_the_plugin(installed, tmp_path):
    results = tmp_path / "results"
    proc = cli("run", "--datasets", "digits", "--methods", "cutmix", "--shots", "5", "--seeds", "0", "--profile",
               "quick", "--executor", "debug", "--quiet", site=installed, results=results)
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert record["spec"]["method"] == "cutmix" and record["method_label"] == "CutMix"
    assert record["environment"]["plugin"] == {"distribution": "smalldata-cutmix", "version": "0.1.0"}


def test_its_hyperparameters_are_checked_like_a_built_in_methods(installed, tmp_path):
    grid = tmp_path / "sweep.toml"
    grid.write_text('datasets = ["digits"]\nmethods = ["cutmix"]\nshots = [5]\nseeds = "0"\nprofile = "quick"\n'
                    "[overrides.cutmix]\np = [0.5, 2.0]\n")
    proc = cli("run", "--grid", str(grid), "--dry-run", site=installed, results=tmp_path / "results")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {grid}: overrides.cutmix.p: parameter p: 2.0 is not allowed; valid: 0 <= p <= 1"


def test_a_plugin_that_fails_to_import_is_one_line_and_the_suite_works(tmp_path):
    site = fake_plugin(tmp_path / "site", "broken-plugin", "broken = broken_plugin:Broken", "broken_plugin",
                       "import a_module_that_does_not_exist\n")
    proc = cli("list", "methods", site=site)
    assert proc.returncode == 0 and "baseline" in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        "warning: plug-in 'broken' (broken_plugin:Broken, broken-plugin 1.0) failed to import (ModuleNotFoundError: "
        "No module named 'a_module_that_does_not_exist'); left out"]


@pytest.mark.parametrize("value,module,code,warning", [
    ("mixup = clash:Clash", "clash", "from methods.base import Method\nclass Clash(Method):\n    label = summary = 'x'\n",
     "plug-in 'mixup' (clash:Clash, clash-plugin 1.0): method 'mixup' is already registered (built in); left out"),
    ("Bad-Name = clash:Clash", "clash", "from methods.base import Method\nclass Clash(Method):\n    label = summary = 'x'\n",
     "plug-in 'Bad-Name' (clash:Clash, clash-plugin 1.0): 'Bad-Name' is not a method name (lower-case letters, "
     "digits, _); left out"),
    ("thing = clash:THING", "clash", "THING = 3\n",
     "plug-in 'thing' (clash:THING, clash-plugin 1.0) is neither a Method nor a StageKind subclass; left out"),
])
def test_a_clashing_or_malformed_plugin_is_one_line(tmp_path, value, module, code, warning):
    site = fake_plugin(tmp_path / "site", "clash-plugin", value, module, code)
    proc = cli("list", "methods", site=site)
    assert proc.returncode == 0 and proc.stderr.strip().splitlines() == [f"warning: {warning}"]
    mixup = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["mixup"])
    assert "MixUp" in mixup and "built in" in mixup


def test_the_examples_own_tests_pass_where_it_is_installed(installed):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(REPOSITORY)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                          capture_output=True, text=True, env=env, cwd=EXAMPLE)
    assert proc.returncode == 0, proc.stdout[-3000:]
