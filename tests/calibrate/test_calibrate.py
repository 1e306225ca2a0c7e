"""Calibrated intents and out-of-scope detection: the fits, the head, and the calibrate command."""

import json
import signal
import subprocess
import sys
import time
import typing
import warnings

import numpy
import pytest
import spacy
from conftest import HELD_OUT, INTENTS, SENTENCES, build_nlp, make_examples
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_mtl.__main__ import main
from spacy_mtl.atomic import lock_path, output_lock
from spacy_mtl.calibrate.fitting import fit_intent_calibration
from spacy_mtl.calibrate.metrics import auroc, exclusive_ece, multilabel_ece
from spacy_mtl.calibrate.out_of_scope import DEFAULT_SCORE, choose_threshold
from spacy_mtl.calibrate.scaling import choose_scaling, fit_scaling
from spacy_mtl.pipeline.intent_confidence import SCORES, STATE_ATTR, activate

# Off-topic sentences written for these tests: no flight, weather or music in them.
OFF_TOPIC = [
    "what is the capital of peru",
    "tell me a joke about cats",
    "how many grams in a pound",
    "reset my router password",
    "who wrote the odyssey",
    "translate hello into german",
]


def overconfident(n: int, n_labels: int, seed: int):
    """Logits of a model four times too sure of itself, and labels drawn from the true odds."""
    rng = numpy.random.default_rng(seed)
    true_logits = rng.normal(0.0, 1.5, size=(n, n_labels))
    probs = activate(true_logits, True)
    gold = numpy.array([rng.choice(n_labels, p=p / p.sum()) for p in probs])
    return 4.0 * true_logits, gold


@pytest.mark.parametrize("method", ["temperature", "vector"])
def test_scaling_lowers_the_ece_of_an_overconfident_model_on_held_out_data(method):
    logits, gold = overconfident(4000, 5, seed=0)
    targets = numpy.eye(5, dtype="f")[gold]
    fitted = fit_scaling(
        logits[:2000], targets[:2000], numpy.ones_like(targets[:2000]), True, method
    )
    before = exclusive_ece(activate(logits[2000:], True), gold[2000:])
    after = exclusive_ece(activate(fitted.calibrated_logits(logits[2000:]), True), gold[2000:])
    assert before > 0.1 and after < before / 3, (before, after)
    if method == "temperature":
        assert fitted.temperature == pytest.approx(4.0, rel=0.15)


def test_a_calibrated_model_mostly_keeps_its_own_probabilities():
    # Labels drawn from the model's own odds: a fitted temperature only adds the noise of
    # fitting it (the dev ECE of a SNIPS pipeline rose), so two-fold CV keeps "none" more
    # often than not (6 of these 10 dev sets; 14 of 20); a model twice too sure never.
    kept = 0
    for seed in range(10):
        logits, gold = overconfident(1500, 5, seed=seed)
        logits = logits / 4.0
        targets = numpy.eye(5, dtype="f")[gold]
        chosen, cv = choose_scaling(logits, targets, numpy.ones_like(targets), True)
        assert set(cv) == {"none", "temperature", "vector"}
        if chosen.method == "none":
            kept += 1
            assert cv["none"] == min(cv.values())
            assert (chosen.calibrated_logits(logits) == logits.astype("f")).all()
        over, _ = choose_scaling(2.0 * logits, targets, numpy.ones_like(targets), True)
        assert over.method != "none" and over.temperature > 1.5
    assert kept >= 5


def test_multilabel_scaling_lowers_the_ece():
    rng = numpy.random.default_rng(1)
    true_logits = rng.normal(0.0, 2.0, size=(3000, 4))
    targets = (rng.random((3000, 4)) < 1 / (1 + numpy.exp(-true_logits))).astype("f")
    mask = numpy.ones_like(targets)
    logits = 3.0 * true_logits
    chosen, cv = choose_scaling(logits[:1500], targets[:1500], mask[:1500], False)
    assert set(cv) == {"none", "temperature", "per_label"}
    assert chosen.method != "none"
    before = multilabel_ece(activate(logits[1500:], False), targets[1500:], mask[1500:])
    after = multilabel_ece(
        activate(chosen.calibrated_logits(logits[1500:]), False), targets[1500:], mask[1500:]
    )
    assert after < before / 3, (before, after)


