import json
import math
import re

import pytest
import torch

pytest.importorskip("nltk")
pytest.importorskip("open_clip")

from helpers import add_untrained_stages  # noqa: E402
from benchmark.output.analysis.cse import entropy_bits, load_clip, run_cse, synset_text  # noqa: E402
from benchmark.output.analysis.wordnet import (default_nltk_dir, ensure_wordnet, find_system_wordnet,  # noqa: E402
                                        nltk_has_wordnet, synsets_under)
from benchmark.cli import main  # noqa: E402
from benchmark.errors import UserError  # noqa: E402
from benchmark.orchestration.store import Store  # noqa: E402

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}


@pytest.fixture(scope="session")
def nltk_dir(tmp_path_factory):
    """An nltk data dir with WordNet 3.0, built from the Debian packages (wordnet-base,
    wordnet-sense-index) unless nltk already has WordNet."""
    if find_system_wordnet() is None and not nltk_has_wordnet():
        pytest.skip("WordNet 3.0 data absent: apt-get install wordnet-base wordnet-sense-index")
    return tmp_path_factory.mktemp("nltk_data") if find_system_wordnet() else None


@pytest.fixture(scope="session")
def wn(nltk_dir):
    return ensure_wordnet(nltk_dir)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no CLIP weights cached
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)


@pytest.fixture
def tiny_clip_config(tmp_path):
    path = tmp_path / "tiny-test-clip.json"
    path.write_text(json.dumps(TINY_CLIP))
    return path


def test_entropy_of_hand_computed_histograms():
    assert entropy_bits([]) == 0.0
    assert entropy_bits(["dog"] * 7) == 0.0
    assert entropy_bits(["a", "b"]) == pytest.approx(1.0)
    assert entropy_bits(list("abcdefgh")) == pytest.approx(3.0)
    # 1/2, 1/4, 1/4 -> 0.5 * 1 + 2 * 0.25 * 2 = 1.5 bits
    assert entropy_bits(["a", "a", "b", "c"]) == pytest.approx(1.5)
    # 3/4, 1/4 -> -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.8113
    assert entropy_bits([5, 5, 5, 9]) == pytest.approx(0.811278, abs=1e-6)


@pytest.mark.slow  # reads all of WordNet: about 20 s of CPU
def test_wordnet_noun_synsets_of_wordnet_3_0(wn):
    assert len(list(wn.all_synsets("n"))) == 82115
    under = synsets_under(wn)  # physical_entity.n.01, the root included, hyponym links
    assert len(under) == 39556
    assert under[0].name() == "physical_entity.n.01"
    assert len(synsets_under(wn, instances=True)) == 46162
    names = {s.name() for s in under}
    assert {"dog.n.01", "tabby.n.01", "airliner.n.01", "digit.n.01"} - names == {"digit.n.01"}  # a numeral is abstract
    assert wn.synset("dog.n.01").offset() == 2084071  # = ImageNet's wnid n02084071
    assert synset_text(wn.synset("german_shepherd.n.01")) == "a photo of a German shepherd."
    with pytest.raises(UserError, match="unknown WordNet synset"):
        synsets_under(wn, "no_such_thing.n.01")


