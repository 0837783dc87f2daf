"""`aum serve` end to end in a real headless browser (Debian's chromium + chromium-driver, driven by selenium):
load the page, upload a WAV through the file input, read the labels from the DOM, check the spectrogram and
timeline are drawn, upload a bad file and read the error message, save a screenshot; then record from the
microphone (Chromium's fake capture device) and read the labels of the recording.

Skips, saying why, where chromium, chromedriver or selenium are missing (`make sysdeps` installs the first two as
root). AUM_SCREENSHOT=path.png keeps the screenshot; AUM_BROWSER_CHECKPOINT=DIR serves that checkpoint instead
of a tiny random model, and AUM_BROWSER_WAV=file.wav (longer than one window) is uploaded instead of a tone."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="aum serve needs 'aum[serve]' (fastapi, uvicorn, python-multipart)")
pytest.importorskip("selenium", reason="the browser test needs selenium (pip install 'aum[webtest]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM or not DRIVER, reason="needs Debian's chromium and chromium-driver "
                                 "(apt-get install chromium chromium-driver; `make sysdeps` does it as root)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from aum.inference.serve import create_app
    from aum.models import from_pretrained
    from test_serve import tiny_model

    checkpoint = os.environ.get("AUM_BROWSER_CHECKPOINT")
    model = from_pretrained(checkpoint) if checkpoint else tiny_model()
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(model, max_mb=1.0), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", model
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,1300", "--use-fake-ui-for-media-stream",  # allow the microphone, and feed
                 "--use-fake-device-for-media-stream"):  # it Chromium's synthetic beeps
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, css: str, timeout: float = 60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def test_page_upload_labels_and_screenshot(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from test_serve import wav_bytes

    url, model = server
    wav = tmp_path / "three_seconds.wav"
    wav.write_bytes(wav_bytes(3.0))
    wav = os.environ.get("AUM_BROWSER_WAV") or wav
    browser.get(url)
    wait_for(browser, "#upload-form")
    browser.find_element(By.ID, "file").send_keys(str(wav))  # the change event uploads it
    first = wait_for(browser, "#labels li")
    items = browser.find_elements(By.CSS_SELECTOR, "#labels li")
    labels = [li.get_attribute("data-label") for li in items]
    scores = [float(li.get_attribute("data-score")) for li in items]
    assert first.is_displayed() and set(labels) <= set(model.meta["labels"]) and len(labels) >= 2
    assert scores == sorted(scores, reverse=True)
    assert wait_for(browser, "#timeline-section").is_displayed()  # 3 s > one training window
    assert browser.execute_script("return document.getElementById('spectrogram').width") > 50
    shot = os.environ.get("AUM_SCREENSHOT") or str(tmp_path / "serve.png")
    assert browser.save_screenshot(shot) and os.path.getsize(shot) > 10_000

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"definitely not a wave file" * 20)
    browser.find_element(By.ID, "file").send_keys(str(bad))
    error = wait_for(browser, "#error")
    assert "422" in error.text and "broken.wav" in error.text


def test_microphone_recording_is_classified(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    browser.get(url)
    record = wait_for(browser, "#record")
    record.click()
    wait_for(browser, "#record-status")
    time.sleep(1.5)
    assert "recording" in browser.find_element(By.ID, "record-status").text
    record.click()  # stop: the page encodes a WAV and posts it
    WebDriverWait(browser, 60).until(lambda d: "recording.wav" in d.find_element(By.ID, "clip-info").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#labels li")
    assert not browser.find_element(By.ID, "error").is_displayed()
