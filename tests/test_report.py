import math
import shutil
import subprocess

import pytest

from benchmark.cli import main
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.grids import grid_specs
from benchmark.orchestration.store import Store
from benchmark.output.report import results_frame, write_report
from benchmark.output.reproduction import compare, kendall_tau_b, paper_frame
from benchmark.output.tables import Cell, Table, build_table, latex_table
from helpers import fake_record, grid_tasks, run_task


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """No Inception weights of the user's cache: the demo report must not compute FID here."""
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("benchmark.output.analysis.fid.fid_helper_installed", lambda: False)


def table1_task(method, dataset, shots, seed):
    [task] = [t for t in grid_tasks("table1") if (t.spec.method, t.dataset, t.spec.shots, t.spec.seed)
              == (method, dataset, shots, seed)]
    return task


def test_report_tables_show_mean_std_counts_and_the_published_numbers(tmp_path):
    store = Store(tmp_path / "results")
    tasks = [t for t in grid_tasks("table1") if t.dataset == "cifair10" and t.spec.method == "baseline"]
    for t in tasks:
        if t.spec.shots == 5:
            store.write_record(fake_record(t, 30.0 + t.spec.seed))
        elif t.spec.shots == 10 and t.spec.seed < 2:
            store.write_record(fake_record(t, 40.0 + 2 * t.spec.seed))
    [path] = write_report(store, tmp_path / "out", "table1", figures=False)
    text = path.read_text()
    # the only finished cells of their columns, so the best: bold; 2 of 5 seeds at 10 shots: (n=2)
    assert "| Baseline | **32.00 ± 1.58** | **41.00 ± 1.41** (n=2) | – |" in text
    assert "| 5 | Baseline | 32.00 ± 1.58 | 31.37 ± 3.28 | +0.63 | yes |" in text  # vs ChimeraMix Table 1
    assert (tmp_path / "out" / "table1" / "tables.tex").read_text().count("\\toprule") == 1


def test_report_of_the_demo_says_there_are_no_published_numbers(tmp_path):
    store = Store(tmp_path / "results")
    store.write_record(fake_record(grid_tasks("demo")[0], 70.0))
    paths = write_report(store, tmp_path / "out", figures=False)
    assert [p.parent.name for p in paths] == ["demo"]
    assert "No published numbers for digits." in paths[0].read_text()


def write_table1_column(store, offsets):
    """ciFAIR-10, 5 shots, 5 seeds per method: the published mean + offset + seed spread -2..2."""
    paper = paper_frame("table1")
    for method, label, offset in offsets:
        mean = float(paper[(paper.dataset == "ciFAIR-10") & (paper.row == label) & (paper.shots == 5)]["mean"].iloc[0])
        for seed in range(5):
            store.write_record(fake_record(table1_task(method, "cifair10", 5, seed), mean + offset + seed - 2))


def test_reproduction_against_chimeramix_table1_has_known_differences_and_tau(tmp_path):
    store = Store(tmp_path / "results")
    # published at 5 shots: ChimeraMix+Seg 37.31 (2.57) > MixUp 33.41 (2.70) > Baseline 31.37 (3.28)
    write_table1_column(store, [("baseline", "Baseline", 1.0), ("mixup", "MixUp", -10.0),
                                ("chimeramix_seg", "ChimeraMix+Seg", 0.5)])
    records = {r.run_id: r for r in store.records()}
    table = build_table("table1", results_frame(resolve(grid_specs("table1")), records))
    cmp = compare(table, paper_frame("table1"))
    rows = {r.method: r for r in cmp.rows.itertuples()}
    assert rows["Baseline"].diff == pytest.approx(1.0) and rows["Baseline"].within
    assert rows["MixUp"].diff == pytest.approx(-10.0) and not rows["MixUp"].within  # 2 x 2.70 = 5.4 < 10
    assert rows["ChimeraMix+Seg"].diff == pytest.approx(0.5) and rows["ChimeraMix+Seg"].within
    # ours: Seg 37.81 > Baseline 32.37 > MixUp 23.41; one discordant pair of three: tau = 1/3
    [tau] = cmp.taus.itertuples()
    assert (tau.dataset, tau.shots, tau.methods) == ("ciFAIR-10", 5, 3)
    assert tau.tau == pytest.approx(1 / 3)
    [path] = write_report(store, tmp_path / "out", "table1", figures=False)
    text = path.read_text()
    assert "2 of 3 compared cells are within 2σ" in text
    assert "| ciFAIR-10 | 5 | MixUp | 23.41 ± 1.58 | 33.41 ± 2.70 | -10.00 | no |" in text
    assert "| ciFAIR-10 | 5 | 3 | 0.33 |" in text
    assert "| ChimeraMix+Seg | **37.81 ± 1.58** |" in text  # best of its column


