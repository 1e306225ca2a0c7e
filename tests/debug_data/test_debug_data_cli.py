"""`python -m spacy mtl debug data CONFIG [overrides]` on configs/separate.cfg: the corpora read
as spacy train reads them (the in-memory and the streaming multi-task reader), the exit
status, --verbose after the overrides, the JSON output, and one message for a bad config."""

import json
import subprocess
import sys

import pytest
import spacy
from conftest import HELD_OUT, REPO, SENTENCES, make_examples
from spacy.tokens import DocBin

from spacy_mtl.__main__ import main

CONFIG = REPO / "configs" / "separate.cfg"
DEBUG_DATA = ["debug", "data"]
STREAMING = ["--corpora.train.@readers", "spacy_mtl.StreamingMultiTaskCorpus.v1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    nlp = spacy.blank("en")
    folder = tmp_path_factory.mktemp("debug_data")
    files = {
        "cats": make_examples(nlp, SENTENCES, entities=False),
        "ents": make_examples(nlp, SENTENCES, cats=False),
        "dev": make_examples(nlp, HELD_OUT),
    }
    unseen = nlp.make_doc("wake me up at seven")
    unseen.cats = {"alarm": 1.0, "flight": 0.0, "music": 0.0, "weather": 0.0}
    files["dev_unseen"] = files["dev"] + [type(files["dev"][0])(nlp.make_doc(unseen.text), unseen)]
    for name, examples in files.items():
        DocBin(docs=[eg.reference for eg in examples]).to_disk(folder / f"{name}.spacy")
    return folder


def overrides(folder, dev="dev"):
    return [
        "--paths.train_cats",
        str(folder / "cats.spacy"),
        "--paths.train_ents",
        str(folder / "ents.spacy"),
        "--paths.dev",
        str(folder / f"{dev}.spacy"),
    ]


@pytest.mark.parametrize("reader", ["in-memory", "streaming"])
def test_a_clean_corpus_exits_0_and_writes_json(reader, corpus, tmp_path, capsys):
    extra = STREAMING if reader == "streaming" else []
    output = tmp_path / "debug.json"
    args = [*DEBUG_DATA, str(CONFIG), "--rare", "1", *overrides(corpus), *extra]
    assert main(args + ["--output", str(output)]) == 0
    result = json.loads(output.read_text(encoding="utf8"))
    sources = {(s["corpus"], s["source"]): s for s in result["sources"]}
    assert set(sources) == {("train", "cats"), ("train", "ents"), ("dev", "dev")}
    assert (
        sources["train", "cats"]["cats"] == len(SENTENCES) and sources["train", "cats"]["ents"] == 0
    )
    assert sources["train", "ents"]["ents"] == len(SENTENCES)
    assert result["errors"] == 0
    assert [f for f in result["findings"] if f["level"] != "info"] == []
    assert "No errors." in capsys.readouterr().out


def test_an_unseen_dev_intent_exits_1_and_verbose_after_the_overrides_lists_it(corpus, capsys):
    args = [*DEBUG_DATA, str(CONFIG), *overrides(corpus, "dev_unseen"), "--verbose"]
    assert main(args) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "1 dev intents never occur in training: alarm (1)" in out
    assert "dev/dev #6: 'wake me up at seven'" in out


def test_a_bad_config_gets_one_message(capsys):
    assert main([*DEBUG_DATA, str(CONFIG), "--paths.train_cats", "nowhere.spacy"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("debug data failed:") and "Traceback" not in err


def test_a_missing_config_is_a_usage_error(tmp_path, capsys):
    assert main([*DEBUG_DATA, str(tmp_path / "missing.cfg")]) == 2
    err = capsys.readouterr().err
    assert "CONFIG" in err and "missing.cfg" in err and "Traceback" not in err
    assert main(DEBUG_DATA) == 2
    assert "CONFIG" in capsys.readouterr().err


def test_spacy_mtl_debug_data_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "debug", "data", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["CONFIG", "--verbose", "-V", "--output", "-o", "--rare"]:
        assert option in shown
    assert "[default: 20; x>=0]" in " ".join(shown.split())


@pytest.mark.parametrize(
    "content",
    [b'version: "3.1"\nnlu:\n- intent: greet\n', b"\xff\xfe[nlp]\nlang = en\n", b""],
    ids=["yaml", "not-utf8", "empty"],
)
def test_a_file_that_is_no_config_is_named(content, tmp_path, capsys):
    """A Rasa YAML file, bytes that are not UTF-8, an empty file: one line naming the file."""
    path = tmp_path / "nlu.yml"
    path.write_bytes(content)
    assert main([*DEBUG_DATA, str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"debug data failed: {path}: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2, err


CNN = REPO / "configs" / "cnn.cfg"


def _refused(args, capsys) -> str:
    assert main([*DEBUG_DATA, *map(str, args)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("debug data failed: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("reader", ["spacy.Corpus", "in-memory", "streaming"])
def test_an_output_that_is_a_corpus_the_config_reads_is_refused_before_any_work(
    reader, corpus, tmp_path, capsys
):
    """Before, --output over the dev corpus (or a source) wrote the JSON report over it."""
    dev = tmp_path / "dev_copy.spacy"
    dev.write_bytes((corpus / "dev.spacy").read_bytes())
    before = dev.read_bytes()
    if reader == "spacy.Corpus":
        args = [CNN, "--paths.train", corpus / "cats.spacy", "--paths.dev", dev]
        targets = [dev, corpus / "cats.spacy"]
    else:
        args = [CONFIG, *overrides(corpus)[:4], "--paths.dev", dev]
        args += STREAMING if reader == "streaming" else []
        targets = [dev, corpus / "ents.spacy", corpus / "cats.spacy"]
    for target in targets:
        err = _refused([*args, "--output", target], capsys)
        assert f"--output {target}: is the input" in err
    assert dev.read_bytes() == before
    assert _refused([*args, "--output", args[0]], capsys).startswith(
        f"debug data failed: --output {args[0]}: is the input"
    )


def test_an_output_inside_a_pipeline_folder_is_refused(corpus, tmp_path, capsys):
    pipeline = tmp_path / "pipeline"
    spacy.blank("en").to_disk(pipeline)
    output = pipeline / "report.json"
    err = _refused([CONFIG, *overrides(corpus), "--output", output], capsys)
    assert "lies inside the pipeline folder" in err and not output.exists()


def test_a_corpus_source_in_a_folder_is_an_input_too(corpus, tmp_path, capsys):
    folder = tmp_path / "cats"
    folder.mkdir()
    (folder / "part.spacy").write_bytes((corpus / "cats.spacy").read_bytes())
    args = [CONFIG, *overrides(corpus), "--paths.train_cats", folder]
    err = _refused([*args, "--output", folder / "part.spacy"], capsys)
    assert "is the input" in err and (folder / "part.spacy").read_bytes()[:1] != b"{"


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.9])
def test_a_truncated_corpus_is_named_not_the_config(keep, corpus, tmp_path, capsys):
    data = (corpus / "ents.spacy").read_bytes()
    truncated = tmp_path / "ents.spacy"
    truncated.write_bytes(data[: int(len(data) * keep)])
    args = [CONFIG, *overrides(corpus), "--paths.train_ents", truncated]
    err = _refused(args, capsys)
    assert err.startswith(f"debug data failed: {truncated}: not a readable DocBin"), err


@pytest.mark.parametrize("rare", ["-1", "-100000000000000000000", "many"])
def test_a_rare_below_0_or_no_number_is_a_usage_error(rare, corpus, capsys):
    assert main([*DEBUG_DATA, str(CONFIG), *overrides(corpus), "--rare", rare]) == 2
    err = capsys.readouterr().err
    assert "'--rare'" in err and "Traceback" not in err


@pytest.mark.parametrize("rare", ["0", str(10**20)])
def test_rare_at_its_extremes_reports_none_or_every_label(rare, corpus, capsys):
    assert main([*DEBUG_DATA, str(CONFIG), *overrides(corpus), "--rare", rare]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("have fewer than" in out) == (rare != "0")


def test_no_positive_category_in_a_file_exits_1_naming_the_file_and_documents(
    corpus, tmp_path, capsys
):
    nlp = spacy.blank("en")
    docs = [eg.reference for eg in make_examples(nlp, SENTENCES, entities=False)]
    docs[2].cats = {label: 0.0 for label in docs[2].cats}
    docs[5].cats = {label: float("nan") for label in docs[5].cats}
    path = tmp_path / "cats.spacy"
    DocBin(docs=docs).to_disk(path)
    args = [CONFIG, *overrides(corpus), "--paths.train_cats", path]
    assert main([*DEBUG_DATA, *map(str, args)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"train/cats ({path}) documents 2, 5" in out


def test_a_stray_argument_among_the_overrides_is_named(corpus, capsys):
    assert main([*DEBUG_DATA, str(CONFIG), *overrides(corpus), "stray"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("debug data failed: bad config overrides") and "'stray'" in err


def test_the_own_options_may_come_before_or_after_the_overrides(corpus, tmp_path, capsys):
    output = tmp_path / "debug.json"
    args = [*DEBUG_DATA, str(CONFIG), "-V", *overrides(corpus), "--rare", "1", "-o", str(output)]
    assert main(args) == 0 and json.loads(output.read_text(encoding="utf8"))["rare_below"] == 1
