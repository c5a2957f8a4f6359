"""The report's figures (matplotlib, Agg backend), each written as PNG and PDF (the PDF without a
creation date: the same results give the same bytes), each method in the same colour in every
figure, and returned as captioned blocks of the report:

- `accuracy_<dataset>`: accuracy vs samples per class, one line per method, a band of ± one std
  over seeds (a bar per method where the results have one shots value);
- `pgen`: accuracy vs p_gen (HydraMix Fig. 5), one line per dataset, the method's default dashed;
- `generator_ablation`: Fig. 4-style bars, each composing method with its generator next to the
  same mixing in pixel space (ChimeraMix+Grid / GridMix, ChimeraMix+Seg / SegMix,
  HydraMix / HydraMix (no generator)), at the smallest shots of the grid;
- `fid`: FID bars of the image sets of each `analyze fid` result of the grid's datasets;
- `cse`: CLIP Synset Entropy bars of each `analyze cse` result;
- `samples_<method>`: sources, masks and compositions of each trained generator of the grid (and
  GLICO's slerps, SuperMix's mixes), drawn by the `samples` command's function
  (benchmark.output.samples.write_samples).
A figure whose data is absent is skipped.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.atomic import replace_atomic  # noqa: E402
from benchmark.orchestration.store import Store  # noqa: E402
from benchmark.output.document import Figure  # noqa: E402
from benchmark.spec import ALL_SHOTS, shots_order  # noqa: E402

# composing method with its generator -> the same mixing in pixel space (HydraMix Fig. 4, ChimeraMix Table 3)
GENERATOR_ABLATIONS = {"chimeramix_grid": "gridmix", "chimeramix_seg": "segmix", "hydramix": "hydramix_direct"}


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def save(fig, folder: Path, name: str, caption: str) -> list[Figure]:
    """PNG and PDF of the figure in `folder`; the block refers to the PDF relative to the report."""
    replace_atomic(folder / f"{name}.png", lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))
    replace_atomic(folder / f"{name}.pdf", lambda f: fig.savefig(f, format="pdf", bbox_inches="tight",
                                                                  metadata={"CreationDate": None}))
    plt.close(fig)
    return [Figure(Path(folder.name) / f"{name}.pdf", caption)]


def colour(method: str) -> tuple:
    """One colour per method name (or image set) in every figure: its place in the registry."""
    from methods import METHODS
    if method not in METHODS:
        return (0.5, 0.5, 0.5, 1.0)  # the original images, and methods no longer registered
    i = list(METHODS).index(method)  # the first ten the strong colours of tab20, then its light ones, then tab20b
    return plt.get_cmap("tab20")((2 * i) % 20 + (i // 10) % 2) if i < 20 else plt.get_cmap("tab20b")(i % 20)


def summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = frame.groupby(by, sort=False)["accuracy"]
    out = g.agg(["mean", "count"]).reset_index()
    out["std"] = g.std(ddof=1).fillna(0.0).values
    return out


def shots_axis(shots: list) -> dict:
    """The x position of each shots value: itself, and the whole pool at twice the largest."""
    finite = [s for s in shots if s != ALL_SHOTS]
    return {s: 2 * max(finite, default=1) if s == ALL_SHOTS else s for s in shots}


def by_shots(column: pd.Series) -> pd.Series:
    """A sort key of frame columns: shots in shots_order, the others as they are."""
    return column.map(shots_order) if column.name == "shots" else column


def accuracy_figures(frame: pd.DataFrame, rows: list[str], folder: Path, grid: str) -> list[Figure]:
    """Per dataset: accuracy vs samples per class (lines), or a bar per method (one shots value)."""
    figures = []
    stats = summary(frame, ["dataset", "method", "method_name", "shots"])
    for dataset in dict.fromkeys(frame["dataset"]):
        d = stats[stats["dataset"] == dataset]
        shots = sorted(d["shots"].unique(), key=shots_order)
        methods = [r for r in rows if r in set(d["method"])]
        if len(shots) == 1:
            fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(methods), 4.2))
            m = d.set_index("method").loc[methods]
            ax.bar(range(len(methods)), m["mean"], yerr=m["std"], capsize=3, color=[colour(n) for n in m["method_name"]])
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels(methods, rotation=30, ha="right", fontsize=7)
            ax.set_ylabel("top-1 test accuracy (%)")
            ax.set_title(f"{dataset}, {shots[0]} samples per class", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            caption = f"Top-1 test accuracy on {dataset} at {shots[0]} samples per class, mean ± std over seeds ({grid})."
        else:
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            x = shots_axis(shots)
            for i, method in enumerate(methods):
                m = d[d["method"] == method].sort_values("shots", key=by_shots)
                c = colour(m["method_name"].iloc[0])
                xs = m["shots"].map(x)
                ax.plot(xs, m["mean"], "-" if i < 10 else "--", marker="o", ms=3.5, color=c, label=method)
                ax.fill_between(xs, m["mean"] - m["std"], m["mean"] + m["std"], color=c, alpha=0.15, linewidth=0)
            ax.set_xscale("log")
            ax.set_xticks([x[s] for s in shots])
            ax.set_xticklabels([str(s) for s in shots])
            ax.minorticks_off()
            ax.set_xlabel("samples per class")
            ax.set_ylabel("top-1 test accuracy (%)")
            ax.set_title(dataset, fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # hides no line
            caption = (f"Top-1 test accuracy on {dataset} vs samples per class, mean ± one std over seeds (band) "
                       f"({grid}).")
        figures += save(fig, folder, f"accuracy_{slug(dataset)}", caption)
    return figures


def pgen_sweep(frame: pd.DataFrame, folder: Path, grid: str) -> list[Figure]:
    """Accuracy vs p_gen for every method whose runs have more than one p_gen value."""
    data = frame[frame["hparams"].map(lambda hp: "p_gen" in hp)]
    if data.empty:
        return []
    data = data.assign(p_gen=data["hparams"].map(lambda hp: hp["p_gen"]))
    swept = [m for m, g in data.groupby("method_name", sort=False) if g["p_gen"].nunique() > 1]
    if not swept:
        return []
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for method in swept:
        m = data[data["method_name"] == method]
        for (dataset, shots), g in m.groupby(["dataset", "shots"], sort=False):
            s = summary(g, ["p_gen"]).sort_values("p_gen")
            line = ax.errorbar(s["p_gen"], s["mean"], yerr=s["std"], marker="o", ms=4, capsize=3,
                               label=f"{m['method_label'].iloc[0]}, {dataset}, {shots} shots")
            ax.fill_between(s["p_gen"], s["mean"] - s["std"], s["mean"] + s["std"], alpha=0.12,
                            color=line[0].get_color(), linewidth=0)
        default = m["defaults"].iloc[0]["p_gen"]
        ax.axvline(default, color="grey", linestyle="--", linewidth=1, label=f"default p_gen = {default:g}")
    ax.set_xlabel("p_gen (probability that a batch is generated)")
    ax.set_ylabel("top-1 test accuracy (%)")
    ax.set_title("p_gen sweep", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, folder, "pgen", f"Accuracy vs p_gen, mean ± std over seeds (HydraMix Fig. 5; {grid}).")


def generator_ablation(frame: pd.DataFrame, folder: Path, grid: str) -> list[Figure]:
    """Fig. 4-style bars: with the generator vs the same mixing in pixel space."""
    plain = frame[(frame["augment"] == "none") & (frame["overrides"].map(len) == 0)]
    present = set(plain["method_name"])
    pairs = [(g, p) for g, p in GENERATOR_ABLATIONS.items() if g in present and p in present]
    if not pairs:
        return []
    datasets = list(dict.fromkeys(plain["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 + 2.2 * len(pairs) * len(datasets) / 2, 3.8), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        d = plain[plain["dataset"] == dataset]
        shots = min(d[d["method_name"].isin([m for pair in pairs for m in pair])]["shots"], key=shots_order)
        d = d[d["shots"] == shots]
        x = np.arange(len(pairs))
        for j, (kind, hatch) in enumerate((("with generator", ""), ("without generator (pixel space)", "//"))):
            means, stds = [], []
            for pair in pairs:
                g = d[d["method_name"] == pair[j]]["accuracy"]
                means.append(g.mean() if len(g) else np.nan)
                stds.append(g.std(ddof=1) if len(g) > 1 else 0.0)
            ax.bar(x + (j - 0.5) * 0.38, means, 0.38, yerr=stds, capsize=3, color=[colour(p[j]) for p in pairs],
                   hatch=hatch, edgecolor="black", linewidth=0.5, label=kind)
        labels = [d[d["method_name"] == g]["method"].iloc[0] if (d["method_name"] == g).any() else g for g, _ in pairs]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7, rotation=15)
        ax.set_title(f"{dataset}, {shots} shots", fontsize=9)
        ax.set_ylabel("top-1 test accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return save(fig, folder, "generator_ablation", "Each composing method with its generator (plain bars) and the same "
                f"mixing in pixel space (hatched), mean ± std over seeds (HydraMix Fig. 4; {grid}).")


def analysis_bars(results: list[dict], value: str, ylabel: str, title: str, folder: Path, name: str,
                  note: Callable[[dict], str] | None = None) -> list[Figure]:
    """One panel per (dataset, shots, K, ...) result, one bar per set (mean ± std over seeds when
    several results differ only in the seed)."""
    if not results:
        return []
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        key = (r["dataset_label"], r["shots"], r["k"], r.get("profile"), r.get("reference_size"), r.get("model"),
               r.get("feature_layer"), r.get("root"))
        groups.setdefault(key, []).append(r)
    width = max(6.5 / len(groups), 1.0 + 1.1 * max(len(g[0]["sets"]) for g in groups.values()))
    fig, axes = plt.subplots(1, len(groups), figsize=(width * len(groups), 3.9), squeeze=False)
    for ax, (key, rs) in zip(axes[0], groups.items()):
        names = {s["label"]: s["name"] for r in rs for s in r["sets"]}
        labels = list(names)
        values = {lab: [s[value] for r in rs for s in r["sets"] if s["label"] == lab] for lab in labels}
        means = [float(np.mean(values[lab])) for lab in labels]
        stds = [float(np.std(values[lab], ddof=1)) if len(values[lab]) > 1 else 0.0 for lab in labels]
        bars = ax.bar(range(len(labels)), means, yerr=stds if any(stds) else None, capsize=3,
                      color=[colour(names[lab]) for lab in labels])
        for b, m in zip(bars, means):
            ax.annotate(f"{m:.3g}" if value == "fid" else f"{m:.2f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.set_ylim(0, max([m + s for m, s in zip(means, stds)] + [1e-9]) * 1.12)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        seeds = sorted({r["seed"] for r in rs})
        extra = note(rs[0]) if note else ""
        ax.set_title(f"{key[0]}, {key[1]} shots, K = {key[2]}, seed{'s' if len(seeds) > 1 else ''} "
                     f"{','.join(map(str, seeds))}{extra}", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, folder, name, title)


def sample_grids(store: Store, frame: pd.DataFrame, folder: Path, data_dir: Path | None) -> list[Figure]:
    """The `samples` command's figure for every method of the grid it draws, with trained stages
    (smallest shots, then smallest seed, of its runs with default parameters)."""
    from benchmark.data import default_data_dir
    from benchmark.output.samples import sample_methods, write_samples
    figures = []
    plain = frame[(frame["augment"] == "none") & (frame["overrides"].map(len) == 0)]
    for method in [m for m in dict.fromkeys(plain["method_name"]) if m in sample_methods()]:
        for row in plain[plain["method_name"] == method].sort_values(["shots", "seed"], key=by_shots).itertuples():
            if not all(s.done(store) for s in row.task.requires):
                continue
            name = f"samples_{method}"
            write_samples(method, row.dataset_name, row.shots, row.seed, row.task.spec.profile, store,
                          data_dir or default_data_dir(), [folder / f"{name}.png", folder / f"{name}.pdf"], 4)
            figures.append(Figure(Path(folder.name) / f"{name}.pdf",
                                  f"{row.task.method.label}: {row.task.method.figure_caption}; "
                                  f"{row.dataset}, {row.shots} shots, seed {row.seed}, {row.task.spec.profile} profile."))
            break
    return figures


def write_figures(store: Store, frame: pd.DataFrame, table, folder: Path, grid: str, data_dir: Path | None = None,
                  log: Callable[[str], None] = print) -> list[Figure]:
    from benchmark.output.analysis.results import load_results
    frame = frame.dropna(subset=["accuracy"])  # the finished runs
    paths = accuracy_figures(frame, table.rows, folder, grid)
    paths += pgen_sweep(frame, folder, grid)
    paths += generator_ablation(frame, folder, grid)
    mine = set(table.datasets) | set(table.dataset_names.values())
    fid = [r for r in load_results(store, "fid") if r.get("dataset_label") in mine or r.get("dataset") in mine]
    paths += analysis_bars(fid, "fid", "FID (lower = closer to the training set)",
                           "FID of K images of each set vs the training pool (biased at small K: compare within a panel)",
                           folder, "fid", lambda r: f", ref {r['reference_size']}, {r.get('feature_layer', '2048')}-d")
    cse = [r for r in load_results(store, "cse") if r.get("dataset_label") in mine or r.get("dataset") in mine]
    paths += analysis_bars(cse, "entropy_bits", "CLIP Synset Entropy (bits)",
                           "CLIP Synset Entropy of K images of each set (higher = more concepts)", folder, "cse",
                           lambda r: f", max {math.log2(r['k']):.1f} bits"
                           + (", RANDOM CLIP WEIGHTS: meaningless" if "random" in str(r.get("weights")) else ""))
    try:
        paths += sample_grids(store, frame, folder, data_dir)
    except Exception as exc:  # noqa: BLE001  e.g. the dataset files are not on this machine
        log(f"sample figures skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return paths
