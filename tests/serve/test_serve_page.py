"""The demo page at / in a real browser: headless Chromium from Debian's packages, through selenium.

Install the browser with ``apt-get install chromium chromium-driver`` (scripts/test.sh
does it). The test saves a screenshot to test-artifacts/serve_page.png.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import spacy
from conftest import REPO, live_server

from spacy_mtl.records import doc_to_record

pytest.importorskip("fastapi", reason="the page test needs FastAPI: pip install -e '.[serve]'")
pytest.importorskip("selenium", reason="the page test needs selenium: pip install -e '.[test]'")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from spacy_mtl.serve.app import create_app  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("SPACY_MTL_TEST_ARTIFACTS", REPO / "test-artifacts"))
# Headless Chromium on a shared machine without a display, a GPU, a sandbox or a network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason=(
        "no headless browser: the page test needs Chromium and its driver "
        "(apt-get install chromium chromium-driver; scripts/test.sh installs them)"
    ),
)


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="spacy-mtl-chromium-")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_shows_the_intent_and_displacy_entities(served_pipeline, browser):
    nlp = spacy.load(served_pipeline)
    text = "fly from oslo to lima tomorrow"
    expected = doc_to_record(nlp(text))
    assert expected["entities"], "the tiny pipeline should find entities in a training sentence"
    examples = ["play bach in the morning", "will it rain in cairo"]
    with live_server(create_app(nlp, examples=examples)) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 30)
        # The example buttons come from /meta.
        buttons = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#examples button"))
        assert [button.text for button in buttons] == examples
        assert "en_mtl_test" in browser.find_element(By.ID, "pipeline-meta").text

        box = browser.find_element(By.ID, "text")
        box.clear()
        box.send_keys(text)
        browser.find_element(By.ID, "submit").click()
        wait.until(EC.visibility_of_element_located((By.ID, "result")))
        intent = wait.until(EC.visibility_of_element_located((By.ID, "intent")))
        assert intent.text == expected["intent"] == "flight"
        # The confidence beside the intent; no rejection notice for an uncalibrated pipeline.
        confidence = browser.find_element(By.ID, "intent-confidence").text
        assert confidence == f"confidence {100 * expected['intent_confidence']:.1f}%"
        assert not browser.find_element(By.ID, "rejection").is_displayed()

        # The bar chart: one bar per category, the top one first with its score.
        rows = browser.find_elements(By.CSS_SELECTOR, "#cats .bar-row")
        assert sorted(row.get_attribute("data-label") for row in rows) == sorted(expected["cats"])
        assert rows[0].get_attribute("data-label") == "flight"
        assert f"{100 * expected['cats']['flight']:.1f}%" in rows[0].text

        # displaCy's marks: each entity's text with its label.
        marks = browser.find_elements(By.CSS_SELECTOR, "#entities mark.entity")
        shown = []
        for mark in marks:
            label = mark.find_element(By.TAG_NAME, "span").text
            # A mark reads "oslo FROM": the entity's text, then its label.
            assert mark.text.endswith(label)
            shown.append((mark.text[: -len(label)].strip(), label))
        assert shown == [(e["text"], e["label"]) for e in expected["entities"]]

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "serve_page.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # A click on an example parses it.
        buttons[1].click()
        # The JSON lies in a closed <details>: read its textContent, not its visible text.
        wait.until(
            lambda d: examples[1] in d.find_element(By.ID, "json").get_attribute("textContent")
        )
        assert (
            browser.find_element(By.ID, "intent").text == doc_to_record(nlp(examples[1]))["intent"]
        )

        # A calibrated pipeline whose threshold rejects the text: the page says so plainly,
        # and the categories keep their probabilities.
        textcat = nlp.get_pipe("mtl_textcat")
        textcat.cfg["calibration"] = {
            "method": "temperature", "scale": [1.0], "bias": None, "temperature": 1.0,
            "score": "max_prob", "threshold": 1.01, "chosen_for": "a test: reject everything",
        }  # fmt: skip
        try:
            buttons[0].click()
            wait.until(lambda d: d.find_element(By.ID, "rejection").is_displayed())
        finally:
            textcat.cfg["calibration"] = None
        rejected = doc_to_record(spacy.load(served_pipeline)(examples[0]))
        assert browser.find_element(By.ID, "intent").text == "out_of_scope"
        notice = browser.find_element(By.ID, "rejection").text
        assert notice.startswith("Out of scope") and rejected["intent"] in notice
        assert f"confidence {100 * rejected['intent_confidence']:.1f}%" == (
            browser.find_element(By.ID, "intent-confidence").text
        )
        rows = browser.find_elements(By.CSS_SELECTOR, "#cats .bar-row")
        assert sorted(row.get_attribute("data-label") for row in rows) == sorted(rejected["cats"])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "serve_page_rejected.png"))

        # A refused request shows the server's message, not a broken page.
        browser.execute_script(
            "arguments[0].removeAttribute('maxlength'); arguments[0].value = arguments[1]",
            box,
            "a" * 10001,
        )
        browser.find_element(By.ID, "submit").click()
        error = wait.until(EC.visibility_of_element_located((By.ID, "error")))
        assert "422" in error.text and "limit of 10000" in error.text

        # Offline: every resource the page loaded came from the service itself.
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )
        assert resources and all(name.startswith(url) for name in resources), resources
