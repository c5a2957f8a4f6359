"""CLIP Synset Entropy (CSE): how many concepts an image set covers (HydraMix, Fig. 3).

Our operational definition (reference/hydramix.md; the paper's own text could not be read):
1. Candidate concepts: the WordNet 3.0 noun synsets under `physical_entity.n.01` (nltk), the root
   included, hyponym links only by default (`instances=True` adds instance hyponyms: individual
   people, places, ...). Each synset's text is "a photo of a {first lemma, underscores as spaces}.".
2. Every image of the set (K images; the same K for every set compared) is given to CLIP, which
   picks the synset whose text embedding has the highest cosine similarity (zero-shot argmax).
3. CSE is the Shannon entropy, in bits, of the histogram of picked synsets; reported with the
   number of distinct synsets picked. At most log2(K) bits: compare sets of the same K only.

CLIP: an open_clip model name with a pretrained tag (default ViT-B-32 / laion2b_s34b_b79k), a local
weights file, or `none` (random weights: meaningless numbers, for tests). A tag is used only if
its weights are already in the local Hugging Face / open_clip cache, unless `download` is set:
without internet open_clip would otherwise retry the hub for about 46 s before failing. The text
embeddings of all synsets are computed once per (model, weights, prompt, synset list) and cached.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from benchmark.errors import UserError
from benchmark.paths import cache_dir
from benchmark.atomic import save_atomic
from benchmark.stored import open_regular
from benchmark.orchestration.store import Store

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
DEFAULT_ROOT = "physical_entity.n.01"
TEMPLATE = "a photo of a {}."


# ---------------------------------------------------------------- the metric

def entropy_bits(picks: Sequence[Any]) -> float:
    """Shannon entropy (bits) of the histogram of `picks`."""
    counts = Counter(picks)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return float(-sum((c / total) * math.log2(c / total) for c in counts.values()) + 0.0)


def synset_text(synset) -> str:
    return TEMPLATE.format(synset.lemmas()[0].name().replace("_", " "))


# ---------------------------------------------------------------- CLIP

def clip_cache_dir() -> Path:
    return cache_dir() / "clip_text"


@dataclass
class Clip:
    model: Any
    tokenizer: Any
    name: str
    weights_id: str  # what the text-embedding cache is keyed by
    provenance: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device


def local_tag_file(model_name: str, tag: str) -> str | None:
    """The locally cached weights file of an open_clip pretrained tag, looked up without network."""
    import open_clip
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return cfg["file"]
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache
        repo, filename = os.path.split(cfg["hf_hub"])  # "org/repo/" (default file names) or "org/repo/file"
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename and (filename.endswith(".bin") or filename.endswith(".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for name in names:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str) and Path(found).is_file():
                return found
    if cfg.get("url"):
        path = Path.home() / ".cache" / "clip" / os.path.basename(cfg["url"])
        if path.is_file():
            return str(path)
    return None


def load_clip(model_name: str = DEFAULT_MODEL, pretrained: str | None = DEFAULT_PRETRAINED, download: bool = False,
              config: Path | None = None, device: torch.device | None = None) -> Clip:
    """An open_clip model in eval mode. `pretrained`: a tag, a weights file, or None/'none' (random)."""
    try:
        import open_clip
    except ImportError:
        raise UserError("open_clip is not installed; install the analysis extra: pip install -e '.[analysis]'") from None
    if config is not None:
        config = Path(config)
        if not config.is_file() or config.suffix != ".json":
            raise UserError(f"--clip-config: '{config}' is not a JSON model config file")
        try:  # checked here: open_clip keeps the path and would fail on it at every later config scan
            json.loads(config.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"--clip-config: cannot read '{config}' as JSON: {exc}") from None
        open_clip.add_model_config(config)
    if model_name not in open_clip.list_models():
        raise UserError(f"unknown CLIP model '{model_name}'; valid: open_clip names such as {DEFAULT_MODEL}, "
                        f"ViT-B-16, ViT-L-14, RN50 (all: python -c 'import open_clip; print(open_clip.list_models())')")
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kwargs: dict[str, Any] = {}
    weights_file = None  # a local file open_clip is to read
    if pretrained in (None, "", "none"):
        source, weights_id, provenance = None, "random", "random weights (no pretrained CLIP: numbers are meaningless)"
    elif Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser().resolve()
        st = path.stat()
        source, weights_id, provenance = str(path), f"file:{path}:{st.st_size}:{st.st_mtime_ns}", f"file {path}"
        weights_file = source
    elif "/" in pretrained or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors")):
        raise UserError(f"--clip-pretrained: no file '{pretrained}'")
    else:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        if pretrained not in tags:
            raise UserError(f"unknown pretrained tag '{pretrained}' for CLIP model '{model_name}'; "
                            f"valid: {', '.join(tags) or 'none (use a weights file)'}")
        cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
        weights_id, provenance = f"tag:{pretrained}", f"open_clip {model_name} / {pretrained}"
        if download:
            source = pretrained
        else:
            source = weights_file = local_tag_file(model_name, pretrained)
            if source is None:
                raise UserError(f"CLIP weights {model_name} / {pretrained} are not on this machine (Hugging Face cache "
                                f"{os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}); "
                                "pass --download (needs internet) or --clip-pretrained FILE with a local weights file")
            provenance += f" (cached file {source})"
            kwargs["force_quick_gelu"] = bool(cfg.get("quick_gelu", False))
            preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
            if preprocess:
                kwargs["force_preprocess_cfg"] = preprocess
    import logging
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # open_clip logs a warning for random weights
    try:
        model = open_clip.create_model(model_name, pretrained=source, device=device, **kwargs)
    except Exception as exc:  # noqa: BLE001  a corrupt weights file fails anywhere in its reader (e.g. a KeyError)
        if weights_file is None and not isinstance(exc, (RuntimeError, OSError)):
            raise
        what = f"weights file '{weights_file}'" if weights_file else pretrained
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise UserError(f"could not load CLIP {model_name} / {what}: {type(exc).__name__}: {detail}") from None
    finally:
        logging.getLogger().setLevel(level)
    model.eval().requires_grad_(False)
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = cfg.get("size", model.visual.image_size)
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean = tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN))
    std = tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD))
    return Clip(model, open_clip.get_tokenizer(model_name), model_name, weights_id, provenance, size, mean, std, device)


def text_cache_key(clip: Clip, names: list[str]) -> str:
    payload = json.dumps({"model": clip.name, "weights": clip.weights_id, "template": TEMPLATE,
                          "synsets": hashlib.sha1("\n".join(names).encode()).hexdigest()}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:20]


@torch.inference_mode()
def encode_texts(clip: Clip, texts: list[str], batch_size: int = 256, log=None) -> torch.Tensor:
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        tokens = clip.tokenizer(texts[i:i + batch_size]).to(clip.device)
        out.append(F.normalize(clip.model.encode_text(tokens).float(), dim=-1).cpu())
        if log and (i // batch_size) % 20 == 19:
            done = i + batch_size
            log(f"  text embeddings {done}/{len(texts)} ({(time.perf_counter() - t0) / done * (len(texts) - done):.0f} s left)")
    return torch.cat(out)


def synset_embeddings(clip: Clip, synsets: list, cache: Path | None, log=None) -> tuple[torch.Tensor, bool]:
    """L2-normalised text embeddings [S, D] of the synsets' prompts; cached on disk unless the
    weights are random. Rounded to half precision, as cached: the picks do not depend on whether
    the cache had them. Returns (embeddings, whether they came from the cache)."""
    names = [s.name() for s in synsets]
    path = None
    if cache is not None and clip.weights_id != "random":
        path = Path(cache) / f"{text_cache_key(clip, names)}.pt"
        try:
            with open_regular(path) as f:
                stored = torch.load(f, map_location="cpu", weights_only=True)
            if stored["synsets"] == names:
                return stored["embeddings"].float(), True
        except Exception:  # noqa: BLE001  a missing, broken or planted cache file is recomputed
            pass
    embeddings = encode_texts(clip, [synset_text(s) for s in synsets], log=log).half()
    if path is not None:
        save_atomic({"model": clip.name, "weights": clip.weights_id, "template": TEMPLATE, "synsets": names,
                     "embeddings": embeddings}, path)
    return embeddings.float(), False


def preprocess(clip: Clip, images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> CLIP's input: bicubic resize to its size (square images: no crop),
    clamped to [0, 1], normalised with its mean and std."""
    x = images.float().div(255)
    if x.shape[-1] != clip.image_size or x.shape[-2] != clip.image_size:
        x = F.interpolate(x, size=(clip.image_size, clip.image_size), mode="bicubic", align_corners=False,
                          antialias=True).clamp(0, 1)
    mean = torch.tensor(clip.mean)[:, None, None]
    std = torch.tensor(clip.std)[:, None, None]
    return (x - mean) / std


