"""The spaCy project (project.yml): its form, the demo workflow end to end, the ATIS conversion."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.util import load_config, make_tempdir
from spacy.vocab import Vocab
from weasel.util import load_project_config

from spacy_mtl.annotation import has_cats, has_ents

REPO = Path(__file__).resolve().parent.parent
SHARED_ATIS = REPO.parent / "shared" / "data" / "atis"
# What the `all` workflow reads: the workflow, configs, scripts and the demo corpus.
PROJECT_FILES = ["project.yml", "configs", "scripts", "data/demo", "data/demo_zh"]
METRIC_KEYS = ["cats_acc", "cats_macro_f", "ents_p", "ents_r", "ents_f", "joint_sentence_acc"]
WORKFLOW_ALL = [
    "check-requirements",
    "convert",
    "debug-data",
    "train",
    "train-single",
    "calibrate",
    "evaluate",
    "package",
    "install-check",
]
# Commands that must run every time (no outputs): a check, a server, a clean-up.
ALWAYS_RUN = {"check-requirements", "serve", "clean"}
# The zh workflow packages its pipeline uncalibrated (the demo's Chinese dev corpus is small)
# and leaves out debug-data, which the English workflow runs on the same configs.
WORKFLOW_ZH = ["check-requirements"] + [
    f"{name}-zh" for name in WORKFLOW_ALL[1:] if name not in ("calibrate", "debug-data")
]
REQUIRED_VARS = [
    "lang",
    "config",
    "max_steps",
    "joint_max_steps",
    "eval_frequency",
    "gpu_id",
    "package_name",
    "package_version",
    "atis_dir",
    "snips_dir",
    "seed",
]


def copy_project(target: Path) -> None:
    """Copy the files the project's workflows read into target, as from a clean checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy(source, target / name)


