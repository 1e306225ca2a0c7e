"""Static vectors from MiniLM (`init vectors`) in the CPU pipelines: do they help? (issue 26)

    python benchmarks/bench_vectors.py --data-dir ../shared/data --datasets snips --seeds 0 \\
        --steps 600                      # the one-seed sanity check
    python benchmarks/bench_vectors.py --data-dir ../shared/data --datasets atis snips \\
        --seeds 0 1 2 --steps 2000       # the 3-seed comparison
    python benchmarks/bench_vectors.py --datasets snips --systems cnn_vectors --seeds 0 1 2 \
        --steps 2000 --augment 0 1 5     # generated text: 0x, 1x and 5x the training set
    python benchmarks/bench_vectors.py --datasets atis snips --systems bilstm_lr \
        bilstm_lr_vectors --seeds 0 1 2 --steps 4000   # the BiLSTM with its schedule
    python benchmarks/bench_vectors.py --datasets snips --systems bilstm_lr --seeds 0 1 2 \
        --steps 4000 --augment 0 1 --teacher teacher/model-best   # distilled, generated text

For each dataset (train and valid converted with `python -m spacy_mtl convert joint`'s reader,
as the benchmark suite does), makes the table once with `python -m spacy_mtl init vectors`
(the shipped all-MiniLM-L6-v2, the training corpus's words and MiniLM's whole words,
--method and --dims as given), then for each seed trains configs/cnn.cfg and
configs/cnn_vectors.cfg (or, by --systems, configs/bilstm_vectors.cfg with and without its
vectors) with `spacy train` for --steps steps (one evaluation, at the end:
model-last is scored, no selection on valid; a run folder already trained is reused), and
scores both on valid and test with the datasets' own tokens: intent accuracy, slot F1 (exact
spans), sentence accuracy. Prints a table (mean and spread over seeds) and writes JSON and
Markdown under benchmarks/reports/vectors/. With --augment, each factor F > 0 also trains on
the training corpus plus F times its size of sentences from `python -m spacy_mtl augment`
(slot values swapped within an intent; their gold labels). With --teacher, every training
corpus (gold, or gold plus generated) is first labelled by that trained pipeline with `python
-m spacy_mtl distill-targets`, and the students learn from its soft targets too (both heads'
distill_weight 0.5, temperature 2).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from suite.prepare import prepare_dataset  # noqa: E402
from suite.worker import GivenTokens, load_pipeline, read_test, score  # noqa: E402

# name: (config, its overrides, whether it reads the table). The BiLSTM systems carry the
# warm-up and decay to step 4000 of configs/bilstm_vectors.cfg: run them with --steps 4000.
NO_VECTORS = ["--components.tok2vec.model.embed.include_static_vectors", "false"]
VOTES = ["--components.textcat.model.pooling", "votes"]
# the slots read each token's intent (Stack-Propagation): the votes classifier annotates
TOKEN_CONTEXT = VOTES + ["--components.ner.model.context", "textcat"]
TOKEN_CONTEXT += ["--training.annotating_components", '["textcat"]']
SYSTEMS = {
    "cnn": ("configs/cnn.cfg", [], False),
    "cnn_vectors": ("configs/cnn_vectors.cfg", [], True),
    "bilstm_lr": ("configs/bilstm_vectors.cfg", NO_VECTORS, False),
    "bilstm_lr_vectors": ("configs/bilstm_vectors.cfg", [], True),
    # token-level intent (mtl_textcat pooling = "votes") in place of attention pooling
    "cnn_votes": ("configs/cnn.cfg", VOTES, False),
    "cnn_votes_context": ("configs/cnn.cfg", TOKEN_CONTEXT, False),
    "bilstm_lr_vectors_votes": ("configs/bilstm_vectors.cfg", VOTES, True),
    # the CNN recogniser alone (no intents: only its slot F1 means anything)
    "cnn_single_ner": ("configs/single_ner.cfg", [], False),
}
# The [paths] variable of a system's training corpus, where it is not `train`.
TRAIN_PATH = {"cnn_single_ner": "train_ents"}
METRICS = ("intent_acc", "slot_f1", "sentence_acc")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=["snips"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--method", default="pooled", choices=["pooled", "model2vec"])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_vectors"))
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "reports" / "vectors")
    parser.add_argument(
        "--augment",
        nargs="+",
        type=int,
        default=[0],
        metavar="FACTOR",
        help="also train on the gold corpus plus FACTOR x its size of `spacy_mtl augment` "
        "sentences (gold labels, seeded by the run's seed); 0: the gold corpus alone",
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="a trained pipeline (configs/transformer.cfg) whose soft targets every training "
        "corpus carries (distill-targets); the students distil both heads from them",
    )
    parser.add_argument(
        "--speed",
        action="store_true",
        help="afterwards, words/s on one thread of seed 0's pipelines against the MiniLM "
        "pipeline (configs/transformer.cfg, initialized: its speed does not depend on training)",
    )
    args = parser.parse_args()
    runs: List[Dict[str, Any]] = []
    for dataset in args.datasets:
        paths = prepare_dataset(args.data_dir, dataset, args.work / "data")
        vectors = make_vectors(args, dataset, paths["train"])
        for seed in args.seeds:
            for factor in args.augment:
                train = augmented(args, dataset, paths["train"], factor, seed)
                if args.teacher:
                    train = teacher_labelled(args, train)
                for system in args.systems:
                    runs.append(
                        run_one(args, dataset, system, seed, {**paths, "train": train}, vectors)
                    )
                    if factor:
                        runs[-1]["system"] += f"+augment{factor}x"
                    if args.teacher:
                        runs[-1]["system"] += "+kd"
                    write_report(args, runs)
    print(render(runs, args))
    if args.speed:
        for dataset in args.datasets:
            print(speed(args, dataset), flush=True)
    return 0


def speed(args: argparse.Namespace, dataset: str, rounds: int = 5) -> str:
    """Words per second of nlp.pipe on the test texts, one torch thread, interleaved rounds:
    seed 0's trained pipelines and a MiniLM pipeline initialized on the training corpus."""
    import torch

    torch.set_num_threads(1)
    paths = prepare_dataset(args.data_dir, dataset, args.work / "data")
    pipelines = {}
    for system in args.systems:
        table = f"_{args.method}{args.dims}" if SYSTEMS[system][2] else ""
        folder = args.work / "runs" / f"{dataset}_{system}{table}_s0_{args.steps}" / "model-last"
        if folder.exists():
            pipelines[system] = load_pipeline(str(folder))
    pipelines["minilm"] = initialized_minilm(args, paths)
    texts, _, _ = read_test(str(args.data_dir / dataset / "test"))
    n_words = sum(len(text.split()) for text in texts)
    times: Dict[str, List[float]] = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, nlp in pipelines.items():
            start = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=128):
                pass
            times[name].append(time.perf_counter() - start)
    rate = {name: n_words / statistics.median(t) for name, t in times.items()}
    result = {"dataset": dataset, "words_per_s": rate, "rounds": rounds, "threads": 1}
    from spacy_mtl.atomic import write_text_atomic

    name = f"speed_{dataset}_{'_'.join(args.systems)}.json"
    write_text_atomic(args.out / name, json.dumps(result, indent=1))
    lines = [f"{dataset} test, one thread, median of {rounds} interleaved rounds:"]
    for name, value in rate.items():
        lines.append(f"  {name}: {value:,.0f} words/s ({value / rate['minilm']:.1f}x MiniLM)")
    return "\n".join(lines)


