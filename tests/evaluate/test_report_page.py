"""report.html in a real browser (headless Chromium through selenium, as the serve page
test does): it opens from a file, the confusion matrix shows, and the error filters work.
The screenshot is kept under pytest's tmp dir; its path is printed."""

import json
import shutil
import tempfile

import pytest
from evaluate_fixtures import SCRIPT_TEXT, gold_corpus, report_dir  # noqa: F401

# ruff: noqa: F811
pytest.importorskip("selenium", reason="the page test needs selenium: pip install -e '.[test]'")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
FLAGS += ["--no-first-run", "--disable-background-networking", "--window-size=1200,1000"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser():
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
    shot = tmp_path / "evaluate_report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
