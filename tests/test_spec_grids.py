import pytest

from benchmark.errors import UserError
from benchmark.orchestration.grids import GRIDS, SEEDS, SHOTS, TABLE1_ROWS, grid_specs, select
from benchmark.orchestration.plan import resolve
from benchmark.spec import RunSpec
from methods import METHODS


def test_run_id_is_stable_and_distinguishes_every_field():
    spec = RunSpec("baseline", "cifair10", 5, 0)
    assert spec.id == RunSpec("baseline", "cifair10", 5, 0).id
    assert spec.id == "da66d0aee23f4cab"  # pinned: a change would orphan every stored record
    variants = [RunSpec("cutout", "cifair10", 5, 0), RunSpec("baseline", "stl10", 5, 0), RunSpec("baseline", "cifair10", 10, 0),
                RunSpec("baseline", "cifair10", 5, 1), RunSpec("baseline", "cifair10", 5, 0, augment="autoaugment"),
                RunSpec("baseline", "cifair10", 5, 0, profile="quick"), RunSpec("baseline", "cifair10", 5, 0, overrides=(("p", 1),))]
    assert len({v.id for v in variants} | {spec.id}) == len(variants) + 1


def test_run_spec_round_trips_through_json_dict():
    spec = RunSpec("mixup", "digits", 20, 1, profile="quick", overrides=(("alpha", 0.4),))
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert RunSpec.from_dict(spec.to_dict()).id == spec.id


def test_table1_has_every_registered_row_on_its_datasets():
    specs = grid_specs("table1")
    rows = {m: d for m, d in TABLE1_ROWS.items() if m in METHODS}
    assert len(specs) == sum(len(d) for d in rows.values()) * len(SHOTS) * len(SEEDS)
    assert {s.method for s in specs} == set(rows)
    assert {s.shots for s in specs} == set(SHOTS) and {s.seed for s in specs} == set(SEEDS)
    assert all(s.profile == "paper" for s in specs)
    assert len({s.id for s in specs}) == len(specs)


def test_demo_grid_is_quick_on_digits():
    specs = grid_specs("demo")
    assert {s.dataset for s in specs} == {"digits"} and {s.profile for s in specs} == {"quick"}
    assert {s.shots for s in specs} == {5, 20} and {s.seed for s in specs} == {0, 1}


def test_filters_select_and_validate():
    specs = grid_specs("table1")
    chosen = select(specs, "table1", methods="baseline,cutout", datasets="cifair10", shots="5,10", seeds="0")
    assert {(s.method, s.dataset, s.shots, s.seed) for s in chosen} == {
        (m, "cifair10", k, 0) for m in ("baseline", "cutout") for k in (5, 10)}
    with pytest.raises(UserError, match="unknown method 'nope'.*valid: baseline"):
        select(specs, "table1", methods="nope")
    with pytest.raises(UserError, match="unknown dataset 'imagenet'"):
        select(specs, "table1", datasets="imagenet")
    with pytest.raises(UserError, match="'digits' is not in grid 'table1'; valid: cifair10, stl10, cifair100"):
        select(specs, "table1", datasets="digits")
    with pytest.raises(UserError, match="0 is not allowed"):
        select(specs, "table1", shots="0")
    with pytest.raises(UserError, match="'7' is not in grid"):
        select(specs, "table1", shots="7")
    with pytest.raises(UserError, match="'x' is not an integer"):
        select(specs, "table1", seeds="x")


def test_unknown_grid_names_the_valid_ones():
    with pytest.raises(UserError, match="unknown grid 'tabel1'; valid: " + ", ".join(GRIDS)):
        grid_specs("tabel1")