@torch.inference_mode()
def zero_shot(clip: Clip, images: torch.Tensor, text: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Index of the best-matching synset for every image (cosine similarity argmax)."""
    text = text.to(clip.device)
    picks = []
    for i in range(0, len(images), batch_size):
        x = preprocess(clip, images[i:i + batch_size]).to(clip.device)
        emb = F.normalize(clip.model.encode_image(x).float(), dim=-1)
        picks.append((emb @ text.T).argmax(1).cpu())
    return torch.cat(picks)


def synset_entropy(clip: Clip, images: torch.Tensor, synsets: list, text: torch.Tensor) -> dict[str, Any]:
    picks = zero_shot(clip, images, text).tolist()
    counts = Counter(picks)
    return {"entropy_bits": entropy_bits(picks), "distinct": len(counts), "k": len(picks),
            "top": [[synsets[i].name(), c] for i, c in counts.most_common(5)]}


def run_cse(dataset: str, shots: int, seed: int, names: list[str], k: int, store: Store, data_dir: Path,
            profile: str | None = None, model: str = DEFAULT_MODEL, pretrained: str | None = DEFAULT_PRETRAINED,
            download: bool = False, config: Path | None = None, root: str = DEFAULT_ROOT, instances: bool = False,
            cache: Path | None = None, nltk_dir: Path | None = None, log=print) -> tuple[dict[str, Any], Path]:
    """CSE of each set; saved under <results>/analysis/cse/."""
    from benchmark.output.analysis.results import safe_key, save_result
    from benchmark.output.analysis.sets import build_sets, resolve_profile, set_label
    from benchmark.output.analysis.wordnet import ensure_wordnet, synsets_under
    from benchmark.data import dataset_label

    profile = resolve_profile(names, dataset, shots, seed, store, profile)
    clip = load_clip(model, pretrained, download, config)  # first: a missing model or weights fails at once
    t0 = time.perf_counter()
    sets = build_sets(names, dataset, shots, seed, profile, k, store, data_dir)  # before the text embeddings' minutes
    wn = ensure_wordnet(nltk_dir)
    synsets = synsets_under(wn, root, instances)
    t = time.perf_counter()
    text, cached = synset_embeddings(clip, synsets, clip_cache_dir() if cache is None else cache, log)
    log(f"  {len(synsets)} synsets under {root}: text embeddings {'from the cache' if cached else 'computed'} "
        f"({time.perf_counter() - t:.0f} s)")
    rows = []
    for name in names:
        row = {"name": name, "label": set_label(name), **synset_entropy(clip, sets[name], synsets, text)}
        rows.append(row)
        log(f"  CSE {row['label']:<28} {row['entropy_bits']:6.2f} bits, {row['distinct']:5d} distinct synsets")
    weights_tag = "random" if clip.weights_id == "random" else hashlib.sha1(clip.weights_id.encode()).hexdigest()[:8]
    key = safe_key(dataset, f"shots={shots}", f"seed={seed}", profile, f"k={k}", model, weights_tag,
                   root, "instances" if instances else "hyponyms")
    result = {"analysis": "cse", "dataset": dataset, "dataset_label": dataset_label(dataset), "shots": shots,
              "seed": seed, "profile": profile, "k": k, "model": model, "weights": clip.provenance,
              "root": root, "instances": instances, "synsets": len(synsets), "template": TEMPLATE,
              "max_bits": math.log2(k), "sets": rows, "seconds": round(time.perf_counter() - t0, 2)}
    return result, save_result(store, "cse", key, result)
