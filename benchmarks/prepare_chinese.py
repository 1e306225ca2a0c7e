"""Write the Chinese benchmark sets as joint folders (train/, valid/, test/) for run_benchmarks.py.

- SMP2019-ECDT (task 1, natural language understanding), in the 8:1:1 split of
  1053399472/CAISandSMP (`SMP/GlobalPointer/GlobalPointerSMP2019/*.json`: text, intent,
  character spans of the slots). The intent of the evaluation is domain and intent
  ("music.PLAY", 48 classes): the split keeps only the intent ("PLAY"), so the domain is
  taken from the same repository's `SMP/source/2019train.json` (the original training file,
  whose texts are unique).
- CAIS (Adaxry/CM-Net, `CAIS/{train,valid,test}/ch.*`): character columns with BIOES tags and
  an intents file, read with spacy_mtl's `columns` converter. An independent check only.

Each character is a token (what spaCy's Chinese character segmenter gives); whitespace
characters are dropped, since the joint format separates tokens by spaces. Slots become IOB2.

Usage:
    python benchmarks/prepare_chinese.py --smp assets/smp2019_ecdt --cais assets/cais \\
        --out assets/zh
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from spacy_mtl.atomic import write_text_atomic  # noqa: E402

SMP_SPLITS = {"train": "train.json", "valid": "dev.json", "test": "test.json"}
CAIS_SPLITS = {"train": "train/ch.train", "valid": "valid/ch.valid", "test": "test/ch.test"}

# (characters, one IOB2 tag per character, intent)
Sentence = Tuple[List[str], List[str], str]


DROPPED: List[str] = []


def iob_from_spans(chars: Sequence[str], spans: Sequence[Tuple[int, int, str]]) -> List[str]:
    """IOB2 tags of characters from (start, end exclusive, label) character spans.

    SMP's spans were found by matching slot values in the text, and 15 sentences have
    overlapping or repeated ones: the longer span is kept (then the earlier), the other
    dropped and counted (DROPPED).
    """
    tags = ["O"] * len(chars)
    for start, end, label in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0])):
        if any(tag != "O" for tag in tags[start:end]):
            DROPPED.append(f"{''.join(chars)}: {label} {start}-{end}")
            continue
        tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
    return tags


def drop_whitespace(chars: List[str], tags: List[str]) -> Tuple[List[str], List[str]]:
    """Remove whitespace characters; an entity that began on one begins on the next character."""
    out_chars, out_tags = [], []
    carry = None
    for char, tag in zip(chars, tags):
        if char.isspace():
            if tag.startswith("B-"):
                carry = tag
            continue
        if carry and tag == "I-" + carry[2:]:
            tag = carry
        carry = None
        out_chars.append(char)
        out_tags.append(tag)
    return out_chars, out_tags


def read_smp(root: Path) -> Dict[str, List[Sentence]]:
    base = root / "GlobalPointer" / "GlobalPointerSMP2019"
    source = json.loads((root / "source" / "2019train.json").read_text("utf8"))
    domains = {record["text"]: record["domain"] for record in source}
    splits = {}
    for split, name in SMP_SPLITS.items():
        sentences = []
        for record in json.loads((base / name).read_text("utf8")):
            text = record["text"]
            chars = list(text)
            # start_idx and end_idx are inclusive character offsets.
            spans = [(e["start_idx"], e["end_idx"] + 1, e["type"]) for e in record["entities"]]
            tags = iob_from_spans(chars, spans)
            intent = f"{domains[text]}.{record['intent']}"
            sentences.append((*drop_whitespace(chars, tags), intent))
        splits[split] = sentences
    return splits


def read_cais(root: Path) -> Dict[str, List[Sentence]]:
    from spacy_mtl.convert import read_columns

    splits = {}
    for split, name in CAIS_SPLITS.items():
        slots = root / name
        docs = read_columns(slots, intents_path=Path(f"{slots}.intent"), lang="zh")
        sentences = []
        for doc in docs:
            tokens = [t for t in doc if not t.is_space]
            chars = [t.text for t in tokens]
            tags = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else "O" for t in tokens]
            sentences.append((chars, tags, max(doc.cats, key=doc.cats.get)))
        splits[split] = sentences
    return splits


def write_joint(splits: Dict[str, List[Sentence]], out: Path) -> None:
    for split, sentences in splits.items():
        folder = out / split
        write_text_atomic(folder / "seq.in", "".join(" ".join(c) + "\n" for c, _, _ in sentences))
        write_text_atomic(folder / "seq.out", "".join(" ".join(t) + "\n" for _, t, _ in sentences))
        write_text_atomic(folder / "label", "".join(i + "\n" for _, _, i in sentences))
        print(f"{folder}: {len(sentences)} sentences")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smp", type=Path, help="the SMP folder of 1053399472/CAISandSMP")
    parser.add_argument("--cais", type=Path, help="the CAIS folder of Adaxry/CM-Net")
    parser.add_argument("--out", type=Path, required=True, help="writes smp2019/ and cais/ here")
    args = parser.parse_args(argv)
    if args.smp:
        write_joint(read_smp(args.smp), args.out / "smp2019")
        print(f"SMP2019: {len(DROPPED)} overlapping slot spans dropped")
    if args.cais:
        write_joint(read_cais(args.cais), args.out / "cais")
    return 0


if __name__ == "__main__":
    sys.exit(main())