def test_auroc_equals_counting_pairs():
    rng = numpy.random.default_rng(2)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert auroc(pos, neg) == pytest.approx(sum(pairs) / len(pairs))


def test_thresholds_meet_their_targets():
    rng = numpy.random.default_rng(3)
    in_scope, oos = rng.normal(2.0, 1.0, 1000), rng.normal(0.0, 1.0, 200)
    threshold, why = choose_threshold(in_scope, numpy.array([]), 0.9, None)
    assert (in_scope >= threshold).mean() >= 0.9 > (in_scope >= threshold).mean() - 0.01
    assert "in-scope recall 0.90" in why
    threshold, why = choose_threshold(in_scope, oos, 0.95, None)

    # Best F1 against a brute-force scan of thresholds.
    def f1(t):
        tp, fp = (oos < t).sum(), (in_scope < t).sum()
        return 2 * tp / (2 * tp + fp + (len(oos) - tp))

    best = max(f1(t) for t in numpy.linspace(-3, 5, 2001))
    assert f1(threshold) >= best - 1e-9 and "F1" in why
    threshold, why = choose_threshold(in_scope, oos, 0.95, 0.9)
    flagged = numpy.concatenate([in_scope, oos]) < threshold
    assert (oos < threshold).sum() / flagged.sum() >= 0.9 and "precision" in why


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny pipeline on disk and a dev corpus with categories, one without."""
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(20):
        nlp.update(examples, sgd=optimizer)
    folder = tmp_path_factory.mktemp("calibrate")
    nlp.to_disk(folder / "pipeline")
    dev = [eg.reference for eg in make_examples(nlp, HELD_OUT + SENTENCES[::3])]
    DocBin(docs=dev).to_disk(folder / "dev.spacy")
    no_cats = [eg.reference for eg in make_examples(nlp, HELD_OUT, cats=False)]
    DocBin(docs=no_cats).to_disk(folder / "no_cats.spacy")
    return folder


def test_an_uncalibrated_pipeline_predicts_as_before(trained):
    nlp = spacy.load(trained / "pipeline")
    textcat = nlp.get_pipe("mtl_textcat")
    assert textcat.cfg["calibration"] is None
    texts = [text for text, _, _ in HELD_OUT]
    docs = list(nlp.pipe(texts))
    expected = textcat.model.ops.softmax(textcat.model.predict(docs), axis=-1)
    for doc, row in zip(docs, textcat.model.ops.to_numpy(expected)):
        assert list(doc.cats.values()) == [float(x) for x in row]
        assert doc._.get(STATE_ATTR) is None and not doc._.out_of_scope
        assert doc._.intent == max(doc.cats, key=doc.cats.get)
        assert doc._.intent_confidence == max(doc.cats.values())


def test_the_calibration_survives_to_bytes_to_disk_and_two_processes(trained, tmp_path):
    nlp = spacy.load(trained / "pipeline")
    dev = list(DocBin().from_disk(trained / "dev.spacy").get_docs(nlp.vocab))
    report = fit_intent_calibration(nlp, "mtl_textcat", dev, target_recall=0.8)
    calibration = nlp.get_pipe("mtl_textcat").cfg["calibration"]
    assert report["calibration"]["method"] in ("none", "temperature", "vector")
    texts = [text for text, _, _ in HELD_OUT] + OFF_TOPIC
    want = [(d.cats, d._.intent, d._.intent_confidence, d._.out_of_scope) for d in nlp.pipe(texts)]
    assert any(w[3] for w in want), "a threshold for 80% in-scope recall rejects something"
    nlp.to_disk(tmp_path / "calibrated")
    copies = [spacy.load(tmp_path / "calibrated"), spacy.load(trained / "pipeline")]
    copies[1].from_bytes(nlp.to_bytes())
    for copy in copies:
        assert copy.get_pipe("mtl_textcat").cfg["calibration"] == calibration
        got = [
            (d.cats, d._.intent, d._.intent_confidence, d._.out_of_scope) for d in copy.pipe(texts)
        ]
        assert got == want
    got = [
        (d.cats, d._.intent, d._.intent_confidence, d._.out_of_scope)
        for d in copies[0].pipe(texts, n_process=2, batch_size=4)
    ]
    assert got == want


def test_an_out_of_scope_training_label_is_never_a_class():
    nlp = build_nlp(out_of_scope_label="oos")
    examples = make_examples(nlp, SENTENCES)
    oos = [Example.from_dict(nlp.make_doc(t), {"cats": {"oos": 1.0}}) for t in OFF_TOPIC]
    optimizer = nlp.initialize(lambda: examples + oos)
    textcat = nlp.get_pipe("mtl_textcat")
    assert list(textcat.labels) == INTENTS
    for _ in range(25):
        nlp.update(examples + oos, sgd=optimizer)
    assert all(set(doc.cats) == set(INTENTS) for doc in nlp.pipe(OFF_TOPIC))
    # Out-of-scope documents learn low confidence: the top probability is lower on them.
    top = {
        name: numpy.mean([max(d.cats.values()) for d in nlp.pipe(t for t, *_ in rows)])
        for name, rows in (("in", SENTENCES), ("oos", [(t,) for t in OFF_TOPIC]))
    }
    assert top["oos"] < top["in"] - 0.2, top
    # Scoring leaves them out: the same scores with and without them.
    held = make_examples(nlp, HELD_OUT)
    for eg in held + oos:
        eg.predicted = nlp(eg.predicted.text)
    with_oos, without = textcat.score(held + oos), textcat.score(held)
    assert with_oos["cats_acc"] == without["cats_acc"] and "oos" not in without["cats_f_per_type"]
    assert with_oos["cats_f_per_type"] == without["cats_f_per_type"]


def run(capsys, *args):
    status = main(["calibrate", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_writes_a_calibrated_pipeline_and_its_report(trained, tmp_path, capsys):
    out = tmp_path / "out"
    status, stdout, err = run(
        capsys, trained / "pipeline", trained / "dev.spacy", "--output", out, "--score", "max_prob"
    )
    assert status == 0, err
    assert "ECE:" in stdout and "threshold" in stdout and "max_prob" in stdout
    report = json.loads((out / "calibration.json").read_text())
    assert report["intents"]["calibration"]["score"] == "max_prob"
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*partial*"))
    doc = spacy.load(out)("the cosine of a banana")
    assert 0.0 <= doc._.intent_confidence <= 1.0 and isinstance(doc._.out_of_scope, bool)
    # The output exists now: refused without --overwrite, replaced with it.
    status, _, err = run(capsys, trained / "pipeline", trained / "dev.spacy", "--output", out)
    assert status == 1 and "--overwrite" in err
    status, _, err = run(
        capsys, trained / "pipeline", trained / "dev.spacy", "--output", out, "--overwrite"
    )
    assert status == 0, err
    calibration = json.loads((out / "calibration.json").read_text())["intents"]["calibration"]
    assert calibration["score"] == DEFAULT_SCORE  # no out-of-scope dev data: the benchmark's best
    doc = spacy.load(out)("the cosine of a banana")
    assert 0.0 <= doc._.intent_confidence <= 1.0


def test_bad_input_gets_one_clear_message(trained, tmp_path, capsys):
    pipeline, dev = trained / "pipeline", trained / "dev.spacy"
    blank = tmp_path / "blank"
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(blank)
    chinese = tmp_path / "zh.spacy"
    DocBin(docs=[nlp.make_doc("我想订一张去北京的机票")]).to_disk(chinese)
    (tmp_path / "empty.spacy").write_bytes(b"")
    cases = [
        ((pipeline, trained / "no_cats.spacy"), "none of its 6 documents has categories"),
        ((blank, dev), "has no mtl_textcat"),
        ((tmp_path / "missing", dev), "Cannot load the pipeline"),
        ((pipeline, chinese), "Chinese, Japanese or Korean"),
        ((pipeline, tmp_path / "empty.spacy"), "empty.spacy"),
    ]
    for (pipe, corpus), message in cases:
        status, _, err = run(capsys, pipe, corpus, "--output", tmp_path / "out")
        assert status == 1 and message in err and "Traceback" not in err, (message, err)
        assert not (tmp_path / "out").exists()
    # A DEV that does not exist is a usage error (Typer's), naming the argument.
    status, _, err = run(capsys, pipeline, tmp_path / "nope.spacy", "--output", tmp_path / "out")
    assert status == 2 and "DEV" in err and "nope.spacy" in err, err
    status, _, err = run(capsys, pipeline, dev, "--output", pipeline)
    assert status == 1 and "is the input" in err
    status, _, err = run(capsys, pipeline, dev, "--output", pipeline / "inside")
    assert status == 1 and "lies inside the input" in err
    status, _, err = run(capsys, pipeline, dev, "--output", "/proc/calibrated")
    assert status == 1 and "cannot be written" in err, err
    (tmp_path / "file").write_text("x")
    status, _, err = run(capsys, pipeline, dev, "--output", tmp_path / "file" / "out")
    assert status == 1 and "cannot be written" in err, err


def test_dev_intents_the_pipeline_does_not_know_are_left_out_and_named(trained, tmp_path, capsys):
    # ATIS's valid split has one such document (atis_airfare#atis_flight_time): the command
    # must work on it, and say what it left out.
    nlp = spacy.load(trained / "pipeline")
    dev = list(DocBin().from_disk(trained / "dev.spacy").get_docs(nlp.vocab))
    unknown = nlp.make_doc("book a table for two")
    unknown.cats = {**{label: 0.0 for label in INTENTS}, "restaurant": 1.0}
    DocBin(docs=dev + [unknown]).to_disk(tmp_path / "mixed.spacy")
    status, stdout, err = run(
        capsys, trained / "pipeline", tmp_path / "mixed.spacy", "--output", tmp_path / "out"
    )
    assert status == 0, err
    assert f"{len(dev)} in-scope" in stdout
    assert "1 left out, their intents unknown to the pipeline: restaurant (1)" in stdout
    report = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert report["intents"]["unseen_labels"] == {"restaurant": 1}
    DocBin(docs=[unknown]).to_disk(tmp_path / "only.spacy")
    status, _, err = run(
        capsys, trained / "pipeline", tmp_path / "only.spacy", "--output", tmp_path / "out2"
    )
    assert status == 1 and "restaurant" in err and "--out-of-scope-label" in err, err
    assert not (tmp_path / "out2").exists()


def test_a_multilabel_head_is_calibrated_per_label_or_shared():
    nlp = build_nlp(exclusive_classes=False)
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    dev = [eg.reference for eg in make_examples(nlp, HELD_OUT + SENTENCES[::2])]
    report = fit_intent_calibration(nlp, "mtl_textcat", dev, target_recall=0.9, score="max_prob")
    calibration = nlp.get_pipe("mtl_textcat").cfg["calibration"]
    assert calibration["method"] in ("none", "temperature", "per_label")
    assert 0.0 <= report["ece_after"] <= 1.0 and report["n_in_scope"] == len(dev)
    doc = nlp("play something by adele")
    # Sigmoids: calibrated, not normalised; the confidence is the top one.
    assert set(doc.cats) == set(INTENTS)
    assert doc._.intent_confidence == pytest.approx(max(doc.cats.values()), abs=1e-6)
    copy = build_nlp(exclusive_classes=False)
    copy.initialize(lambda: examples)
    copy.from_bytes(nlp.to_bytes())
    assert copy("play something by adele").cats == doc.cats


def test_too_few_dev_documents_are_refused_naming_the_file_and_the_count(trained, tmp_path, capsys):
    # One document made NaN of the cross-validated NLL, numpy warnings, then a JSON error.
    nlp = spacy.load(trained / "pipeline")
    dev = list(DocBin().from_disk(trained / "dev.spacy").get_docs(nlp.vocab))
    for n in (1, 2, 9):
        corpus = tmp_path / f"dev{n}.spacy"
        DocBin(docs=dev[:n]).to_disk(corpus)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, _, err = run(capsys, trained / "pipeline", corpus, "--output", tmp_path / "out")
        assert status == 1 and "Traceback" not in err
        assert f"{corpus}: {n} of its {n} documents" in err and "at least 10" in err, err
        assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out*"))


def _dev_without_gold_entities(nlp, path, *, annotated: bool):
    rows = [(text, intent, []) for text, intent, _ in HELD_OUT + SENTENCES[::3]]
    docs = [eg.reference for eg in make_examples(nlp, rows, entities=annotated)]
    DocBin(docs=docs).to_disk(path)


@pytest.mark.parametrize("annotated", [True, False])
def test_entity_calibration_without_gold_entities_is_skipped_with_a_note(
    trained, tmp_path, capsys, annotated
):
    # Entities annotated as none: Platt scaling fitted on zero right spans made every entity
    # confidence 1e-9. Not annotated: the entities were skipped without a word.
    nlp = spacy.load(trained / "pipeline")
    _dev_without_gold_entities(nlp, tmp_path / "dev.spacy", annotated=annotated)
    out = tmp_path / "out"
    status, stdout, err = run(capsys, trained / "pipeline", tmp_path / "dev.spacy", "-o", out)
    assert status == 0, err
    note = next(line for line in stdout.splitlines() if line.startswith("note: mtl_ner"))
    if annotated:
        assert "0 right and" in note and "at least 5 of each" in note, note
        assert "they hold no gold entity" in note
    else:
        assert "None of the 12 dev documents annotates entities" in note, note
    assert "uncalibrated" in note
    report = json.loads((out / "calibration.json").read_text())
    assert "entities" not in report and report["entities_skipped"] in note
    calibrated = spacy.load(out)
    assert calibrated.get_pipe("mtl_ner").calibration is None
    confidences = [e._.confidence for e in calibrated("fly from oslo to lima tomorrow").ents]
    raw = [e._.confidence for e in nlp("fly from oslo to lima tomorrow").ents]
    assert confidences == raw


def test_a_second_run_on_the_same_output_is_refused_before_any_work(trained, tmp_path, capsys):
    out = tmp_path / "out"
    with output_lock(out, "calibrate"):
        status, _, err = run(capsys, trained / "pipeline", trained / "dev.spacy", "-o", out)
    assert status == 1 and "another calibrate run (pid" in err, err
    assert not out.exists()


def test_the_out_of_scope_label_must_mark_dev_documents_and_not_be_a_class(
    trained, tmp_path, capsys
):
    pipeline, dev, out = trained / "pipeline", trained / "dev.spacy", tmp_path / "out"
    status, _, err = run(capsys, pipeline, dev, "-o", out, "--out-of-scope-label", "nosuch")
    assert status == 1 and "--out-of-scope-label nosuch" in err, err
    assert f"no document of {dev} has the category 'nosuch'" in err
    assert "marks out-of-scope dev documents" in err
    status, _, err = run(capsys, pipeline, dev, "-o", out, "--out-of-scope-label", "weather")
    assert status == 1 and "'weather' is one of the classes mtl_textcat was trained on" in err
    assert not out.exists()
    # A label that marks dev documents and is no class: they are the out-of-scope ones.
    nlp = spacy.load(pipeline)
    docs = list(DocBin().from_disk(dev).get_docs(nlp.vocab))
    for text in OFF_TOPIC:
        doc = nlp.make_doc(text)
        doc.cats = {"oos": 1.0}
        docs.append(doc)
    DocBin(docs=docs).to_disk(tmp_path / "with_oos.spacy")
    status, stdout, err = run(
        capsys, pipeline, tmp_path / "with_oos.spacy", "-o", out, "--out-of-scope-label", "oos"
    )
    assert status == 0, err
    assert f"{len(OFF_TOPIC)} out-of-scope dev documents" in stdout


def test_outputs_inside_a_pipeline_or_holding_an_input_are_refused(trained, tmp_path, capsys):
    pipeline, dev = trained / "pipeline", trained / "dev.spacy"
    other = tmp_path / "other"
    spacy.blank("en").to_disk(other)
    for out, message in (
        (other / "calibrated", f"lies inside the pipeline folder {other}"),
        (trained, "would hold the input"),
    ):
        status, _, err = run(capsys, pipeline, dev, "-o", out, "--overwrite")
        assert status == 1 and message in err, err
    assert not (other / "calibrated").exists() and sorted(p.name for p in other.iterdir()) == [
        "config.cfg",
        "meta.json",
        "tokenizer",
        "vocab",
    ]


def test_an_interrupted_run_leaves_no_output_and_the_old_one_as_it_was(
    trained, tmp_path, capsys, monkeypatch
):
    import spacy_mtl.calibrate.report as report_module

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("before")

    def interrupted(folder, report):
        assert (folder / "config.cfg").exists()  # halfway through writing the pipeline
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "write_report", interrupted)
    status, _, err = run(
        capsys, trained / "pipeline", trained / "dev.spacy", "-o", out, "--overwrite"
    )
    assert status == 130 and "interrupted" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial folder, no lock
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_sigint_leaves_no_output(trained, tmp_path):
    # A real Ctrl-C, while the run holds its lock: exit 130, one line, nothing left behind.
    out = tmp_path / "out"
    command = [sys.executable, "-m", "spacy_mtl", "calibrate", str(trained / "pipeline")]
    process = subprocess.Popen(
        [*command, str(trained / "dev.spacy"), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not lock_path(out).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert stderr.strip() == "interrupted; no output was written (an existing one is as it was)."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e308, -1.0])
def test_a_category_that_is_no_share_is_refused_naming_the_document(
    trained, tmp_path, capsys, value
):
    # NaN read as 0.0: a multi-label head was calibrated on a target nobody gave.
    nlp = spacy.load(trained / "pipeline")
    docs = list(DocBin().from_disk(trained / "dev.spacy").get_docs(nlp.vocab))
    bad = nlp.make_doc("play jazz now")
    bad.cats = {"flight": value, "music": 1.0, "weather": 0.0}
    DocBin(docs=docs + [bad]).to_disk(tmp_path / "bad.spacy")
    status, _, err = run(capsys, trained / "pipeline", tmp_path / "bad.spacy", "-o", tmp_path / "o")
    assert status == 1 and "Traceback" not in err
    # read_gold refuses what is no number (NaN, inf) first; calibrate what lies outside 0..1.
    assert f"document {len(docs)} ('play jazz now')" in err and f"'flight' is {value!r}" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "options,named",
    [
        (["--target-recall", "0"], "--target-recall"),
        (["--target-recall", "1.5"], "--target-recall"),
        (["--target-recall", "nan"], "--target-recall"),
        (["--target-recall", "most"], "--target-recall"),
        (["--target-precision", "0"], "--target-precision"),
        (["--target-precision", "-0.5"], "--target-precision"),
        (["--score", "softmax"], "--score"),
        (["--train", "nope.spacy"], "--train"),
        (["--overwrite"], "--output"),  # --output is required
    ],
)
def test_usage_errors_exit_2_naming_the_option_before_any_work(tmp_path, capsys, options, named):
    (tmp_path / "dev.spacy").write_bytes(b"")
    args = [tmp_path / "missing", tmp_path / "dev.spacy", *options]
    if named != "--output":
        args += ["-o", tmp_path / "out"]
    status, stdout, err = run(capsys, *args)
    assert status == 2 and named in err and "Traceback" not in err, err
    assert not stdout and not (tmp_path / "out").exists()


def test_help_lists_the_options_and_the_scores():
    from spacy_mtl.cli.calibrate import Score

    assert typing.get_args(Score) == ("auto", *SCORES)
    command = [sys.executable, "-m", "spacy", "mtl", "calibrate", "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in (
        "PIPELINE",
        "DEV",
        "--output",
        "-o",
        "--target-recall",
        "--target-precision",
        "--out-of-scope-label",
        "--score",
        "--train",
        "--overwrite",
        "mahalanobis",
        "0.95",
    ):
        assert option in result.stdout, option
