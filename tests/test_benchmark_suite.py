"""The benchmark suite (benchmarks/suite/): config patches, aggregation and targets, no training."""

import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.util import load_config

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from suite.report import aggregate, check_targets, summarize_speed  # noqa: E402
from suite.runner import derive_config  # noqa: E402
from suite.systems import FULL, JOINT, SEPARATE, SYSTEMS_BY_NAME, System  # noqa: E402

TINY_CONFIG = """
[paths]
train = null
dev = null

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}
gold_preproc = false

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
gold_preproc = false

[components]

[components.tok2vec]
factory = "mtl_tok2vec"

[components.tok2vec.balancer]
@misc = "spacy_mtl.pcgrad.v1"
seed = 1

[training]
max_steps = 2000
patience = 1600

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.optimizer]
@optimizers = "Adam.v1"

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = 250
total_steps = 2000
initial_rate = 0.001
"""

DATA = {key: Path(f"/data/{key}.spacy") for key in ("train", "cats", "ents", "dev")}
DATA["separate"] = Path("/data/separate")
BENCHMARK_CONFIGS = sorted((REPO / "benchmarks" / "configs").glob("*.cfg"))


@pytest.mark.parametrize("path", BENCHMARK_CONFIGS, ids=lambda p: p.name)
def test_benchmark_config_loads_and_fills(path):
    """The baselines and the streaming config are complete, as the project's configs are."""
    nlp = spacy.util.load_model_from_config(load_config(path), auto_fill=True, validate=True)
    assert {"textcat", "ner"} & set(nlp.pipe_names)


def test_derive_config_patches_replace_whole_sections(tmp_path):
    source = tmp_path / "tiny.cfg"
    source.write_text(TINY_CONFIG)
    system = System(
        "tiny",
        "tiny",
        "mtl",
        {JOINT: "tiny.cfg"},
        {
            # The same registered function as the config's: its seed must go all the same.
            "components.tok2vec.balancer": {"@misc": "spacy_mtl.pcgrad.v1"},
            "training.accumulate_gradient": 2,
        },
    )
    config, overrides = derive_config(
        source, REPO, DATA, FULL, system, JOINT, tmp_path / "run", 400
    )
    assert config["components"]["tok2vec"]["balancer"] == {"@misc": "spacy_mtl.pcgrad.v1"}
    assert config["components"]["tok2vec"]["factory"] == "mtl_tok2vec"
    assert config["training"]["logger"] == {
        "@loggers": "spacy_mtl_benchmarks.ScoresLogger.v1",
        "path": str(tmp_path / "run" / "scores.jsonl"),
    }
    assert config["training"]["patience"] == 0
    assert config["training"]["accumulate_gradient"] == 2
    # The warm-up keeps its share of the budget (250 of 2000 -> 50 of 400), the rest stays.
    assert config["training"]["optimizer"]["learn_rate"] == {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": 50,
        "total_steps": 2000,
        "initial_rate": 0.001,
    }
    for section in ("train", "dev"):
        assert config["corpora"][section]["gold_preproc"] is True
        assert config["corpora"][section]["@readers"] == "spacy.Corpus.v1"
    assert overrides == {"paths.dev": str(DATA["dev"]), "paths.train": str(DATA["train"])}


def test_derive_config_separate_setting_of_spacy_mtl_reads_both_halves(tmp_path):
    system = SYSTEMS_BY_NAME["mtl_joint"]
    config, overrides = derive_config(
        REPO / "configs" / "cnn.cfg", REPO, DATA, SEPARATE, system, JOINT, tmp_path, 2000
    )
    assert "train" not in config["paths"]
    assert config["corpora"]["train"]["@readers"] == "spacy_mtl.MultiTaskCorpus.v1"
    assert config["corpora"]["train"]["gold_preproc"] is True
    for name, task in (("textcat", "cats"), ("ner", "ents")):
        # Replaced, not merged: the config's path = ${paths.train} must not survive.
        assert config["initialize"]["components"][name]["labels"] == {
            "@readers": "spacy_mtl.task_labels.v1",
            "task": task,
            "sources": "${corpora.train.sources}",
        }
    assert overrides == {
        "paths.dev": str(DATA["dev"]),
        "paths.train_cats": str(DATA["cats"]),
        "paths.train_ents": str(DATA["ents"]),
    }
    config.interpolate()  # every variable still points somewhere


