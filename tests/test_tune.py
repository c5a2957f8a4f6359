"""`tune` and recipe values per run: RunSpec.recipe (ids unchanged without it, checked like method
overrides), grid files' [recipe] and [tune], the validation folds inside a subset, the searches of a
selection and what cannot be tuned, trials as tasks (done, resumed, never redone) and the choices
that name the tuned runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.orchestration.grid_file import read_grid_file
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.orchestration.trials import fold_of, open_study, search_space
from benchmark.orchestration.tuning import searches
from benchmark.spec import RunSpec
from helpers import run_task


def test_a_run_without_recipe_values_keeps_its_id_and_json() -> None:
    spec = RunSpec("baseline", "digits", 5, 0, profile="quick")
    assert "recipe" not in spec.to_dict() and RunSpec.from_dict(spec.to_dict()) == spec
    tuned = RunSpec("baseline", "digits", 5, 0, profile="quick", recipe=(("lr", 0.05),))
    assert tuned.to_dict()["recipe"] == {"lr": 0.05} and tuned.id != spec.id
    assert RunSpec.from_dict(tuned.to_dict()).id == tuned.id


def test_recipe_values_are_canonical_and_checked() -> None:
    default = resolve([RunSpec("baseline", "digits", 5, 0, profile="quick")]).runs[0]
    same = resolve([RunSpec("baseline", "digits", 5, 0, profile="quick", recipe=(("lr", "0.02"), ("epochs", 12.0)))])
    assert same.runs[0].id == default.id and same.runs[0].spec.recipe == ()  # the recipe's own values: no recipe
    run = resolve([RunSpec("baseline", "digits", 5, 0, profile="quick", recipe=(("epochs", "3"), ("lr", 0.1)))]).runs[0]
    assert run.spec.recipe == (("epochs", 3), ("lr", 0.1)) and run.recipe.epochs == 3 and run.recipe.lr == 0.1
    assert run.steps == default.steps // 4 and run.label == "Baseline (epochs=3, lr=0.1)"
    for recipe, message in [((("lr", 0.0),), "parameter lr: 0.0 is not allowed; valid: 0 < lr <= 10"),
                            ((("epochs", 2.5),), "parameter epochs: 2.5 is not a whole number"),
                            ((("momentum", 0.5),), "unknown recipe parameter 'momentum'; valid: lr, weight_decay, "
                                                   "epochs, batch_size")]:
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            resolve([RunSpec("baseline", "digits", 5, 0, profile="quick", recipe=recipe)])


def test_grid_files_take_recipe_values_and_a_tune_table(tmp_path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text('datasets = ["digits"]\nmethods = ["baseline", "mixup"]\nshots = 5\nseeds = "0-1"\n'
                    'profile = "quick"\n[recipe]\nlr = [0.01, 0.05]\n[tune]\ntrials = 7\nonce = true\n')
    grid = read_grid_file(path)
    assert len(grid.specs) == 8 and {dict(s.recipe)["lr"] for s in grid.specs} == {0.01, 0.05}
    assert (grid.tune.methods, grid.tune.trials, grid.tune.once) == (("baseline",), 7, True)
    path.write_text('datasets = ["digits"]\nmethods = ["baseline"]\nshots = 5\nseeds = 0\n[recipe]\nlr = -1\n'
                    '[tune]\ntrials = 0\nmethods = ["mixup"]\nspeed = 2\n')
    with pytest.raises(UserError) as mistakes:
        read_grid_file(path)
    lines = str(mistakes.value).splitlines()
    assert any("recipe.lr: parameter lr: -1.0 is not allowed" in line for line in lines)
    assert any("tune.trials: 0 is not allowed; give a positive whole number" in line for line in lines)
    assert any("tune.methods: method 'mixup' is not among the grid's methods" in line for line in lines)
    assert any("tune: unknown key 'speed'; valid: trials, methods, once" in line for line in lines)


def test_folds_are_stratified_and_fixed_by_the_seed() -> None:
    labels = torch.arange(10).repeat_interleave(7)  # 7 shots of 10 classes
    fold = fold_of(labels, 5, seed=3)
    for f in range(5):
        held = labels[fold == f]
        assert sorted(held.unique().tolist()) == list(range(10))  # every class in every fold
        assert len(held) == 10 * (2 if f < 2 else 1)  # 7 = 2 + 2 + 1 + 1 + 1 per class
    assert torch.equal(fold, fold_of(labels, 5, seed=3)) and not torch.equal(fold, fold_of(labels, 5, seed=4))


def test_searches_per_seed_or_once_and_their_trials() -> None:
    plan = resolve([RunSpec("baseline", "digits", 5, k, profile="quick") for k in range(3)])
    per_seed, once = searches(plan, 4, once=False), searches(plan, 4, once=True)
    assert [len(s.trials) for s in per_seed] == [4, 4, 4] and [s.seed for s in per_seed] == [0, 1, 2]
    assert len(once) == 1 and [r.spec.seed for r in once[0].runs] == [0, 1, 2] and once[0].mode == "first seed"
    assert once[0].trials[0].spec.study_id == per_seed[0].trials[0].spec.study_id  # the same study: seed 0's
    assert len({t.id for s in per_seed for t in s.trials}) == 12
    trial, run = per_seed[0].trials[0], plan.runs[0]
    assert trial.spec.folds == 5 and trial.steps == 5 * run.recipe.epochs * run.recipe.epoch_steps(40, 5)
    space = search_space(run)
    assert list(space) == ["lr", "weight_decay"] and space["lr"][1].search == pytest.approx((0.002, 0.2))
    assert list(search_space(run_task("mixup"))) == ["lr", "weight_decay", "alpha"]  # the method's declared range too


@pytest.mark.parametrize("argv, message", [
    (["--methods", "baseline", "--shots", "1"], "1 shot leaves no image of a class to validate on"),
    (["--methods", "chimeramix_grid", "--shots", "5"], "its generator stage trains on the whole subset and would see the validation folds"),
    (["--methods", "baseline", "--shots", "5", "--trials", "0"], "--trials must be at least 1, got 0"),
])
def test_what_cannot_be_tuned_is_one_line(tmp_path, capsys, argv, message) -> None:
    code = main(["tune", "--datasets", "digits", "--seeds", "0", "--profile", "quick", "--results-dir",
                 str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_dry_run_shows_the_searches_trials_and_cost(tmp_path, capsys) -> None:
    assert main(["tune", "--datasets", "digits", "--methods", "baseline,mixup", "--shots", "5", "--seeds", "0-2",
                 "--profile", "quick", "--trials", "6", "--results-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("digits") == 6 and "total: 6 searches, 36 trials (36 to do)" in out
    assert "search space of the first search: lr 0.002-0.2 (log), weight_decay 5e-05-0.005 (log)" in out
    assert main(["run", "--datasets", "digits", "--methods", "baseline,mixup", "--shots", "5", "--seeds", "0-2",
                 "--profile", "quick", "--tune", "--trials", "4", "--once", "--results-dir", str(tmp_path),
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "total: 1 searches, 4 trials" in out and "total: 6 runs" in out  # the Baseline's search, then the runs
    assert main(["run", "--datasets", "digits", "--methods", "baseline", "--shots", "5", "--seeds", "0",
                 "--trials", "4", "--results-dir", str(tmp_path), "--dry-run"]) == 2
    assert "--trials and --once apply with --tune" in capsys.readouterr().err


def test_a_damaged_study_journal_is_set_aside(tmp_path, capsys) -> None:
    [search] = searches(resolve([RunSpec("baseline", "digits", 5, 0, profile="quick")]), 1, once=True)
    store = Store(tmp_path)
    path = store.study_path(search.trials[0].spec.study_id)
    path.parent.mkdir(parents=True)
    path.write_text('{"op_code": 0, "worker_id": "x", "study_name": 3}\nnot json\n')
    study = open_study(store, search.trials[0].spec)
    assert study.trials == [] and path.with_name(path.name + ".invalid").exists()
    assert "is not a valid study journal" in capsys.readouterr().err


def grid_file(tmp_path, seeds: str = "0-1") -> str:
    """A selection whose runs train for 2 epochs: trials of seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(f'datasets = ["digits"]\nmethods = ["baseline"]\nshots = 3\nseeds = "{seeds}"\n'
                    'profile = "quick"\n[recipe]\nepochs = 2\n')
    return str(path)


