"""WordNet 3.0 for nltk without the nltk downloader.

PyPI ships no WordNet data. Debian's `wordnet-base` and `wordnet-sense-index` packages install
the WordNet 3.0 database under /usr/share/wordnet; nltk reads the same files once they sit in
`<NLTK_DATA>/corpora/wordnet` (copied: nltk rejects symlinks that leave its data directory)
together with a `lexnames` file, which Debian does not ship. Its 45 lines are the lexicographer
file names of WordNet 3.0 (lexnames(5WN)), written here from `LEXNAMES`.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

from benchmark.errors import UserError
from benchmark.paths import cache_dir

# The lexicographer files of WordNet 3.0, in file-number order (lexnames(5WN)).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant",
    "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition", "verb.communication",
    "verb.competition", "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
# The files nltk's WordNetCorpusReader opens (lexnames is generated).
WORDNET_FILES = ("cntlist.rev", "index.sense", "index.adj", "index.adv", "index.noun", "index.verb", "data.adj",
                 "data.adv", "data.noun", "data.verb", "adj.exc", "adv.exc", "noun.exc", "verb.exc")
INSTALL_HINT = ("install WordNet 3.0 with `apt-get install wordnet-base wordnet-sense-index` (Debian/Ubuntu), "
                "or `python -m nltk.downloader wordnet` where there is internet")


def system_wordnet_dirs() -> list[Path]:
    """Where a system WordNet 3.0 database may be: $WNSEARCHDIR, $WNHOME/dict, Debian's directory."""
    dirs = []
    if os.environ.get("WNSEARCHDIR"):
        dirs.append(Path(os.environ["WNSEARCHDIR"]))
    if os.environ.get("WNHOME"):
        dirs.append(Path(os.environ["WNHOME"]) / "dict")
    dirs += [Path("/usr/share/wordnet"), Path("/usr/local/share/wordnet")]
    return dirs


def find_system_wordnet() -> Path | None:
    for d in system_wordnet_dirs():
        if all((d / name).is_file() for name in WORDNET_FILES):
            return d
    return None


def default_nltk_dir() -> Path:
    """The first directory of $NLTK_DATA if set, else nltk_data in the cache directory
    ($BENCHMARK_CACHE_DIR or ~/.cache/smalldata-benchmark)."""
    configured = os.environ.get("NLTK_DATA", "").split(os.pathsep)[0]
    if configured:
        return Path(configured).expanduser()
    return cache_dir() / "nltk_data"


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{SYNTACTIC_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def build_nltk_wordnet(source: Path, nltk_dir: Path) -> Path:
    """Copy a WordNet 3.0 database into `nltk_dir`/corpora/wordnet (atomically) and add lexnames."""
    dest = nltk_dir / "corpora" / "wordnet"
    if (dest / "lexnames").is_file() and all((dest / name).is_file() for name in WORDNET_FILES):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=dest.parent))
    try:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text())
        if dest.exists():  # an incomplete earlier copy
            shutil.rmtree(dest)
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (dest / "lexnames").is_file():
            raise
    return dest


def nltk_has_wordnet() -> bool:
    import nltk
    try:
        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
            return True
        except LookupError:
            return False


def ensure_wordnet(nltk_dir: Path | None = None):
    """nltk's WordNet reader, building the corpus from a system WordNet 3.0 if nltk has none.

    Raises UserError (with how to install it) when neither nltk nor the system has WordNet."""
    try:
        import nltk
    except ImportError:
        raise UserError("nltk is not installed; install the analysis extra: pip install -e '.[analysis]'") from None
    if nltk_dir is not None or not nltk_has_wordnet():
        source = find_system_wordnet()
        target = nltk_dir or default_nltk_dir()
        if source is None and not (target / "corpora" / "wordnet" / "lexnames").is_file():
            looked = ", ".join(str(d) for d in system_wordnet_dirs())
            raise UserError(f"WordNet 3.0 not found (nltk data paths: {', '.join(map(str, nltk.data.path))}; "
                            f"system: {looked}); {INSTALL_HINT}")
        if source is not None:
            build_nltk_wordnet(source, target)
        if str(target) not in nltk.data.path:
            nltk.data.path.insert(0, str(target))
    return wordnet_reader(str(nltk.data.find("corpora/wordnet")))


@functools.lru_cache(maxsize=2)
def wordnet_reader(root: str):
    """One reader per corpus directory and process (reading the index takes seconds)."""
    import warnings
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": no Open Multilingual Wordnet needed
        return WordNetCorpusReader(root, None)


def synsets_under(wn, root: str = "physical_entity.n.01", instances: bool = False) -> list:
    """The noun synsets below `root` (and `root` itself), sorted by offset. With `instances`, the
    instance hyponyms (individual people, places, ...) are followed too."""
    try:
        top = wn.synset(root)
    except Exception:  # nltk raises WordNetError or ValueError for a bad name
        raise UserError(f"unknown WordNet synset '{root}'; give a name such as physical_entity.n.01") from None
    if instances:
        def below(s):
            return s.hyponyms() + s.instance_hyponyms()
    else:
        def below(s):
            return s.hyponyms()
    found = {top.offset(): top}
    for s in top.closure(below):
        found[s.offset()] = s
    return [found[k] for k in sorted(found)]