def test_missing_and_partial_cells_are_marked_and_counted(tmp_path):
    store = Store(tmp_path / "results")
    store.write_record(fake_record(table1_task("baseline", "stl10", 20, 3), 40.0))
    for seed in range(5):
        store.write_record(fake_record(table1_task("cutout", "stl10", 20, seed), 41.0 + seed))
    (store.root / "runs" / "0000000000000000.json").write_text("{ half a record")  # a broken file is skipped
    [path] = write_report(store, tmp_path / "out", "table1", figures=False)
    text = path.read_text()
    expected = {(t.label, t.dataset, t.spec.shots) for t in grid_tasks("table1")}
    assert f"{len(expected) - 2} of {len(expected)} cells missing; 1 with fewer seeds" in text
    line = next(l for l in text.splitlines() if l.startswith("| Baseline |"))
    cells = [c.strip() for c in line.strip("|").split("|")[1:]]
    assert cells.count("–") == len(cells) - 1 and "40.00 (n=1)" in cells
    assert "| Cutout |" in text and "**43.00 ± 1.58**" in text
    tex = (tmp_path / "out" / "table1" / "tables.tex").read_text()
    assert "40.00\\,{\\scriptsize(n=1)}" in tex and "--" in tex
    assert f"% {len(expected) - 2} of {len(expected)} cells missing" in tex


def test_table2_maps_the_policy_columns_to_our_augment_policy():
    rows = set(paper_frame("table2")["row"])
    assert {"AutoAugment", "TrivialAugment", "ChimeraMix+Grid", "ChimeraMix+Grid + AutoAugment",
            "ChimeraMix+Seg + TrivialAugment"} <= rows
    assert run_task("chimeramix_seg", "cifair100", profile="paper", augment="trivialaugment").label in rows


def test_fig4_is_compared_with_tables_1_and_3():
    paper = paper_frame("fig4")
    five = paper[(paper.dataset == "ciFAIR-10") & (paper.shots == 5)].set_index("row")["mean"]
    assert five["GridMix"] == 29.97 and five["ChimeraMix+Grid"] == 36.94  # Table 3 and Table 1 (also in 3: once)
    assert not paper.duplicated(["dataset", "row", "shots"]).any()


def test_overrides_get_their_own_row_label_and_defaults_none(tmp_path):
    assert run_task("hydramix", p_gen=0.25).label == "HydraMix (p_gen=0.25)"
    default = run_task("hydramix", p_gen=0.5)
    assert default.label == "HydraMix" and default.id == run_task("hydramix").id
    store = Store(tmp_path / "results")
    for task in grid_tasks("pgen"):
        if task.dataset == "cifair10" and task.spec.seed < 2:
            store.write_record(fake_record(task, 30 + 10 * task.hparams["p_gen"]))
    [path] = write_report(store, tmp_path / "out", "pgen")
    text = path.read_text()
    assert "| HydraMix (p_gen=0.25) | **32.50 ± 0.00** (n=2) |" not in text  # not the best
    assert "| HydraMix (p_gen=0.25) | 32.50 ± 0.00 (n=2) |" in text
    assert "| HydraMix (p_gen=0.9) | **39.00 ± 0.00** (n=2) |" in text
    assert "No published numbers for `pgen`" in text
    assert (path.parent / "figures" / "pgen.png").stat().st_size > 0