def initialized_minilm(args: argparse.Namespace, paths: Dict[str, Path]):
    """configs/transformer.cfg initialized on the training corpus, reading the given tokens."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example
    from spacy.util import load_config

    config = load_config(
        REPO / "configs" / "transformer.cfg",
        overrides={
            "paths.train": str(paths["train"]),
            "paths.dev": str(paths["dev"]),
            "paths.transformer_model": str(minilm(args.work)),
        },
        interpolate=True,
    )
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    docs = list(DocBin().from_disk(paths["train"]).get_docs(nlp.vocab))[:200]
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc) for doc in docs])
    nlp.tokenizer = GivenTokens(nlp.vocab)
    return nlp


def make_vectors(args: argparse.Namespace, dataset: str, train: Path) -> Path:
    """The dataset's table, made once per method and width."""
    out = args.work / f"vectors_{dataset}_{args.method}_{args.dims}"
    if (out / "config.cfg").exists():
        return out
    start = time.time()
    command = [sys.executable, "-m", "spacy_mtl", "init", "vectors", str(out)]
    command += ["--corpus", str(train), "--method", args.method, "--dims", str(args.dims)]
    command += ["--transformer", str(minilm(args.work))]
    subprocess.run(command, check=True, cwd=REPO)
    print(f"init vectors {dataset}: {time.time() - start:.0f} s", flush=True)
    return out


def augmented(args: argparse.Namespace, dataset: str, train: Path, factor: int, seed: int) -> Path:
    """The training corpus plus `factor` times its size of generated sentences (0: itself)."""
    if not factor:
        return train
    out = args.work / "data" / f"{dataset}_train_augment{factor}x_s{seed}.spacy"
    if out.exists():
        return out
    import spacy
    from spacy.tokens import DocBin

    generated = out.with_suffix(".generated.spacy")
    command = [sys.executable, "-m", "spacy_mtl", "augment", str(train), str(generated)]
    command += ["--factor", str(factor), "--seed", str(seed)]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    vocab = spacy.blank("en").vocab
    docs = list(DocBin().from_disk(train).get_docs(vocab))
    docs += list(DocBin().from_disk(generated).get_docs(vocab))
    DocBin(docs=docs, store_user_data=True).to_disk(out)
    print(f"augment {dataset} x{factor} seed {seed}: {len(docs)} documents", flush=True)
    return out


