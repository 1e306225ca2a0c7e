"""`python -m spacy_mtl evaluate`: the heads' own scores, the same numbers everywhere, the
comparison, the confidence part, a clear message for each bad input, and report.html in a
real browser (headless Chromium through selenium, as the serve page test does: it opens from
a file, the confusion matrix shows, the error filters work; the screenshot is kept as
test-artifacts/evaluate_report.png, beside the serve page's)."""
# The fixtures come from evaluate_fixtures (a second conftest.py would shadow the root one).
# ruff: noqa: F811

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
import pytest
import spacy
from conftest import build_nlp, nan_weights
from evaluate_fixtures import SCRIPT_TEXT, gold_corpus, gold_docs, report_dir  # noqa: F401
from spacy.attrs import ENT_IOB, ENT_TYPE
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.evaluate.confidence import calibration, confidence_scores
from spacy_mtl.evaluate.run import evaluate
from spacy_mtl.evaluate.tables import SUMMARY, pct

# Where the page's screenshot is kept for a person to look at (as the serve page test does).
ARTIFACTS = Path(
    os.environ.get("SPACY_MTL_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


def predicted_examples(nlp, refs):
    words = [
        Doc(nlp.vocab, words=[t.text for t in r], spaces=[bool(t.whitespace_) for t in r])
        for r in refs
    ]
    return [Example(nlp(doc), ref) for doc, ref in zip(words, refs)]


def test_scores_equal_the_task_scorers_on_a_mixed_corpus(served_pipeline, gold_corpus):
    result, errors, _ = evaluate(str(served_pipeline), gold_corpus)
    nlp = spacy.load(served_pipeline)
    refs = list(DocBin().from_disk(gold_corpus).get_docs(nlp.vocab))
    examples = predicted_examples(nlp, refs)
    expected = {
        **nlp.get_pipe("mtl_textcat").score(examples),
        **nlp.get_pipe("mtl_ner").score(examples),
    }
    scores = result["pipeline"]
    for key in (
        "cats_acc",
        "cats_macro_f",
        "cats_micro_f",
        "cats_f_per_type",
        "ents_p",
        "ents_r",
        "ents_f",
        "ents_per_type",
        "joint_sentence_acc",
        "cats_n_docs",
        "ents_n_docs",
    ):
        assert scores[key] == expected[key], key
    # Documents without cats are not scored for intents; partial entities only where annotated.
    with_cats = [eg for eg in examples if has_cats(eg.reference)]
    assert scores["cats_n_docs"] == len(with_cats) < len(refs)
    right = sum(
        max(eg.predicted.cats, key=eg.predicted.cats.get)
        == max(eg.reference.cats, key=eg.reference.cats.get)
        for eg in with_cats
    )
    assert scores["cats_acc"] == right / len(with_cats)
    spacy_ner = get_ner_prf([eg for eg in examples if has_ents(eg.reference)])
    assert scores["ents_f"] == spacy_ner["ents_f"]
    assert result["n_docs"] == len(refs) and result["n_docs_ents"] == scores["ents_n_docs"]
    # The markup sentence's gold intent (music) is wrong for the pipeline: it is an error.
    assert any(e["text"] == SCRIPT_TEXT and e["intent_wrong"] for e in errors)
    assert scores["n_error_docs"] == len(errors) > 0


def test_the_same_numbers_in_the_terminal_the_json_and_the_page(report_dir):
    out, stdout = report_dir
    scores = json.loads((out / "scores.json").read_text(encoding="utf8"))
    page = (out / "report.html").read_text(encoding="utf8")
    lines = stdout.splitlines()
    shown = 0
    for key, title in SUMMARY:
        value = scores["pipeline"].get(key)
        if value is None:
            continue
        shown += 1
        assert any(
            re.match(rf"^{re.escape(title)}\s+{re.escape(pct(value))}$", line) for line in lines
        ), key
        assert f"<td>{title}</td><td>{pct(value)}</td>" in page, key
    assert shown >= 8
    for label, s in scores["pipeline"]["ents_per_type"].items():
        assert (
            f"<td>{label}</td><td>{pct(s['p'])}</td><td>{pct(s['r'])}</td><td>{pct(s['f'])}</td>"
            in page
        )
        assert re.search(
            rf"^{label}\s+{pct(s['p'])}\s+{pct(s['r'])}\s+{pct(s['f'])}\s", stdout, re.M
        )
    assert (out / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_the_page_escapes_every_text(report_dir):
    page = (report_dir[0] / "report.html").read_text(encoding="utf8")
    assert "<script>window.pwned" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    # One script only: the page's own filter, inline; nothing fetched (the SVG namespace
    # is a name, not a fetch).
    assert page.count("<script") == 1
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", page)


def test_compare_two_systems_and_the_two_pipeline_system(served_pipeline, gold_corpus, tmp_path):
    weak = build_nlp()
    from conftest import SENTENCES, make_examples

    examples = make_examples(weak, SENTENCES)
    optimizer = weak.initialize(lambda: examples)
    weak.update(examples, sgd=optimizer)
    weak.to_disk(tmp_path / "weak")
    result, _, diffs = evaluate(str(served_pipeline), gold_corpus, compare=[str(tmp_path / "weak")])
    assert result["differences"] == len(diffs) > 0
    assert result["models"]["compare"] == [str(tmp_path / "weak")]
    assert result["pipeline"]["cats_acc"] > result["compare"]["cats_acc"]
    # Intents from one pipeline, slots from another: the same pipeline twice predicts the same.
    same, _, diffs = evaluate(str(served_pipeline), gold_corpus, compare=[str(served_pipeline)] * 2)
    assert diffs == [] and same["differences"] == 0
    for key, _ in SUMMARY:
        assert same["compare"].get(key) == same["pipeline"].get(key), key


def test_calibration_bins_and_ece_by_hand():
    pairs = [(0.95, True), (0.95, True), (0.95, False), (0.15, False)]
    calib = calibration(pairs)
    top, low = calib["bins"][9], calib["bins"][1]
    assert (top["n"], top["right"], top["wrong"]) == (3, 2, 1) and low["wrong"] == 1
    assert calib["ece"] == pytest.approx((3 * abs(2 / 3 - 0.95) + 1 * abs(0 - 0.15)) / 4)


def test_confidence_extensions_feed_the_report(served_pipeline):
    from spacy.tokens import Span

    if not Doc.has_extension("intent_confidence"):
        Doc.set_extension(
            "intent_confidence", getter=lambda d: max(d.cats.values()) if d.cats else None
        )
    if not Span.has_extension("confidence"):
        Span.set_extension("confidence", default=None)
    nlp = spacy.load(served_pipeline)
    refs = gold_docs(nlp)
    examples = predicted_examples(nlp, refs)
    for eg in examples:
        for ent in eg.predicted.ents:
            ent._.confidence = 0.85
    found = confidence_scores(examples, False, 0.5, True, True)
    n_cats = sum(has_cats(r) for r in refs)
    assert found["intents"]["n"] == n_cats
    assert found["slots"]["bins"][8]["n"] == found["slots"]["n"] > 0


def bad_data(case, nlp, gold_corpus, tmp_path):
    """The DATA file of a bad-input case (the gold corpus for the pipeline and output cases)."""
    data = tmp_path / "data.spacy"
    if case == "not_spacy":
        data = tmp_path / "data.jsonl"
        data.write_text('{"text": "hi"}\n')
    elif case == "garbage":
        data.write_bytes(b"\xff\xfe not a docbin")
    elif case == "empty":
        DocBin().to_disk(data)
    elif case == "invalid_bio":
        doc = nlp.make_doc("fly to lima")
        doc.from_array([ENT_IOB, ENT_TYPE], numpy.array([[2, 0], [2, 0], [1, 0]], dtype="uint64"))
        DocBin(docs=[doc]).to_disk(data)
    elif case == "chinese":
        DocBin(docs=[nlp.make_doc("我要去长沙的航班"), nlp.make_doc("明天北京天气")]).to_disk(data)
    else:
        data.write_bytes(gold_corpus.read_bytes())
    return data


def bad_output(case, data, tmp_path):
    """The --output folder of a bad-input case."""
    output = tmp_path / "out"
    if case == "output_file":
        output.write_text("x")
    elif case == "output_is_input":
        output.mkdir()
        (output / "scores.json").symlink_to(data)
    elif case == "unwritable":
        (tmp_path / "file").write_text("x")
        output = tmp_path / "file" / "sub"
    return output


@pytest.mark.parametrize(
    "case,expected",
    [
        ("not_spacy", "not a .spacy file"),
        ("garbage", "cannot be read as a .spacy corpus"),
        ("empty", "holds no documents"),
        ("chinese", "another language"),
        ("invalid_bio", "document 0 ('fly to lima') has invalid entity tags"),
        ("no_heads", "has no mtl_textcat or mtl_ner"),
        ("output_file", "is a file; give a folder"),
        ("output_is_input", "--output"),
        ("unwritable", "a part of the path is not a folder"),
    ],
)
def test_bad_inputs_get_one_message(case, expected, served_pipeline, gold_corpus, tmp_path, capsys):
    nlp = spacy.blank("en")
    pipeline = str(served_pipeline)
    if case == "no_heads":
        nlp.to_disk(tmp_path / "blank")
        pipeline = str(tmp_path / "blank")
    data = bad_data(case, nlp, gold_corpus, tmp_path)
    output = bad_output(case, data, tmp_path)
    code = main(["evaluate", pipeline, str(data), "--output", str(output)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("evaluate failed:") and expected in err, err
    assert "Traceback" not in err


def test_spacy_mtl_evaluate_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "evaluate", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["PIPELINE", "DATA", "--output", "-o", "--compare", "--gold-preproc",
                   "--retokenize", "--gpu-id", "-g", "--batch-size", "-b"]:  # fmt: skip
        assert option in shown
    assert "Folder to write" in shown


@pytest.mark.parametrize(
    "options,option",
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--gpu-id", "-2"], "--gpu-id"),
        (["--gpu-id", "x"], "--gpu-id"),
        (["--compare", "A", "B", "C"], "--compare"),
        (["A"], "--compare"),
        (["--no-such-option"], "--no-such-option"),
    ],
)
def test_usage_errors_name_the_option(served_pipeline, gold_corpus, capsys, options, option):
    assert main(["evaluate", str(served_pipeline), str(gold_corpus), *options]) == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_a_missing_corpus_is_a_usage_error(served_pipeline, tmp_path, capsys):
    assert main(["evaluate", str(served_pipeline), str(tmp_path / "nope.spacy")]) == 2
    err = capsys.readouterr().err
    assert "DATA" in err and "nope.spacy" in err and "Traceback" not in err
    assert main(["evaluate", str(served_pipeline)]) == 2
    assert "DATA" in capsys.readouterr().err


def test_compare_takes_its_two_pipelines_after_one_option_or_two(
    served_pipeline, gold_corpus, capsys, monkeypatch
):
    import spacy_mtl.evaluate.run as run_module

    given = []

    def evaluate(pipeline, data, **kwargs):
        given.append(kwargs)
        return {}, [], []

    monkeypatch.setattr(run_module, "evaluate", evaluate)
    monkeypatch.setattr(run_module, "print_report", lambda result: None)
    common = ["evaluate", str(served_pipeline), str(gold_corpus)]
    assert main([*common, "--compare", "TEXTCAT", "NER", "-b", "8"]) == 0
    assert main([*common, "--compare", "TEXTCAT", "--compare", "NER", "--retokenize"]) == 0
    assert main(common) == 0
    assert [kwargs["compare"] for kwargs in given] == [["TEXTCAT", "NER"]] * 2 + [[]]
    assert [kwargs["batch_size"] for kwargs in given] == [8, 256, 256]
    assert [kwargs["gold_tokens"] for kwargs in given] == [True, False, True]


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError:  # the browser test is skipped
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
FLAGS += ["--no-first-run", "--disable-background-networking", "--window-size=1200,1000"]

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None or webdriver is None,
    reason="no headless browser (apt-get install chromium chromium-driver; pip install selenium)",
)


@pytest.fixture
def browser():
    if webdriver is None or CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no headless browser")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="spacy-mtl-chromium-")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def visible_entries(browser):
    return [e for e in browser.find_elements(By.CSS_SELECTOR, "#errors .error") if e.is_displayed()]


@needs_browser
def test_report_opens_shows_the_matrix_and_filters_the_errors(report_dir, browser, tmp_path):
    out, _ = report_dir
    browser.get((out / "report.html").as_uri())
    # The markup sentence was shown as text, not run.
    assert browser.execute_script("return window.pwned === undefined")
    matrix = browser.find_element(By.ID, "confusion")
    assert matrix.is_displayed() and matrix.size["width"] > 100
    cells = browser.find_elements(By.CSS_SELECTOR, "#confusion rect.cell")
    scores = json.loads((out / "scores.json").read_text(encoding="utf8"))
    n_labels = len(scores["pipeline"]["cats_confusion"]["labels"])
    assert len(cells) == n_labels**2 and n_labels >= 3
    everything = visible_entries(browser)
    assert everything and f"{len(everything)} of {len(everything)} shown" == (
        browser.find_element(By.ID, "shown-count").text
    )
    Select(browser.find_element(By.ID, "intent-filter")).select_by_value("music")
    music = visible_entries(browser)
    assert 0 < len(music) < len(everything)
    assert any(SCRIPT_TEXT in e.text for e in music)
    assert all("music" in e.text for e in music)
    Select(browser.find_element(By.ID, "intent-filter")).select_by_value("")
    slot_options = Select(browser.find_element(By.ID, "slot-filter")).options
    label = slot_options[1].get_attribute("value")
    Select(browser.find_element(By.ID, "slot-filter")).select_by_value(label)
    with_slot = visible_entries(browser)
    assert with_slot and all(label in e.text for e in with_slot)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "evaluate_report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def nan_weights_at(source, target):
    """The pipeline at `source` with its text classifier's weights set to NaN, at `target`."""
    nan_weights(spacy.load(source)).to_disk(target)
    return target


def run_evaluate(capsys, *args):
    code = main(["evaluate", *map(str, args)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_nan_gold_categories_are_refused_naming_the_document(served_pipeline, tmp_path, capsys):
    """Before: OverflowError: Invalid Nan value, after the whole evaluation."""
    nlp = spacy.load(served_pipeline)
    docs = gold_docs(nlp)[:3]
    docs[2].cats = {"flight": float("nan"), "music": 1.0, "weather": 0.0}
    data = tmp_path / "nan.spacy"
    DocBin(docs=docs).to_disk(data)
    code, err = run_evaluate(capsys, served_pipeline, data, "--output", tmp_path / "out")
    assert code == 1 and f"{data}: document 2 ({docs[2].text!r})" in err
    assert "'flight' is nan" in err
    assert not (tmp_path / "out").exists()


def test_a_pipeline_that_predicts_nan_is_refused_naming_the_documents(
    served_pipeline, gold_corpus, tmp_path, capsys
):
    """Before: ValueError: cannot convert float NaN to integer (evaluate/confidence.py)."""
    broken = nan_weights_at(served_pipeline, tmp_path / "nan")
    code, err = run_evaluate(capsys, broken, gold_corpus, "--output", tmp_path / "out")
    assert code == 1 and "predicts scores that are not numbers" in err
    assert "document 0 (" in err and "cats['flight']" in err and str(broken) in err
    assert not (tmp_path / "out").exists()
    # As the compared system too.
    code, err = run_evaluate(capsys, served_pipeline, gold_corpus, "--compare", broken)
    assert code == 1 and "predicts scores that are not numbers" in err


def test_the_output_folder_is_checked_before_any_work(
    served_pipeline, gold_corpus, tmp_path, capsys, monkeypatch
):
    """Before: an unwritable --output, or one inside the pipeline folder, failed (or wrote
    into the pipeline) only after the whole evaluation."""
    import spacy_mtl.evaluate.run as run_module

    def no_work(*args, **kwargs):
        raise AssertionError("evaluated before the output was checked")

    monkeypatch.setattr(run_module, "evaluate", no_work)
    pipeline = tmp_path / "pipeline"
    shutil.copytree(served_pipeline, pipeline)
    before = sorted(p.name for p in pipeline.rglob("*"))
    for output, expected in [
        (pipeline / "metrics", "inside the pipeline folder"),
        (pipeline, "inside the pipeline folder"),
        (Path("/proc/evaluate-out"), "cannot be written"),
    ]:
        code, err = run_evaluate(capsys, pipeline, gold_corpus, "--output", output)
        assert code == 1 and expected in err and str(output) in err, err
    assert sorted(p.name for p in pipeline.rglob("*")) == before


def test_evaluate_writes_its_files_beside_the_others(served_pipeline, gold_corpus, tmp_path):
    """A project keeps its other metrics in the same folder (debug_data.json, say)."""
    out = tmp_path / "metrics"
    out.mkdir()
    (out / "scores.json").write_text("{}")
    (out / "scores.png").write_bytes(b"old")
    (out / "debug_data.json").write_text("keep me")
    assert main(["evaluate", str(served_pipeline), str(gold_corpus), "--output", str(out)]) == 0
    assert json.loads((out / "scores.json").read_text())["n_docs"] > 0
    assert (out / "report.html").is_file()
    assert (out / "scores.png").read_bytes() != b"old"
    assert (out / "debug_data.json").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics"]