def test_kendall_tau_b_by_hand_and_against_scipy():
    assert kendall_tau_b([1, 2, 3], [1, 2, 3]) == 1.0
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1.0
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # ties: x = 1,1,2  y = 1,2,3: concordant 2, tied in x only 1 -> 2 / sqrt(2 * 3)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(kendall_tau_b([1, 1], [1, 2]))
    scipy = pytest.importorskip("scipy.stats")
    for x, y in [([1, 1, 2, 5, 3], [2, 1, 2, 4, 4]), ([3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8])]:
        assert kendall_tau_b(x, y) == pytest.approx(scipy.kendalltau(x, y).statistic)


def test_latex_escapes_labels():
    table = Table("pgen", ["HydraMix (p_gen=0.25)"], ["ciFAIR-10"], {"ciFAIR-10": [5]},
                  {("HydraMix (p_gen=0.25)", "ciFAIR-10", 5): Cell(5, 30.0, 1.0)},
                  {("HydraMix (p_gen=0.25)", "ciFAIR-10", 5): 5})
    tex = latex_table(table, "50% done & more")
    assert "p\\_gen" in tex and "50\\% done \\& more" in tex and "\\textbf{30.00 $\\pm$ 1.00}" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
def test_latex_report_compiles_with_pdflatex(tmp_path):
    store = Store(tmp_path / "results")
    write_table1_column(store, [("baseline", "Baseline", 1.0), ("mixup", "MixUp", -10.0)])
    store.write_record(fake_record(table1_task("cutout", "stl10", 20, 0), 40.0))
    [path] = write_report(store, tmp_path / "out", "table1", figures=False)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=path.parent,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (path.parent / "report.pdf").stat().st_size > 1000


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
def test_a_report_with_a_recommendation_compiles_with_pdflatex(tmp_path):
    store = Store(tmp_path / "results")
    for task in grid_tasks("demo"):
        if task.spec.method in ("baseline", "mixup", "cutout"):
            store.write_record(fake_record(task, 70.0 + 3 * task.spec.seed + (task.spec.method == "mixup")))
    [path] = write_report(store, tmp_path / "out", "demo", figures=False)
    assert "## Recommendation" in path.read_text()
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=path.parent,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull \\hbox" not in done.stdout  # the tables fit the page


def test_report_cli_writes_every_grid_with_results(tmp_path, capsys):
    store = Store(tmp_path / "results")
    store.write_record(fake_record(grid_tasks("demo")[0], 70.0))
    assert main(["report", "--results-dir", str(store.root), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "out" / "demo" / "tables.md").exists() and (tmp_path / "out" / "demo" / "report.tex").exists()


def test_a_cell_with_every_seed_its_grid_asks_for_shows_no_count(tmp_path):
    store = Store(tmp_path / "results")
    for task in grid_tasks("demo"):
        if task.spec.method == "baseline" and not (task.spec.shots == 20 and task.spec.seed == 1):
            store.write_record(fake_record(task, 70.0 + task.spec.seed))
    [path] = write_report(store, tmp_path / "out", "demo", figures=False)
    line = next(line for line in path.read_text().splitlines() if line.startswith("| Baseline |"))
    assert line == "| Baseline | **70.50 ± 0.71** | **70.00** (n=1) |"  # the demo asks for 2 seeds


def test_runs_outside_every_grid_get_a_report_of_their_own(tmp_path, capsys):
    store = Store(tmp_path / "results")
    store.write_record(fake_record(run_task("baseline", seed=7), 61.0))
    store.write_record(fake_record(run_task("mixup", seed=7), 63.0))
    [path] = write_report(store, tmp_path / "out", figures=False)
    assert path.parent.name == "other"
    text = path.read_text()
    assert "# Runs outside the named grids" in text and "| MixUp | **63.00** |" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
def test_report_tex_holds_the_sections_and_figures_and_compiles_to_the_same_bytes(tmp_path):
    store = Store(tmp_path / "results")
    write_table1_column(store, [("baseline", "Baseline", 1.0), ("mixup", "MixUp", -10.0)])
    [path] = write_report(store, tmp_path / "out", "table1")
    tex = (path.parent / "report.tex").read_text()
    for part in ("\\section*{Results}", "\\section*{Reproduction}", "\\section*{Figures}",
                 "\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]{figures/accuracy_cifair-10.pdf}"):
        assert part in tex
    assert tex.index("\\section*{Results}") < tex.index("\\begin{table}[H]") < tex.index("\\section*{Reproduction}")
    pdfs = []
    for _ in range(3):  # the first run writes report.aux, which the second reads
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=path.parent,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:]
        pdfs.append((path.parent / "report.pdf").read_bytes())
    assert pdfs[1] == pdfs[2]
    figure = (path.parent / "figures" / "accuracy_cifair-10.pdf").read_bytes()
    write_report(store, tmp_path / "out", "table1")
    assert (path.parent / "figures" / "accuracy_cifair-10.pdf").read_bytes() == figure and b"CreationDate" not in figure