def run_project(project_dir: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """Run `spacy project run` with this interpreter; fail the test with its output on error."""
    command = [sys.executable, "-m", "spacy", "project", "run", *args]
    proc = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited with {proc.returncode}:\n"
            f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def requires_dist(wheel: Path) -> list:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode("utf8")
    return [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]


# Rows of the card's test-score table: key in scores.json -> metric name.
CARD_ROWS = {
    "cats_acc": "intent accuracy",
    "cats_macro_f": "intent macro F",
    "ents_p": "slot precision",
    "ents_r": "slot recall",
    "ents_f": "slot F",
    "joint_sentence_acc": "sentence accuracy",
}


def wheel_card_and_meta(wheel: Path):
    """The README.md inside a pipeline wheel (its model card) and its meta.json."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (readme,) = [n for n in names if n.count("/") == 2 and n.endswith("/README.md")]
        (chart,) = [n for n in names if n.endswith("/scores.png")]
        assert archive.read(chart)[:8] == b"\x89PNG\r\n\x1a\n"
        meta = json.loads(archive.read(readme.replace("README.md", "meta.json")))
        return archive.read(readme).decode("utf8"), meta


def load_project() -> dict:
    """project.yml as weasel reads it: validated, vars filled in."""
    # Loading creates the project's directories: do it in a copy, not in the checkout.
    with make_tempdir() as tmp:
        shutil.copy(REPO / "project.yml", tmp / "project.yml")
        return load_project_config(tmp)


def test_project_config_has_the_workflows_vars_and_extra_assets():
    config = load_project()
    for var in REQUIRED_VARS:
        assert var in config["vars"], var
    assert config["vars"]["config"] == "configs/separate.cfg"
    assert config["vars"]["gpu_id"] == -1
    assert config["workflows"]["all"] == WORKFLOW_ALL
    assert config["workflows"]["zh"] == WORKFLOW_ZH
    commands = {command["name"]: command for command in config["commands"]}
    for steps in config["workflows"].values():
        for step in steps:
            assert step in commands, step
    for name in ("atis", "snips"):
        assert config["workflows"][name] == [f"convert-{name}", f"train-{name}", f"evaluate-{name}"]
    # Outputs let reruns skip finished steps, except for the commands that must always run.
    for name, command in commands.items():
        if name not in ALWAYS_RUN:
            assert command["outputs"], name
            assert command["deps"], name
        elif name != "clean":
            assert not command.get("outputs"), name
    # The demo never needs the benchmarks: every asset is extra, from its public repository.
    sources = {(a["git"]["repo"].rsplit("/", 2)[-2], a["git"]["path"]) for a in config["assets"]}
    assert sources == {
        ("MiuLab", "data/atis"),
        ("MiuLab", "data/snips"),
        ("1053399472", "SMP"),
        ("Adaxry", "CAIS"),
    }
    for asset in config["assets"]:
        assert asset["extra"] is True
        assert asset["git"]["repo"].startswith("https://github.com/")
        assert "licence" in asset["description"] or asset["git"]["path"].startswith("data/")
    demo_deps = [dep for name in WORKFLOW_ALL + WORKFLOW_ZH for dep in commands[name]["deps"]]
    assert not [dep for dep in demo_deps if dep.startswith("assets")]


def test_project_configs_exist():
    config = load_project()
    for command in config["commands"]:
        for dep in command.get("deps", []):
            if dep.startswith("configs/"):
                assert (REPO / dep).is_file(), dep


# Baseline config -> (its head, the joint head it leaves out, the train source and
# path it leaves out, its main score).
SINGLE_CONFIGS = {
    "single_textcat.cfg": ("textcat", "ner", "ents", "train_ents", "cats_score"),
    "single_ner.cfg": ("ner", "textcat", "cats", "train_cats", "ents_f"),
}


@pytest.mark.parametrize("name", sorted(SINGLE_CONFIGS))
def test_single_task_config_is_the_joint_config_minus_one_head(name):
    """The baselines stay comparable: all settings but the other head are separate.cfg's."""
    keep, drop, source, path, score = SINGLE_CONFIGS[name]
    joint = load_config(REPO / "configs" / "separate.cfg", interpolate=False)
    single = load_config(REPO / "configs" / name, interpolate=False)
    assert single["nlp"]["pipeline"] == ["tok2vec", keep]
    assert single["training"]["score_weights"][score] == 1.0
    expected = joint.copy()
    del expected["components"][drop]
    expected["initialize"].get("components", {}).pop(drop, None)
    del expected["corpora"]["train"]["sources"][source]
    del expected["paths"][path]
    # The logger only reports; it does not change what is learned.
    for config in (expected, single):
        del config["nlp"]["pipeline"]
        del config["training"]["score_weights"]
        del config["training"]["logger"]
    assert single == expected


def write_wheel(path: Path, requirements: list) -> Path:
    """A stand-in wheel: only a METADATA with these Requires-Dist lines."""
    lines = ["Metadata-Version: 2.1", "Name: en_x", "Version: 0.0.1"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requirements]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("en_x-0.0.1.dist-info/METADATA", "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "requirements,ok",
    [
        (["spacy<3.9.0,>=3.8.0"], False),
        ([], False),
        (["spacy-mtl-extras>=1.0"], False),
        (["spacy_MTL<0.2.0,>=0.1.0", "spacy<3.9.0,>=3.8.0"], True),
    ],
)
def test_check_wheel_requires_spacy_mtl(requirements, ok):
    with make_tempdir() as tmp:
        wheel = write_wheel(tmp / "en_x-0.0.1-py3-none-any.whl", requirements)
        check = [sys.executable, str(REPO / "scripts" / "check_wheel.py"), str(wheel)]
        proc = subprocess.run(check, capture_output=True, text=True)
        output = " ".join(proc.stdout.split())
        if ok:
            assert proc.returncode == 0, output
        else:
            assert proc.returncode == 1
            assert "does not require spacy-mtl" in output


@pytest.mark.skipif(not SHARED_ATIS.is_dir(), reason=f"no local ATIS copy at {SHARED_ATIS}")
def test_convert_atis_from_a_local_folder():
    with make_tempdir() as tmp:
        shutil.copy(REPO / "project.yml", tmp / "project.yml")
        run_project(tmp, "convert-atis", str(tmp), "--vars.atis_dir", str(SHARED_ATIS), timeout=300)
        for split, n_docs in (("train", 4478), ("dev", 500), ("test", 893)):
            doc_bin = DocBin().from_disk(tmp / "corpus" / "atis" / f"{split}.spacy")
            assert len(doc_bin) == n_docs, split
        docs = list(DocBin().from_disk(tmp / "corpus" / "atis" / "test.spacy").get_docs(Vocab()))
        assert all(has_cats(doc) and has_ents(doc) for doc in docs)


@pytest.mark.slow
def test_project_all_workflow():
    """`spacy project run all` on a copy of the project, with a tiny step budget."""
    if importlib.util.find_spec("build") is None and importlib.util.find_spec("wheel") is None:
        pytest.fail(
            "`spacy package --build wheel` needs the 'build' package: pip install build "
            "(scripts/setup_env.sh should install it)."
        )
    with make_tempdir() as tmp:
        copy_project(tmp)
        proc = run_project(
            tmp,
            "all",
            str(tmp),
            "--vars.max_steps",
            "30",
            "--vars.joint_max_steps",
            "30",
            "--vars.eval_frequency",
            "10",
            # The copy holds no package source: install-check installs spacy-mtl from here.
            "--vars.mtl_source",
            str(REPO),
            # A guard against a hang: the run took over 600 s on a busy 2-core machine.
            timeout=1200,
        )
        # The scores: per task, for the joint model and the single-task pair, as fractions.
        scores = json.loads((tmp / "metrics" / "scores.json").read_text(encoding="utf8"))
        assert scores["n_docs"] == 300
        for system in ("pipeline", "compare"):
            for key in METRIC_KEYS:
                value = scores[system][key]
                assert isinstance(value, float) and 0.0 <= value <= 1.0, (system, key, value)
        output = " ".join(proc.stdout.split())
        assert "sentence accuracy" in output
        chart = tmp / "metrics" / "scores.png"
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        report = (tmp / "metrics" / "report.html").read_text(encoding="utf8")
        # debug-data read the two training sources and the dev set and found no error.
        debug = json.loads((tmp / "metrics" / "debug_data.json").read_text(encoding="utf8"))
        assert debug["errors"] == 0 and len(debug["sources"]) >= 2
        assert 'id="confusion"' in report and 'id="errors"' in report
        # The wheel, which must pull in spacy-mtl when installed.
        wheels = list((tmp / "packages").glob("*/dist/*.whl"))
        assert [wheel.name for wheel in wheels] == ["en_mtl_demo-0.1.0-py3-none-any.whl"]
        requirements = requires_dist(wheels[0])
        assert any(req.lower().startswith("spacy-mtl") for req in requirements), requirements
        # The model card is the wheel's README: per-task test scores from scores.json.
        card, meta = wheel_card_and_meta(wheels[0])
        assert "## Test scores" in card and "## Known limitations" in card
        for key, title in CARD_ROWS.items():
            joint, single = (100 * scores[system][key] for system in ("pipeline", "compare"))
            assert f"| {title} | {joint:.1f} | {single:.1f} |" in card, key
        for label, type_scores in scores["pipeline"]["ents_per_type"].items():
            p, r = 100 * type_scores["p"], 100 * type_scores["r"]
            assert f"| `{label}` | {p:.1f} | {r:.1f} |" in card, label
        assert "| step budget (`training.max_steps`) | 30 |" in card
        assert "Step budgets: joint 30, intents alone 30, slots alone 30." in " ".join(card.split())
        assert "| seed (`system.seed`) | 0 |" in card
        assert "| intents only | `corpus/train_cats.spacy` | 300 |" in card
        assert "licence `CC0-1.0`" in card and "![Per-task test scores" in card
        assert meta["license"] == "MIT" and meta["author"] == "spacy-mtl developers"
        assert meta["sources"][0]["license"] == "CC0-1.0"
        # The wheel holds the calibrated pipeline, and its card says how it was calibrated.
        calibration = json.loads(
            (tmp / "training" / "calibrated" / "calibration.json").read_text(encoding="utf8")
        )
        assert "## Confidence and out-of-scope" in card
        assert f"ECE: {calibration['intents']['ece_before']:.4f} before" in card
        assert scores["models"]["pipeline"] == ["training/calibrated"]
        assert meta["test_performance"]["cats_acc"] == scores["pipeline"]["cats_acc"]
        # install-check: a fresh venv loaded the package and predicted.
        check = json.loads((tmp / "metrics" / "install_check.json").read_text(encoding="utf8"))
        assert "/venv/" in check["spacy_mtl_file"] and str(REPO) not in check["spacy_mtl_file"]
        assert check["factories"] == ["mtl_tok2vec", "mtl_textcat", "mtl_ner"]
        labels = [doc["top_label"] for doc in check["docs"]]
        assert labels and all(labels)
        assert any(f"intent {label} " in output for label in labels)
        assert "installed into a fresh venv and predicted" in output


@pytest.mark.slow
def test_project_zh_workflow_package_loads_and_predicts():
    """The zh workflow up to its wheel, with a tiny step budget; the wheel loads and predicts.

    install-check-zh runs scripts/install_check.py as install-check does (tested above with the
    whole `all` workflow); here the wheel is installed without its dependencies into a folder
    of its own, which is enough to show that zh_mtl_demo loads and tokenizes Chinese.
    """
    with make_tempdir() as tmp:
        copy_project(tmp)
        steps = ["--vars.max_steps", "30", "--vars.joint_max_steps", "30"]
        steps += ["--vars.eval_frequency", "10"]
        for command in WORKFLOW_ZH[:-1]:
            run_project(tmp, command, str(tmp), *steps, timeout=600)
        scores = json.loads((tmp / "metrics" / "zh" / "scores.json").read_text(encoding="utf8"))
        assert scores["n_docs"] == 80
        (wheel,) = (tmp / "packages").glob("*/dist/*.whl")
        assert wheel.name == "zh_mtl_demo-0.1.0-py3-none-any.whl"
        target = tmp / "site"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run([*pip, "--target", str(target), str(wheel)], check=True, timeout=300)
        predict = (
            "import json, spacy; nlp = spacy.load('zh_mtl_demo'); "
            "doc = nlp('明天早上七点叫我起床'); "
            "print(json.dumps({'lang': nlp.lang, 'tokens': [t.text for t in doc], "
            "'cats': doc.cats, 'pipe': nlp.pipe_names}))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", predict],
            capture_output=True,
            text=True,
            cwd=target.parent,
            env={**os.environ, "PYTHONPATH": str(target)},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["lang"] == "zh" and result["pipe"] == ["tok2vec", "textcat", "ner"]
        assert result["tokens"] == list("明天早上七点叫我起床")
        assert len(result["cats"]) == 10
        assert sum(result["cats"].values()) == pytest.approx(1.0, abs=1e-4)


def blocked_modules_env(tmp: Path, *modules: str) -> dict:
    """An environment in which importing these modules fails, as if they were not installed."""
    blocked = tmp / "blocked"
    for module in modules:
        (blocked / module).mkdir(parents=True)
        (blocked / module / "__init__.py").write_text(
            f"raise ImportError('{module} is blocked for this test')\n", encoding="utf8"
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), env.get("PYTHONPATH", "")])
    return env


