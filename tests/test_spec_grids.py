import pytest

from benchmark.errors import UserError
from benchmark.orchestration.grids import GRIDS, SEEDS, SHOTS, TABLE1_ROWS, grid_specs, select
from benchmark.training.spec import RunSpec
from methods import METHODS


def test_run_id_is_stable_and_distinguishes_every_field():
    spec = RunSpec("baseline", "cifair10", 5, 0)
    assert spec.run_id == RunSpec("baseline", "cifair10", 5, 0).run_id
    assert spec.run_id == "da66d0aee23f4cab"  # pinned: a change would orphan every stored record
    variants = [RunSpec("cutout", "cifair10", 5, 0), RunSpec("baseline", "stl10", 5, 0), RunSpec("baseline", "cifair10", 10, 0),
                RunSpec("baseline", "cifair10", 5, 1), RunSpec("baseline", "cifair10", 5, 0, augment="autoaugment"),
                RunSpec("baseline", "cifair10", 5, 0, profile="quick"), RunSpec("baseline", "cifair10", 5, 0, overrides=(("p", 1),))]
    assert len({v.run_id for v in variants} | {spec.run_id}) == len(variants) + 1


def test_run_spec_round_trips_through_json_dict():
    spec = RunSpec("mixup", "digits", 20, 1, profile="quick", overrides=(("alpha", 0.4),))
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert RunSpec.from_dict(spec.to_dict()).run_id == spec.run_id


def test_table1_has_every_registered_row_on_its_datasets():
    specs = grid_specs("table1")
    rows = {m: d for m, d in TABLE1_ROWS.items() if m in METHODS}
    assert len(specs) == sum(len(d) for d in rows.values()) * len(SHOTS) * len(SEEDS)
    assert {s.method for s in specs} == set(rows)
    assert {s.shots for s in specs} == set(SHOTS) and {s.seed for s in specs} == set(SEEDS)
    assert all(s.profile == "paper" for s in specs)
    assert len({s.run_id for s in specs}) == len(specs)


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