def _run(setting, seed, intent, slot, sentence, wps_1=1000.0):
    metrics = {
        "intent_acc": intent,
        "slot_f1": slot,
        "sentence_acc": sentence,
        "slot_p": slot,
        "slot_r": slot,
    }
    return {
        "dataset": "atis",
        "setting": setting,
        "system": "mtl_joint",
        "seed": seed,
        "steps": 2000,
        "train_wall_s": 600.0,
        "train_cpu_s": 540.0,
        "train_peak_rss_mb": 900.0,
        "train": {JOINT: {"curve": [{"words": 40000, "seconds": 100.0}]}},
        "test": {
            "metrics": metrics,
            "peak_rss_mb": 500.0,
            "speed": {"wps_1": wps_1, "wps_2": None},
        },
    }


def test_aggregate_and_targets():
    runs = [
        _run(SEPARATE, 0, 95.0, 94.0, 80.0),
        _run(FULL, 1, 98.0, 95.0, 88.0, wps_1=3000.0),
        _run(FULL, 0, 96.0, 94.0, 86.0),
    ]
    rows = aggregate(runs)
    assert [(r["setting"], r["seeds"]) for r in rows] == [(FULL, [0, 1]), (SEPARATE, [0])]
    full = rows[0]
    assert full["intent_acc"]["mean"] == pytest.approx(97.0)
    assert full["intent_acc"]["std"] == pytest.approx(statistics.stdev([96.0, 98.0]))
    assert full["slot_f1"]["mean"] == pytest.approx(94.5)
    assert full["wps_1"]["mean"] == pytest.approx(2000.0)
    assert full["wps_2"] is None  # no measurement, no number
    assert full["train_min"]["mean"] == pytest.approx(10.0)
    assert full["train_wps"]["mean"] == pytest.approx(400.0)
    assert rows[1]["intent_acc"] == {"mean": 95.0, "std": 0.0, "n": 1}

    speed = summarize_speed(
        {
            "atis": [
                {
                    "words": 1000,
                    "rounds": [
                        {
                            "mtl_joint": {"wps_1": 2000.0, "wps_2": 3000.0},
                            "mtl_single": {"wps_1": 1000.0, "wps_2": 2000.0},
                        }
                    ],
                }
            ]
        }
    )
    checks = {c["target"]: c for c in check_targets(rows, speed)}

    def check(start):
        (found,) = [c for target, c in checks.items() if target.startswith(start)]
        return found["value"], found["met"]

    cpu = "atis spacy_mtl joint (sum): "
    assert check(cpu + "intent_acc >= 97.0") == (pytest.approx(97.0), True)  # met at equality
    assert check(cpu + "slot_f1 >= 95.0") == (pytest.approx(94.5), False)
    assert check(cpu + "sentence_acc >= 86.0") == (pytest.approx(87.0), True)
    # Separate corpora: intent 2 points under full (tolerance 1.5), slot F1 0.5 under.
    assert check(cpu + "separate corpora within 1.5 points of full on intent_acc") == (
        pytest.approx(-2.0),
        False,
    )
    assert check(cpu + "separate corpora within 1.5 points of full on slot_f1") == (
        pytest.approx(-0.5),
        True,
    )
    assert check("atis spacy_mtl joint, BiLSTM: intent_acc") == (None, None)  # not run
    single = "atis: words/s of the shared pipeline >= 1.8x those of spacy_mtl single-task x2"
    assert check(single + " (n_process=1)") == (pytest.approx(2.0), True)
    assert check(single + " (n_process=2)") == (pytest.approx(1.5), False)


def test_command_line_runs_from_another_folder(tmp_path):
    """The entry point finds its suite from any folder (the workers start in the snapshot)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run_benchmarks.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "--summary-only" in result.stdout
    assert "mtl_joint" in result.stdout


def test_a_distilled_system_runs_in_the_full_setting_only(capsys):
    from run_benchmarks import parse_args

    system = SYSTEMS_BY_NAME["mtl_bilstm_lr_kd"]
    assert SYSTEMS_BY_NAME[system.teacher].transformer
    settings = dict((s.name, chosen) for s, chosen in parse_args([]).system_settings)
    assert settings["mtl_bilstm_lr_kd"] == [FULL] and SEPARATE in settings["mtl_joint"]
    with pytest.raises(SystemExit):
        parse_args(["--systems", "mtl_bilstm_lr_kd:separate"])
    assert "full setting only" in capsys.readouterr().err
