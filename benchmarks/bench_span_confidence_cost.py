"""What `mtl_ner`'s entity confidences cost: `nlp.pipe` with `confidences` on and off.

An untrained pipeline from configs/cnn.cfg, sized for every SNIPS label (39 entity types,
79 tags) and initialized on a few of its test sentences, runs `nlp.pipe` over the SNIPS
test sentences (read from /work/shared/data/snips/test, never copied), in interleaved
rounds of confidences on and off, on one thread. An untrained CRF predicts many entities:
the confidences have more spans to score than a trained model gives them.

    OMP_NUM_THREADS=1 python benchmarks/bench_span_confidence_cost.py --out cost.json
    # the code of another commit, in a worktree
    git worktree add /tmp/crf_old COMMIT
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/crf_old python benchmarks/bench_span_confidence_cost.py \\
        --out old.json

Prints a table and writes JSON to --out: each setting's best and median seconds per round,
the number of entities, and the median ratio of on to off.
"""

import argparse
import json
import os
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
SNIPS = Path("/work/shared/data/snips/test")


def read_snips(n_texts: int) -> List[Dict]:
    """The first sentences of SNIPS test: words, BIO tags and intent."""
    words = (SNIPS / "seq.in").read_text(encoding="utf8").splitlines()
    tags = (SNIPS / "seq.out").read_text(encoding="utf8").splitlines()
    intents = (SNIPS / "label").read_text(encoding="utf8").splitlines()
    return [
        {"words": w.split(), "tags": t.split(), "intent": i}
        for w, t, i in list(zip(words, tags, intents))[:n_texts]
    ]


def build_pipeline(records: List[Dict], n_init: int):
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    import spacy_mtl  # noqa: F401  (registers the factories)

    entity_labels = sorted({t[2:] for r in records for t in r["tags"] if t != "O"})
    intents = sorted({r["intent"] for r in records})
    config = spacy.util.load_config(REPO / "configs" / "cnn.cfg")
    config["initialize"]["components"] = {
        "ner": {"labels": entity_labels},
        "textcat": {"labels": intents},
    }
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = []
    for record in records[:n_init]:
        doc = Doc(nlp.vocab, words=record["words"])
        cats = {label: float(label == record["intent"]) for label in intents}
        examples.append(Example.from_dict(doc, {"entities": record["tags"], "cats": cats}))
    nlp.initialize(lambda: examples)
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON results")
    parser.add_argument("--texts", type=int, default=400, help="sentences per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each setting")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    records = read_snips(args.texts)
    nlp = build_pipeline(records, n_init=20)
    ner = nlp.get_pipe("ner")
    texts = [" ".join(r["words"]) for r in records]
    times: Dict[str, List[float]] = {"on": [], "off": []}
    n_entities = 0
    for _ in range(2):  # warm-up of both settings
        for setting in ("on", "off"):
            ner.confidences = setting == "on"
            list(nlp.pipe(texts, batch_size=args.batch_size))
    for round_ in range(args.rounds):
        order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
        for setting in order:
            ner.confidences = setting == "on"
            began = time.perf_counter()
            docs = list(nlp.pipe(texts, batch_size=args.batch_size))
            times[setting].append(time.perf_counter() - began)
            n_entities = sum(len(doc.ents) for doc in docs)
    ratios = sorted(on / off for on, off in zip(times["on"], times["off"]))
    result = {
        "texts": len(texts),
        "words": sum(len(r["words"]) for r in records),
        "entities": n_entities,
        "rounds": args.rounds,
        "seconds": {
            key: {"best": min(values), "median": sorted(values)[len(values) // 2]}
            for key, values in times.items()
        },
        "ratio_on_off_median": ratios[len(ratios) // 2],
        "ratio_on_off_best": min(times["on"]) / min(times["off"]),
        "spacy_mtl": str(Path(__import__("spacy_mtl").__file__).parent),
    }
    print(f"{'setting':<10}{'best s':>10}{'median s':>10}")
    for key in ("off", "on"):
        seconds = result["seconds"][key]
        print(f"{key:<10}{seconds['best']:>10.3f}{seconds['median']:>10.3f}")
    print(
        f"{len(texts)} texts, {n_entities} entities; on/off: median of rounds "
        f"{result['ratio_on_off_median']:.3f}, of best {result['ratio_on_off_best']:.3f}"
    )
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