@pytest.mark.slow
def test_tune_trains_trials_then_the_tuned_runs_and_never_redoes_a_trial(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    argv = ["tune", "--grid", grid_file(tmp_path), "--results-dir", str(results), "--executor", "debug", "--quiet"]
    assert main([*argv, "--trials", "2", "--once"]) == 0
    store = Store(results)
    trials = sorted((results / "tune" / "trials").glob("*.json"))
    assert len(trials) == 2
    written = {p: p.stat().st_mtime_ns for p in trials}
    choices = [store.choice(p.stem) for p in (results / "tune" / "choices").glob("*.json")]
    assert len(choices) == 2 and {c["mode"] for c in choices} == {"first seed"}
    tuned = [RunSpec.from_dict(c["tuned"]) for c in choices]
    assert all(store.is_done(s.id) for s in tuned) and {s.seed for s in tuned} == {0, 1}
    assert all(dict(s.recipe)["epochs"] == 2 and "lr" in dict(s.recipe) for s in tuned)
    for path in trials:
        record = json.loads(path.read_text())
        assert record["state"] in ("complete", "pruned") and len(record["folds"]) >= 1
        assert set(record["values"]) == {"lr", "weight_decay"}
    out = capsys.readouterr().out
    assert "tuned on seed 0's subset for seeds 0,1: 2 trials" in out
    assert main(["status", "--grid", grid_file(tmp_path), "--results-dir", str(results)]) == 0
    complete = sum(json.loads(p.read_text())["state"] == "complete" for p in trials)
    assert (f"tune: baseline digits shots=3 [quick] on seed 0's subset: 2 trials finished ({complete} complete, "
            f"{2 - complete} pruned); values chosen") in capsys.readouterr().out
    assert main([*argv, "--trials", "3", "--once"]) == 0  # one more trial: the first two are not trained again
    assert "1 trials finished, 2 already done" in capsys.readouterr().out
    assert all(p.stat().st_mtime_ns == t for p, t in written.items())
    assert main(["report", "--grid", grid_file(tmp_path), "--results-dir", str(results), "--out",
                 str(tmp_path / "reports"), "--no-figures"]) == 0
    assert "Baseline (epochs=2) (tuned)" in (tmp_path / "reports" / "tiny" / "tables.md").read_text()
    capsys.readouterr()
    assert main(["export", "--grid", grid_file(tmp_path), "--results-dir", str(results)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[1:] if line]
    assert len(rows) == 2 and all('""lr"": ' in row for row in rows)  # only the tuned runs have records


@pytest.mark.slow
def test_an_interrupted_trial_resumes_as_itself(tmp_path) -> None:
    """A trial killed after its first fold: run again, it goes on with the same Optuna trial, values and
    first fold (not trained again), and the study has no second trial."""
    from benchmark.data import cached_dataset, subsample
    from benchmark.orchestration.worker import execute
    store = Store(tmp_path / "results")
    [search] = searches(resolve(read_grid_file(Path(grid_file(tmp_path, seeds="0"))).specs), 1, once=True)
    [trial] = search.trials
    study = open_study(store, trial.spec)
    started = study.ask()
    started.set_user_attr("task", trial.id)
    values = {"lr": started.suggest_float("lr", 0.002, 0.2, log=True),
              "weight_decay": started.suggest_float("weight_decay", 5e-5, 5e-3, log=True)}
    values = {k: float(f"{v:.3g}") for k, v in values.items()}
    started.set_user_attr("values", values)
    started.set_user_attr("folds", [12.5])  # a first fold "done" with an accuracy no real fold of 30 images gives
    data = cached_dataset("digits", str(tmp_path))
    assert subsample(data.train_y, 3, 0).numel() == 30
    execute(trial, store, tmp_path)
    record = store.trial_record(trial.id)
    assert record["number"] == started.number and record["values"] == values and record["folds"][0] == 12.5
    assert len(open_study(store, trial.spec).trials) == 1