def test_check_requirements_passes_with_the_test_install():
    check = [sys.executable, str(REPO / "scripts" / "check_requirements.py")]
    proc = subprocess.run(check + ["spacy-mtl", "plot", "build", "venv"], capture_output=True)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_workflow_stops_at_its_first_step_when_a_need_is_missing():
    """Without matplotlib and build, `all` stops in seconds, before converting or training."""
    with make_tempdir() as tmp:
        copy_project(tmp)
        env = blocked_modules_env(tmp, "matplotlib", "build")
        command = [sys.executable, "-m", "spacy", "project", "run", "all", str(tmp)]
        proc = subprocess.run(
            command, cwd=tmp, capture_output=True, text=True, env=env, timeout=300
        )
        output = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0
        assert "2 requirement(s) missing" in output
        assert "pip install 'spacy-mtl[plot]'" in output and "pip install build" in output
        assert not (tmp / "corpus").exists() or not any((tmp / "corpus").iterdir())
        assert not (tmp / "training").exists() or not any((tmp / "training").iterdir())


def test_evaluate_without_matplotlib_warns_and_still_writes_the_scores(served_pipeline):
    import spacy
    from conftest import HELD_OUT, make_examples

    nlp = spacy.load(served_pipeline)
    with make_tempdir() as tmp:
        test = tmp / "test.spacy"
        DocBin(docs=[eg.reference for eg in make_examples(nlp, HELD_OUT)]).to_disk(test)
        command = [sys.executable, "-m", "spacy_mtl", "evaluate", str(served_pipeline), str(test)]
        command += ["--output", str(tmp / "metrics")]
        env = blocked_modules_env(tmp, "matplotlib")
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No scores.png: matplotlib is missing" in proc.stdout
        assert "pip install 'spacy-mtl[plot]'" in proc.stdout
        scores = json.loads((tmp / "metrics" / "scores.json").read_text(encoding="utf8"))
        assert scores["n_docs"] == len(HELD_OUT)
        assert 0.0 <= scores["pipeline"]["cats_acc"] <= 1.0
        assert (tmp / "metrics" / "report.html").is_file()
        assert not (tmp / "metrics" / "scores.png").exists()
