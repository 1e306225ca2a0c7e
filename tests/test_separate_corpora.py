"""Training from separate corpora learns as well as joint annotation with as many labels.

The sentences come from the demo corpus's generator (demo_corpus/english.py) with
another seed, jointly annotated. The joint run trains on 200 documents with both
tasks; the separate run on 400 documents cut in a categories-only and an
entities-only half, so each task sees the same number of labels. A pipeline that
lets missing annotation teach a task (stock spaCy's textcat) falls far behind.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example, biluo_tags_to_spans, iob_to_biluo

from spacy_mtl.annotation import TASK_CATS, TASK_ENTS, mark_missing

REPO = Path(__file__).resolve().parent.parent
# How far the separate run may fall behind the joint one on 260 held-out sentences.
MARGIN = 0.15
sys.path.insert(0, str(REPO))  # demo_corpus/ is the repository's, not installed

from demo_corpus import english as make_demo  # noqa: E402


def _generate(vocab, per_intent: int, seed: int):
    """Jointly annotated sentences from the demo generator's training pools."""
    rng = random.Random(seed)
    pools = make_demo.Pools(rng, held_out=False)
    rows, seen = [], set()
    for intent in make_demo.TEMPLATES:
        rows += make_demo.sample(intent, per_intent, pools, rng, seen)
    rng.shuffle(rows)
    intents = sorted(make_demo.TEMPLATES)
    docs = []
    for tokens, tags, intent in rows:
        doc = Doc(vocab, words=tokens, spaces=[True] * (len(tokens) - 1) + [False])
        doc.set_ents(biluo_tags_to_spans(doc, iob_to_biluo(tags)), default="outside")
        doc.cats = {label: float(label == intent) for label in intents}
        docs.append(doc)
    return docs


def _train(tmp_path, config, name, *overrides):
    output = tmp_path / name
    command = [
        sys.executable, "-m", "spacy", "train", str(REPO / "configs" / config),
        "--output", str(output), "--system.seed", "1",
        "--training.max_steps", "300", "--training.eval_frequency", "150",
        "--paths.dev", str(tmp_path / "dev.spacy"), *overrides,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return spacy.load(output / "model-last")


@pytest.mark.slow
def test_split_annotation_stays_close_to_full_annotation(tmp_path):
    vocab = spacy.blank("en").vocab
    docs = _generate(vocab, per_intent=70, seed=7)
    train, dev, held_out = docs[:400], docs[400:440], docs[440:]  # 260 held out
    DocBin(docs=train[:200]).to_disk(tmp_path / "full.spacy")
    DocBin(docs=dev).to_disk(tmp_path / "dev.spacy")
    cats_half, ents_half = [d.copy() for d in train[0::2]], [d.copy() for d in train[1::2]]
    for doc in cats_half:
        mark_missing(doc, TASK_ENTS)
    for doc in ents_half:
        mark_missing(doc, TASK_CATS)
    DocBin(docs=cats_half, store_user_data=True).to_disk(tmp_path / "cats.spacy")
    DocBin(docs=ents_half, store_user_data=True).to_disk(tmp_path / "ents.spacy")

    full = _train(tmp_path, "cnn.cfg", "full", "--paths.train", str(tmp_path / "full.spacy"))
    split = _train(
        tmp_path, "separate.cfg", "split",
        "--paths.train_cats", str(tmp_path / "cats.spacy"),
        "--paths.train_ents", str(tmp_path / "ents.spacy"),
    )  # fmt: skip
    scores = {}
    for name, nlp in (("full", full), ("split", split)):
        examples = [Example(nlp.make_doc(doc.text), doc) for doc in held_out]
        scores[name] = nlp.evaluate(examples)
    print(json.dumps({k: {m: v[m] for m in ("cats_acc", "ents_f")} for k, v in scores.items()}))
    # 10 intents (chance 0.1): full annotation learned both tasks (seeds 1-2: 0.77-0.82, 0.75).
    assert scores["full"]["cats_acc"] > 0.6 and scores["full"]["ents_f"] > 0.5
    # The margin rests on the spread of split - full over seeds and CPUs: -0.011 to +0.089
    # (intent) and -0.040 to -0.011 (slot F) for seeds 1 and 2 on an AMD EPYC, -0.085 (slot F)
    # on an Intel Xeon. Documents without cats teaching the classifier (all-zero targets,
    # stock textcat's fault) cost far more: split intent accuracy 0.527 against 0.773 (seed 1).
    assert scores["split"]["cats_acc"] > scores["full"]["cats_acc"] - MARGIN
    assert scores["split"]["ents_f"] > scores["full"]["ents_f"] - MARGIN