def test_missing_clip_weights_fail_at_once_with_one_line(tmp_path, capsys, monkeypatch):
    import open_clip

    def no_hub(*args, **kwargs):
        raise AssertionError("open_clip.create_model reached: it would retry the hub for 46 s")

    monkeypatch.setattr(open_clip, "create_model", no_hub)
    store = Store(tmp_path / "results")
    code = main(["analyze", "cse", "--dataset", "digits", "--shots", "5", "--sets", "original,mixup",
                 "--results-dir", str(store.root)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "laion2b_s34b_b79k" in err[0] and "--download" in err[0]
    with pytest.raises(UserError, match="unknown pretrained tag 'nope'"):
        load_clip("ViT-B-32", "nope")
    with pytest.raises(UserError, match="no file"):
        load_clip("ViT-B-32", str(tmp_path / "weights.safetensors"))


def test_corrupt_clip_weights_and_config_are_user_errors(tmp_path, tiny_clip_config):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk bytes \x00\x01 not a pickle")  # torch.load: a KeyError in the unpickler
    with pytest.raises(UserError, match=re.escape(f"could not load CLIP tiny-test-clip / weights file '{junk}'")):
        load_clip("tiny-test-clip", str(junk), config=tiny_clip_config)
    broken = tmp_path / "broken-clip.json"
    broken.write_text('{"embed_dim": 32,')
    with pytest.raises(UserError, match=re.escape(f"--clip-config: cannot read '{broken}' as JSON")):
        load_clip("broken-clip", None, config=broken)
    load_clip("tiny-test-clip", None, config=tiny_clip_config)  # open_clip's config registry is not broken


def test_the_subset_is_checked_before_wordnet_and_the_text_embeddings(tmp_path, tiny_clip_config, monkeypatch):
    def no_wordnet(nltk_dir=None):
        raise AssertionError("WordNet loaded before the image sets")

    monkeypatch.setattr("benchmark.output.analysis.wordnet.ensure_wordnet", no_wordnet)
    with pytest.raises(UserError, match="shots 1000 is more than class"):
        run_cse("digits", 1000, 0, ["original"], 8, Store(tmp_path / "results"), tmp_path / "data",
                model="tiny-test-clip", pretrained=None, config=tiny_clip_config, log=lambda s: None)


def test_default_nltk_dir_is_in_the_cache_dir_unless_nltk_data_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NLTK_DATA", raising=False)
    assert default_nltk_dir() == tmp_path / "cache" / "nltk_data"  # $BENCHMARK_CACHE_DIR (fixture `isolated`)
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk"))
    assert default_nltk_dir() == tmp_path / "nltk"


@pytest.mark.slow  # reads WordNet's index (about 9 s of CPU)
def test_cse_end_to_end_with_a_tiny_clip_and_the_text_cache(tmp_path, nltk_dir, tiny_clip_config):
    """A tiny random CLIP (open_clip.add_model_config) saved as a local weights file, the real
    WordNet under dog.n.01, original / MixUp / HydraMix (untrained generator) sets of K = 24."""
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "hydramix")
    clip = load_clip("tiny-test-clip", None, config=tiny_clip_config)
    weights = tmp_path / "tiny.pt"
    torch.save(clip.model.state_dict(), weights)
    logs = []
    kwargs = dict(model="tiny-test-clip", pretrained=str(weights), config=tiny_clip_config, root="dog.n.01",
                  nltk_dir=nltk_dir, cache=tmp_path / "text_cache")
    result, path = run_cse("digits", 5, 0, ["original", "mixup", "hydramix"], 24, store, tmp_path / "data",
                           log=logs.append, **kwargs)
    assert path.parent == store.root / "analysis" / "cse"
    saved = json.loads(path.read_text())
    assert saved["synsets"] == len(synsets_under(ensure_wordnet(nltk_dir), "dog.n.01")) > 100
    assert [s["label"] for s in saved["sets"]] == ["Original", "MixUp", "HydraMix"]
    for s in saved["sets"]:
        assert s["k"] == 24 and 1 <= s["distinct"] <= 24
        assert 0 <= s["entropy_bits"] <= math.log2(24) + 1e-9
        assert sum(c for _, c in s["top"]) <= 24
    assert any("computed" in line for line in logs)
    assert len(list((tmp_path / "text_cache").glob("*.pt"))) == 1
    logs.clear()
    again, _ = run_cse("digits", 5, 0, ["original", "mixup", "hydramix"], 24, store, tmp_path / "data",
                       log=logs.append, **kwargs)
    assert any("from the cache" in line for line in logs)
    assert again["sets"] == saved["sets"]  # same images, same cached text embeddings: same picks


@pytest.mark.slow  # reads WordNet's index (about 9 s of CPU)
def test_cse_cli_with_a_registered_tiny_config(tmp_path, nltk_dir, tiny_clip_config, capsys, monkeypatch):
    if nltk_dir is not None:
        monkeypatch.setenv("NLTK_DATA", str(nltk_dir))
    store = Store(tmp_path / "results")
    code = main(["analyze", "cse", "--dataset", "digits", "--shots", "5", "--sets", "original,mixup", "--k", "16",
                 "--clip-model", "tiny-test-clip", "--clip-config", str(tiny_clip_config), "--clip-pretrained", "none",
                 "--root", "canine.n.02", "--results-dir", str(store.root)])
    assert code == 0
    out = capsys.readouterr().out
    assert "CSE Original" in out and "CSE MixUp" in out and "wrote" in out