def test_export_writes_a_csv_row_per_record(tmp_path, capsys):
    store = Store(tmp_path / "results")
    tasks = [t for t in grid_tasks("pgen") if t.dataset == "cifair10" and t.spec.seed == 0]
    for task in tasks:
        store.write_record(fake_record(task, 30 + 10 * task.hparams["p_gen"]))
    out = tmp_path / "all.csv"
    assert main(["export", "--results-dir", str(store.root), "--out", str(out)]) == 0
    import pandas as pd
    frame = pd.read_csv(out)
    assert len(frame) == len(tasks) and set(frame["method"]) == {"hydramix"}
    assert sorted(frame["accuracy"]) == sorted(30 + 10 * t.hparams["p_gen"] for t in tasks)
    assert {"run_id", "dataset_label", "hparams", "train_seconds", "device", "commit"} <= set(frame.columns)
    assert main(["export", "--grid", "demo", "--results-dir", str(store.root)]) == 0
    assert capsys.readouterr().out.strip().count("\n") == 0  # the header only: no demo run


def test_a_grid_file_compared_with_table1_shows_its_published_rows_beside_the_new_one(tmp_path, monkeypatch, capsys):
    """A new method's grid file on Table 1's settings: the rows with published numbers are compared,
    the new one is named as unpublished (cosine_ce stands in for a plug-in method: no Table 1 row)."""
    grid = tmp_path / "mine.toml"
    grid.write_text('datasets = ["cifair10"]\nmethods = ["baseline", "cosine_ce"]\nshots = [5]\nseeds = "0-4"\n'
                    'profile = "paper"\ncompare_with = "table1"\n')
    store = Store(tmp_path / "results")
    for seed in range(5):  # the baseline runs are table1's: the same specs, the same ids
        store.write_record(fake_record(table1_task("baseline", "cifair10", 5, seed), 30.0 + seed))
        store.write_record(fake_record(run_task("cosine_ce", "cifair10", 5, seed, profile="paper"), 35.0 + seed))
    assert main(["report", "--grid", str(grid), "--results-dir", str(store.root), "--out", str(tmp_path / "out"),
                 "--no-figures"]) == 0
    text = (tmp_path / "out" / "mine" / "tables.md").read_text()
    assert "| 5 | Baseline | 32.00 ± 1.58 | 31.37 ± 3.28 | +0.63 | yes |" in text
    assert "No published numbers in ChimeraMix Table 1 for: Cosine + CE." in text
    grid.write_text(grid.read_text().replace('"table1"', '"demo"'))
    assert main(["report", "--grid", str(grid), "--results-dir", str(store.root)]) == 2
    assert "compare_with: 'demo' is not a grid with published numbers; valid: table1, table2, table3, hydramix, fig4, " \
           "synermix_small" in capsys.readouterr().err
