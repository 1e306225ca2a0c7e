"""Running the benchmark: every (dataset, setting, system, seed) trained with `spacy train` and
evaluated, each in a subprocess against the code snapshot, then the speed comparison.

The subprocesses keep each run's memory and timing its own, and let every run import spacy_mtl
from the snapshot rather than from the working tree.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import helpers
from .helpers import BENCH_DIR, RunError, _quote, _rel, _write_json, log, run_code
from .prepare import make_code_snapshot, prepare_dataset, prepare_minilm, resolve_config
from .report import print_summary, summarize
from .systems import (
    FULL,
    JOINT,
    SPEED_ENCODER,
    SPEED_PAIR,
    SPEED_SHARED,
    SPEED_STOCK,
    SPLIT_TEST,
    SYSTEMS_BY_NAME,
    System,
    steps_of,
)

LOGGER_CODE = BENCH_DIR / "bench_logger.py"
# The command line, which runs the worker of a subprocess (--worker KIND --job JSON).
ENTRY_POINT = BENCH_DIR / "run_benchmarks.py"

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The seed of the teacher every seed of a distilled system learns from.
TEACHER_SEED = 0
# One teacher run at a time per (dataset, teacher), however many students wait for it.
_TEACHER_LOCKS: Dict[Tuple[str, str], threading.Lock] = {}
_TEACHER_LOCKS_GUARD = threading.Lock()


def run_benchmark(args: argparse.Namespace) -> int:
    """Convert the data, train and evaluate every run, time the pipelines, write the summary."""
    args.out = args.out.resolve()
    args.summary_dir = args.summary_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    helpers.THREADS = args.threads
    command = " ".join(["python", *map(_quote, [_rel(Path(sys.argv[0]).resolve()), *sys.argv[1:]])])
    args.command = command
    code_dir, code_rev = make_code_snapshot(args.out, args.code_rev)
    sys.path.insert(0, str(code_dir))
    systems = [system for system, _ in args.system_settings]
    log(f"code under test: {code_rev} ({code_dir})")
    failures = []
    if not args.summary_only:
        data = {
            name: prepare_dataset(args.data_dir, name, args.out / "_data") for name in args.datasets
        }
        minilm = None
        teachers = [SYSTEMS_BY_NAME[s.teacher] for s in systems if s.teacher]
        if any(s.transformer for s in systems + teachers):
            minilm = prepare_minilm(args.out / "_models", code_dir)
        jobs = [
            (dataset, setting, system, seed)
            for system, settings in args.system_settings
            for dataset in args.datasets
            for setting in settings
            for seed in args.seeds
        ]

        def attempt(job: Tuple[str, str, System, int]) -> None:
            dataset, setting, system, seed = job
            try:
                run_one(args, code_dir, data[dataset], dataset, setting, system, seed, minilm)
            except RunError as err:
                failures.append(str(err))
                log(f"FAILED: {err}")

        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            list(pool.map(attempt, jobs))
        # After every training, alone on the machine (as far as this script goes).
        for dataset in args.datasets:
            for seed in args.seeds:
                try:
                    run_speed(args, code_dir, dataset, seed)
                except RunError as err:
                    failures.append(str(err))
                    log(f"FAILED: {err}")
    summary = summarize(args, command, code_rev, failures)
    print_summary(summary)
    return 1 if failures else 0


def run_dir_of(out: Path, dataset: str, setting: str, system: str, steps: int, seed: int) -> Path:
    """The folder of one run; the step budget is part of it, so budgets do not mix."""
    return out / "runs" / dataset / setting / system / f"steps{steps}-seed{seed}"


def run_one(
    args: argparse.Namespace,
    code_dir: Path,
    data: Dict[str, Path],
    dataset: str,
    setting: str,
    system: System,
    seed: int,
    minilm: Optional[Path],
) -> None:
    """Train (each pipeline of) one system and evaluate it, unless its result exists."""
    steps = steps_of(args, system)
    run_dir = run_dir_of(args.out, dataset, setting, system.name, steps, seed)
    result_path = run_dir / "result.json"
    if result_path.exists():
        code = run_code(json.loads(result_path.read_text()))
        if code != code_dir.name:
            log(
                f"warning: {_rel(run_dir)} was trained with code {code}, not {code_dir.name}; "
                "delete it to train it again"
            )
        log(f"done already: {_rel(run_dir)}")
        return
    if system.teacher:
        data = distilled_data(args, code_dir, data, dataset, setting, system, minilm)
    eval_frequency = args.eval_frequency or max(steps // 10, 1)
    eval_frequency = min(eval_frequency, steps)
    trainings = {}
    for task, config in system.configs.items():
        trainings[task] = train(
            args,
            code_dir,
            data,
            setting,
            system,
            task,
            config,
            seed,
            steps,
            eval_frequency,
            run_dir / task,
            minilm,
        )
    models = {task: str(t["model"]) for task, t in trainings.items()}
    job = {
        "models": models,
        "test_dir": str(args.data_dir / dataset / SPLIT_TEST),
        "batch_size": args.batch_size,
        "speed_seconds": args.speed_seconds,
        "output": str(run_dir / "evaluation.json"),
    }
    log(f"evaluating {_rel(run_dir)}")
    run_worker_subprocess("evaluate", job, code_dir, run_dir / "evaluate.log", args.timeout)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    result = {
        "dataset": dataset,
        "setting": setting,
        "system": system.name,
        "title": system.title,
        "family": system.family,
        "seed": seed,
        "steps": steps,
        "eval_frequency": eval_frequency,
        "train": {
            task: {k: v for k, v in t.items() if k != "model"} for task, t in trainings.items()
        },
        "train_wall_s": sum(t["wall_s"] for t in trainings.values()),
        "train_cpu_s": sum(t["cpu_s"] for t in trainings.values()),
        "train_peak_rss_mb": max(t["peak_rss_mb"] for t in trainings.values()),
        "test": evaluation,
        "code": code_dir.name,
        "invocation": args.command,
    }
    _write_json(result_path, result)
    m = evaluation["metrics"]
    log(
        f"{dataset}/{setting}/{system.name}/{run_dir.name}: intent {m['intent_acc']:.2f} "
        f"slot F1 {m['slot_f1']:.2f} sentence {m['sentence_acc']:.2f} "
        f"({result['train_wall_s'] / 60:.1f} min)"
    )


def distilled_data(
    args: argparse.Namespace,
    code_dir: Path,
    data: Dict[str, Path],
    dataset: str,
    setting: str,
    system: System,
    minilm: Optional[Path],
) -> Dict[str, Path]:
    """The data of a distilled system: the training split annotated by its teacher.

    The teacher (seed TEACHER_SEED) is trained and evaluated as a run of its own, once, and
    `python -m spacy_mtl distill-targets` writes the annotated split beside it.
    """
    if setting != FULL:
        raise RunError(f"{system.name}: a distilled system trains with full annotation only")
    teacher = SYSTEMS_BY_NAME[system.teacher]
    with _TEACHER_LOCKS_GUARD:
        lock = _TEACHER_LOCKS.setdefault((dataset, teacher.name), threading.Lock())
    with lock:
        run_one(args, code_dir, data, dataset, setting, teacher, TEACHER_SEED, minilm)
        steps = steps_of(args, teacher)
        teacher_dir = run_dir_of(args.out, dataset, setting, teacher.name, steps, TEACHER_SEED)
        annotated = teacher_dir / "train_teacher.spacy"
        if not annotated.exists():
            model = teacher_dir / JOINT / "model" / "model-best"
            cmd = [sys.executable, "-m", "spacy_mtl", "distill-targets"]
            cmd += [str(model), str(data["train"]), str(annotated)]
            log(f"teacher targets: {_rel(annotated)}")
            run_measured(cmd, code_dir, teacher_dir / "distill.log", args.timeout)
            if not annotated.exists():
                raise RunError(f"no {annotated}; see {teacher_dir / 'distill.log'}")
    return {**data, "train": annotated}


def train(
    args: argparse.Namespace,
    code_dir: Path,
    data: Dict[str, Path],
    setting: str,
    system: System,
    task: str,
    config_rel: str,
    seed: int,
    steps: int,
    eval_frequency: int,
    out_dir: Path,
    minilm: Optional[Path],
) -> Dict[str, Any]:
    """Train one pipeline with `spacy train` in a subprocess; time it and take its peak RSS.

    RETURNS (Dict[str, Any]): model (the model-best folder), wall_s, peak_rss_mb, config,
        command, the dev curve (the logger's records) and the step of model-best.
    """
    done_path = out_dir / "train.json"
    if done_path.exists() and (out_dir / "model" / "model-best").exists():
        done = json.loads(done_path.read_text())
        done["model"] = out_dir / "model" / "model-best"
        return done
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    source = resolve_config(code_dir, config_rel)
    config, overrides = derive_config(source, code_dir, data, setting, system, task, out_dir, steps)
    if system.transformer:
        if minilm is None:
            raise RunError(f"{system.name}: no MiniLM weights")
        overrides["paths.transformer_model"] = str(minilm)
    config_path = out_dir / "config.cfg"
    config.to_disk(config_path)
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(config_path),
        "--output",
        str(out_dir / "model"),
        "--code",
        str(LOGGER_CODE),
        "--system.seed",
        str(seed),
        "--training.max_steps",
        str(steps),
        "--training.eval_frequency",
        str(eval_frequency),
    ]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    log(f"training {_rel(out_dir)} ({steps} steps)")
    wall_s, cpu_s, rss_mb = run_measured(cmd, code_dir, out_dir / "train.log", args.timeout)
    curve = read_curve(out_dir / "scores.jsonl")
    if not (out_dir / "model" / "model-best").exists():
        raise RunError(f"no model-best in {out_dir}; see {out_dir / 'train.log'}")
    best = max(
        (r for r in curve if r.get("event") == "eval"), key=lambda r: r["score"], default=None
    )
    done = {
        "config_source": config_rel,
        "command": " ".join(map(_quote, cmd)),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "peak_rss_mb": rss_mb,
        "best_step": best["step"] if best else None,
        "curve": [r for r in curve if r.get("event") == "eval"],
        "modules": next((r["modules"] for r in curve if r.get("event") == "start"), None),
    }
    _write_json(done_path, done)
    done["model"] = out_dir / "model" / "model-best"
    return done


def derive_config(
    source: Path,
    code_dir: Path,
    data: Dict[str, Path],
    setting: str,
    system: System,
    task: str,
    out_dir: Path,
    steps: int,
) -> Tuple[Any, Dict[str, str]]:
    """The config of one training run, and the command-line overrides for its data paths.

    Every run: the benchmark's JSONL logger, no early stopping (every system gets the whole
    step budget), and the datasets' own tokens (`gold_preproc`) for training and dev. The
    training data comes as the config expects it: a multi-task reader config
    (paths.train_cats / train_ents) gets the full training set or the halves; a config with
    one paths.train gets the full set, a half (single-task) or, for a joint pipeline in the
    separate setting, the folder of both halves (stock spaCy) or spacy_mtl's multi-task
    reader of configs/separate.cfg (spacy_mtl).
    """
    from spacy.util import dot_to_dict
    from thinc.api import Config

    config = Config().from_disk(source, interpolate=False)
    patches: Dict[str, Any] = {
        "training.logger": {
            "@loggers": "spacy_mtl_benchmarks.ScoresLogger.v1",
            "path": str(out_dir / "scores.jsonl"),
        },
        "training.patience": 0,
    }
    overrides = {"paths.dev": str(data["dev"])}
    paths = config["paths"]
    if "train_cats" in paths or "train_ents" in paths:
        for key, half in (("train_cats", "cats"), ("train_ents", "ents")):
            if key in paths:
                overrides[f"paths.{key}"] = str(data["train" if setting == FULL else half])
    elif setting == FULL:
        overrides["paths.train"] = str(data["train"])
    elif task != JOINT:
        overrides["paths.train"] = str(data[task])
    elif system.family == "stock":
        overrides["paths.train"] = str(data["separate"])
    else:
        separate = Config().from_disk(
            resolve_config(code_dir, "configs/separate.cfg"), interpolate=False
        )
        patches["corpora.train"] = dict(separate["corpora"]["train"])
        # The labels reader reads the multi-task sources instead of paths.train.
        for name, section in config["initialize"]["components"].items():
            labels = section.get("labels") if isinstance(section, dict) else None
            if isinstance(labels, dict) and labels.get("@readers") == "spacy_mtl.task_labels.v1":
                patches[f"initialize.components.{name}.labels"] = {
                    "@readers": "spacy_mtl.task_labels.v1",
                    "task": labels["task"],
                    "sources": "${corpora.train.sources}",
                }
        patches["training.max_epochs"] = separate["training"]["max_epochs"]
        del config["paths"]["train"]
        for key in ("train_cats", "train_ents"):
            config["paths"][key] = None
        overrides["paths.train_cats"] = str(data["cats"])
        overrides["paths.train_ents"] = str(data["ents"])
    learn_rate = config["training"]["optimizer"].get("learn_rate")
    if isinstance(learn_rate, dict) and "warmup_steps" in learn_rate:
        # A smaller budget keeps the config's warm-up share of it (250 of 2000 steps for
        # configs/transformer.cfg), rather than never leaving the warm-up.
        share = learn_rate["warmup_steps"] / config["training"]["max_steps"]
        patches["training.optimizer.learn_rate.warmup_steps"] = max(1, round(share * steps))
    lang = data.get("lang", "en")
    if lang != "en":
        import spacy

        patches["nlp.lang"] = lang
        patches["nlp.tokenizer"] = dict(spacy.blank(lang).config["nlp"]["tokenizer"])
    patches.update(system.patches)
    # Each patch replaces the value or the whole section at its path. Config.merge alone would
    # merge a section into one of the same registered function, keeping the keys the patch
    # leaves out (the labels readers of the separate setting would keep their path to
    # paths.train, deleted above), so the patched paths are first merged to None, which
    # replaces whatever was there.
    config = config.merge(dot_to_dict(dict.fromkeys(patches))).merge(dot_to_dict(patches))
    gold_preproc = {f"corpora.{section}.gold_preproc": True for section in ("train", "dev")}
    config = config.merge(dot_to_dict(gold_preproc))
    return config, overrides


def run_speed(args: argparse.Namespace, code_dir: Path, dataset: str, seed: int) -> None:
    """Time the shared pipeline against the two single-task ones and stock joint, interleaved."""
    out_dir = args.out / "speed" / dataset / f"steps{args.steps}-seed{seed}"
    output = out_dir / "speed.json"
    if output.exists():
        log(f"done already: {_rel(out_dir)}")
        return
    pipelines = {}
    for system in (SPEED_SHARED, SPEED_PAIR, SPEED_STOCK, "stock_single"):
        run_dir = run_dir_of(args.out, dataset, FULL, system, args.steps, seed)
        if (run_dir / "result.json").exists():
            pipelines[system] = {
                task: str(run_dir / task / "model" / "model-best")
                for task in SYSTEMS_BY_NAME[system].configs
            }
    if SPEED_SHARED not in pipelines or SPEED_PAIR not in pipelines:
        log(f"speed {dataset}: needs {SPEED_SHARED} and {SPEED_PAIR} in the full setting; skipped")
        return
    pipelines[SPEED_ENCODER] = dict(pipelines[SPEED_SHARED])
    out_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "pipelines": pipelines,
        "test_dir": str(args.data_dir / dataset / SPLIT_TEST),
        "batch_size": args.batch_size,
        "speed_seconds": args.speed_seconds,
        "rounds": args.speed_rounds,
        "encoder_only": [SPEED_ENCODER],
        "output": str(output),
    }
    log(f"speed comparison {dataset} seed {seed}")
    run_worker_subprocess("speed", job, code_dir, out_dir / "speed.log", args.timeout)


def run_worker_subprocess(
    kind: str, job: Dict[str, Any], code_dir: Path, log_path: Path, timeout: int
) -> None:
    cmd = [
        sys.executable,
        str(ENTRY_POINT),
        "--worker",
        kind,
        "--job",
        json.dumps(job),
    ]
    run_measured(cmd, code_dir, log_path, timeout)


def run_measured(
    cmd: List[str], code_dir: Path, log_path: Path, timeout: int
) -> Tuple[float, float, float]:
    """Run a command with the code snapshot first on its path.

    RETURNS (Tuple[float, float, float]): Wall seconds, CPU seconds (user + system) and peak
        RSS in MiB, of the child itself (os.wait4), not the maximum over all children so far.
        CPU seconds are less sensitive than wall time to other load on the machine.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(code_dir), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONUNBUFFERED"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    # One thread per process by default: torch's default two intra-op threads spin against
    # each other and against other processes on a loaded 2-core machine (the CRF's
    # logsumexp ran 3-10x slower that way), and stock spaCy's numpy/blis is single-threaded.
    for var in THREAD_VARS:
        env[var] = str(helpers.THREADS)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The snapshot as working directory: `python -m` puts it first on sys.path.
    with open(log_path, "w", encoding="utf8") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=code_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        status, rusage = _wait(proc, timeout)
    wall = time.perf_counter() - start
    if status != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RunError(f"exit status {status}: {' '.join(cmd[:6])} ... (log: {log_path})\n{tail}")
    return wall, rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss / 1024.0


def _wait(proc: subprocess.Popen, timeout: int):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return "timeout", rusage
        time.sleep(0.2)


def read_curve(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
