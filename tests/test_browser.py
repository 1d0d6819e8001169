"""A real browser (headless Chromium via Playwright) uploads a clip, presses Evaluate and sees nine scores.

Leaves a screenshot in test-artifacts/webui.png. Needs Debian's chromium (/usr/bin/chromium); skipped without it.
"""

import os
import re
from pathlib import Path

import pytest
from conftest import free_port

from aigve.aspects import ASPECTS

CHROMIUM = os.environ.get("AIGVE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CLIP = "lavie_beach_00.mp4"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("gradio")
    from aigve.webui import Limits, ServiceConfig, WebService
    from aigve.webui.app import launch

    port = free_port()
    service = WebService(ServiceConfig(backend="fake", backends=("signals",), limits=Limits(max_upload_mb=5),
                                       work_dir=str(tmp_path_factory.mktemp("browser"))))
    demo, url = launch(service, host="127.0.0.1", port=port, block=False, quiet=True)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh tab on a freshly loaded UI for every test: no test sees another's upload or outputs."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server, wait_until="domcontentloaded")
    page.wait_for_selector("#evaluate-button")
    yield page
    context.close()


def _score_rows(page) -> dict[str, str]:
    """{aspect label: score cell text} read from the rendered score table (cells are data-testid=cell-ROW-COL)."""
    table = page.locator("#scores")
    out = {}
    for row in range(len(ASPECTS)):
        out[table.get_by_test_id(f"cell-{row}-0").inner_text().strip()] = \
            table.get_by_test_id(f"cell-{row}-1").inner_text().strip()
    return out


def test_upload_evaluate_and_see_nine_scores(page, shared_videos):
    page.locator("#video input[type=file]").set_input_files(str(shared_videos / CLIP))
    page.locator("#prompt textarea").fill("A beautiful coastal beach in spring, waves lapping on sand, animated style")
    page.wait_for_selector("#video video")  # upload finished: the player shows the clip
    page.click("#evaluate-button")
    page.wait_for_selector("#frames img")  # the last output drawn: sampled-frame thumbnails
    page.wait_for_selector(f"#scores [data-testid=cell-{len(ASPECTS) - 1}-1]")
    rows = _score_rows(page)
    assert set(rows) == {a.label for a in ASPECTS}
    assert all(re.fullmatch(r"[0-5]", v) for v in rows.values()), rows
    assert "NOT A REAL EVALUATION" in page.locator("#status").inner_text()
    assert page.locator("#frames img").count() >= 2
    captions = page.locator("#frames").inner_text()
    assert re.search(r"\d+\.\d\d s · frame \d+", captions)
    assert "total" in page.locator("#timings").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webui.png"), full_page=True)
    assert (ARTIFACTS / "webui.png").stat().st_size > 10_000


def test_a_non_video_shows_an_error_message_not_a_traceback(page, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_text("not really a video")
    page.locator("#video input[type=file]").set_input_files(str(bad))
    page.click("#evaluate-button")
    toast = page.get_by_text("not a readable video")
    toast.first.wait_for()
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "File \"" not in body