def teacher_labelled(args: argparse.Namespace, train: Path) -> Path:
    """A copy of a training corpus carrying the teacher's soft targets, made once per teacher."""
    teacher = args.teacher.resolve()
    folder = args.work / "data" / ("kd_" + "_".join(teacher.parts[-2:]))
    out = folder / f"{train.parent.name}_{train.stem}_kd.spacy"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time()
    command = [sys.executable, "-m", "spacy_mtl", "distill-targets", str(teacher), str(train)]
    subprocess.run(command + [str(out)], check=True, cwd=REPO, capture_output=True)
    print(f"distill-targets {train.name}: {time.time() - start:.0f} s", flush=True)
    return out


def minilm(work: Path) -> Path:
    from spacy_mtl.pretrained import extract_minilm

    return extract_minilm(work / "models")


def run_one(args, dataset: str, system: str, seed: int, paths, vectors: Path) -> Dict[str, Any]:
    """Train one system with one seed; score model-last on valid and test."""
    config, overrides, reads_table = SYSTEMS[system]
    table = f"_{args.method}{args.dims}" if reads_table else ""
    extra = "" if paths["train"].name == "train.spacy" else f"_{paths['train'].stem}"
    if args.teacher:  # the teacher's corpora live in a folder named after it
        extra += f"_{paths['train'].parent.name}"
    out = args.work / "runs" / f"{dataset}_{system}{table}{extra}_s{seed}_{args.steps}"
    command = [sys.executable, "-m", "spacy", "train", config, "--output", str(out), *overrides]
    command += [f"--paths.{TRAIN_PATH.get(system, 'train')}", str(paths["train"])]
    command += ["--paths.dev", str(paths["dev"])]
    command += ["--system.seed", str(seed), "--training.max_steps", str(args.steps)]
    command += ["--training.eval_frequency", str(args.steps), "--training.patience", "0"]
    if reads_table:
        command += ["--paths.vectors", str(vectors)]
    if args.teacher:
        for head in ("textcat", "ner"):
            command += [f"--components.{head}.distill_weight", "0.5"]
    start = time.time()
    if not (out / "model-last" / "meta.json").exists():
        subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    run = {"dataset": dataset, "system": system, "seed": seed, "steps": args.steps}
    run["vectors"] = f"{args.method} --dims {args.dims}" if table else None
    run["train_wall_s"] = round(time.time() - start, 1)
    nlp = load_pipeline(str(out / "model-last"))
    for split in ("valid", "test"):
        texts, intents, spans = read_test(str(args.data_dir / dataset / split))
        docs = list(nlp.pipe(texts, batch_size=256))
        predicted = [max(doc.cats, key=doc.cats.get) if doc.cats else None for doc in docs]
        found = [{(e.start, e.end, e.label_) for e in doc.ents} for doc in docs]
        run[split] = score(intents, spans, predicted, found)
    print(json.dumps(run), flush=True)
    return run


def stats(values: List[float]) -> str:
    mean = statistics.mean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f}" + (f" ±{spread:.2f}" if len(values) > 1 else "")


def render(runs: List[Dict[str, Any]], args: argparse.Namespace) -> str:
    """A Markdown table: per dataset and system, mean (± stdev over seeds) of each metric."""
    head = "| dataset | system | seeds | " + " | ".join(
        f"{split} {m}" for split in ("valid", "test") for m in METRICS
    )
    lines = [head + " |", "|" + " --- |" * (3 + 2 * len(METRICS))]
    keys = sorted({(r["dataset"], r["system"]) for r in runs})
    for dataset, system in keys:
        chosen = [r for r in runs if (r["dataset"], r["system"]) == (dataset, system)]
        cells = [stats([r[s][m] for r in chosen]) for s in ("valid", "test") for m in METRICS]
        seeds = ",".join(str(r["seed"]) for r in chosen)
        lines.append(f"| {dataset} | {system} | {seeds} | " + " | ".join(cells) + " |")
    note = f"\n{args.steps} steps, --method {args.method} --dims {args.dims}; model-last scored."
    return "\n".join(lines) + note


def write_report(args: argparse.Namespace, runs: List[Dict[str, Any]]) -> None:
    from spacy_mtl.atomic import write_text_atomic

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"vectors_{args.method}{args.dims}_{args.steps}steps"
    if args.augment != [0]:
        stem += "_augment" + "_".join(str(f) for f in args.augment)
    if args.teacher:
        stem += "_kd"
    write_text_atomic(args.out / f"{stem}.json", json.dumps(runs, indent=1))
    write_text_atomic(args.out / f"{stem}.md", render(runs, args) + "\n")


if __name__ == "__main__":
    sys.exit(main())