# Run and stage ids of every grid as they were before the task graph (2026-11-30): a change would
# orphan the records and artifacts in everybody's results directory. (grid, run, its id, its stage's id)
PINNED = [
    ("table1", RunSpec("baseline", "cifair10", 5, 0), "da66d0aee23f4cab", None),
    ("table1", RunSpec("cosine", "stl10", 30, 0), "c7e1ee256cd9ba93", None),
    ("table1", RunSpec("chimeramix_seg", "cifair100", 100, 4), "5db5118fb54d2e48", "cf3971634828706d"),
    ("table2", RunSpec("autoaugment", "cifair100", 5, 0), "54fa8201cc79a51b", None),
    ("table2", RunSpec("chimeramix_grid", "cifair100", 5, 0, "trivialaugment"), "4f8a6148d245a7ef", "9f0deb7f52043843"),
    ("table2", RunSpec("chimeramix_seg", "cifair100", 100, 4, "trivialaugment"), "b74619faf7514052", "cf3971634828706d"),
    ("table2", RunSpec("chimeramix_grid", "cifair100", 5, 1, "autoaugment"), "dbfe6c4eb67d9ee9", "c8aae76f9b958f95"),
    ("table3", RunSpec("gridmix", "cifair10", 5, 0), "442436d847881eec", None),
    ("table3", RunSpec("chimeramix_grid", "cifair10", 5, 0), "24b809cb2ba06a71", "d195ca264be893da"),
    ("hydramix", RunSpec("mixup", "cifair10", 5, 0), "7dce802c7b3a6e53", None),
    ("hydramix", RunSpec("hydramix", "cifair100", 100, 4), "6e09a66aeb22cf18", "1273e081e021315d"),
    ("fig4", RunSpec("hydramix", "cifair10", 5, 0), "d69d88a161df0263", "2f0c2c7e3ee3cf3d"),
    ("fig4", RunSpec("hydramix_direct", "cifair100", 5, 4), "57849a1dd19052ae", None),
    ("pgen", RunSpec("hydramix", "cifair10", 5, 0, overrides=(("p_gen", 0.0),)), "440852bb598c4861", "2f0c2c7e3ee3cf3d"),
    ("pgen", RunSpec("hydramix", "cifair10", 5, 0, overrides=(("p_gen", 0.5),)), "d69d88a161df0263", "2f0c2c7e3ee3cf3d"),
    ("pgen", RunSpec("hydramix", "cifair100", 5, 4, overrides=(("p_gen", 0.9),)), "2b6a2a4cbb9e4206", "63804f05c7a98e20"),
    ("demo", RunSpec("baseline", "digits", 5, 0, profile="quick"), "96a32965d07e1742", None),
    ("demo", RunSpec("hydramix", "digits", 20, 1, profile="quick"), "a2c7636226ba8dd7", "d3d86d007ecee52a"),
]


@pytest.mark.parametrize("grid, spec, run_id, stage_id", PINNED)
def test_run_and_stage_ids_of_every_grid_are_pinned(grid, spec, run_id, stage_id):
    assert spec in grid_specs(grid)
    [task] = resolve([spec]).runs
    assert task.id == run_id
    assert [s.id for s in task.requires] == ([stage_id] if stage_id else [])


def test_a_parameter_at_its_default_is_the_same_run_as_none():
    plain, explicit, other = resolve([RunSpec("hydramix", "digits", 5, 0), RunSpec("hydramix", "digits", 5, 0, overrides=(
        ("n_images", 4.0), ("p_gen", "0.5"))), RunSpec("hydramix", "digits", 5, 0, overrides=(("p_gen", 1),))]).runs
    assert explicit.id == plain.id and explicit.spec.overrides == ()
    assert other.spec.overrides == (("p_gen", 1.0),) and other.label == "HydraMix (p_gen=1.0)"


def test_synermix_grid_is_the_six_readme_settings_on_all_of_cifar100_with_its_recipe():
    from benchmark.training.recipes import SYNERMIX_32
    tasks = resolve(grid_specs("synermix")).runs
    assert len(tasks) == 6 * len(SEEDS)
    assert [t.label for t in tasks[::len(SEEDS)]] == [
        "Baseline", "SynerMix-Intra", "MixUp", "Manifold MixUp (alpha=1.0)", "SynerMix (MixUp)", "SynerMix (Manifold MixUp)"]
    assert {(t.dataset, t.spec.shots, t.spec.profile) for t in tasks} == {("cifar100", 500, "synermix")}
    assert all(t.recipe == SYNERMIX_32 for t in tasks)  # every setting with the balanced sampler, as the reference
    assert {t.steps for t in tasks} == {120 * 391}  # 50,000 images in batches of 128 (the last one partial)


def test_synermix_small_shares_the_table1_runs_it_has():
    tasks = resolve(grid_specs("synermix_small")).runs
    assert len(tasks) == 6 * 2 * len(SHOTS) * len(SEEDS)
    table1 = {s.id for s in grid_specs("table1")}
    shared = {t.spec.method for t in tasks if t.id in table1}
    assert shared == {"baseline", "mixup"}  # the same run (and record) as in table1
    assert all(t.recipe.model == "wrn-16-8" and t.spec.profile == "paper" for t in tasks)
    assert {t.hparams.get("alpha") for t in tasks if t.spec.method == "manifold_mixup"} == {1.0}
