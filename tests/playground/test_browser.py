"""The playground in a real browser: headless Chromium driven by Playwright.

Needs Playwright's Python package and a Chromium (Debian's ``chromium``, which ``.ci/run``
installs; ``CHAINRULE_CHROMIUM`` may name another). Without them these tests skip, saying why.
Every wait is for something the page shows (a step count, an accuracy, a message), with generous
time-outs; nothing sleeps and then asserts.
"""

from __future__ import annotations

import base64
import os
import shutil

import pytest
from _playground_server import Playground

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
pytest.importorskip("uvicorn", reason="the playground extra (uvicorn) is not installed")


def _chromium() -> str | None:
    named = os.environ.get("CHAINRULE_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium, as .ci/run does)"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LONG = 180_000  # ms: the longest any wait may take on a busy machine; none is a timing check


@pytest.fixture(scope="module")
def server():
    with Playground() as p:
        assert p.url is not None, p.stop()
        yield p
        status, _, err = p.stop()
        assert status == 0, err


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, server):
    """A function that opens the playground (with an optional #settings) in a fresh tab."""
    contexts = []
    errors: list[str] = []

    def open_(hash_: str = ""):
        # the page's CSP forbids eval, which Playwright's string waits use: bypass it here
        ctx = browser.new_context(viewport={"width": 1500, "height": 1050}, bypass_csp=True)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(LONG)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + hash_)
        page.wait_for_selector("#start:not([disabled])")
        page.wait_for_function("window.playground.state.drawn !== null")
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert errors == [], errors


def wait_for_step_past(page, step: int) -> int:
    page.wait_for_function(
        f"window.playground.state.drawn && window.playground.state.drawn.step > {step}"
    )
    return page.evaluate("window.playground.state.drawn.step")


def weight_norm(page) -> float:
    return page.evaluate(
        """() => window.playground.state.drawn.layers
            .flatMap(l => l.w.flat(2)).reduce((a, v) => a + v * v, 0)"""
    )


def test_trains_the_spiral_and_lambda_changes_the_regions(open_page, tmp_path):
    page = open_page()
    page.click("#start")
    # the wait is the check: it returns the accuracy the page showed (it moves on at once)
    shown = page.wait_for_function(
        """() => { const v = Number(document.querySelector('#test-acc').dataset.value);
                   return v > 0.9 ? v : false; }"""
    ).json_value()
    assert shown > 0.9
    assert page.text_content("#start") == "Pause"
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    before = page.evaluate("window.playground.state.drawn.grid.cls")
    norm_before = weight_norm(page)
    step = page.evaluate("window.playground.state.drawn.step")
    page.fill("#l2", "0.1")
    page.press("#l2", "Enter")
    page.wait_for_function("window.playground.state.config.l2 === 0.1")
    wait_for_step_past(page, step + 3000)  # let lambda = 0.1 pull the weights in
    after = page.evaluate("window.playground.state.drawn.grid.cls")
    a, b = base64.b64decode(before), base64.b64decode(after)
    changed = sum(x != y for x, y in zip(a, b)) / len(a)
    assert changed > 0.03, f"only {changed:.1%} of the grid changed class"
    assert weight_norm(page) < 0.7 * norm_before
    page.click("#start")  # pause
    page.wait_for_function("document.querySelector('#start').textContent === 'Start'")


def test_bad_settings_show_a_message_and_the_page_goes_on(open_page):
    page = open_page()
    page.fill("#lr", "-1")
    page.press("#lr", "Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert "lr must be a number > 0 and at most 10; got -1" in page.text_content("#message-text")
    page.wait_for_function("document.querySelector('#lr').value === '0.01'")  # still in force

    page.fill(".layer-size >> nth=0", "1000000")
    page.press(".layer-size >> nth=0", "Enter")
    page.wait_for_function(
        "document.querySelector('#message-text').textContent.includes('from 1 to 32 units')"
    )
    page.evaluate("window.playground.state.ws.send('{this is not json')")
    page.wait_for_function(
        "document.querySelector('#message-text').textContent.includes('not JSON')"
    )
    page.click("#step")  # the server still serves this page
    page.wait_for_function("document.querySelector('#step-count').textContent === '1'")
    page.click("#message-close")
    assert page.is_hidden("#message")


def test_explain_one_step_and_the_gradient_of_a_clicked_weight(open_page):
    page = open_page()
    page.click("#step")
    wait_for_step_past(page, 0)
    # first the clicks in the network (explaining scrolls the page, smoothly, to its drawing);
    # a real mouse click at the middle of a line: where lines cross, the one on top takes it
    page.locator(".edge-hit").nth(3).click(force=True)
    page.wait_for_function("document.querySelector('#details').textContent.includes('∂L/∂w')")
    assert "weight: layer 1" in page.text_content("#details")
    page.locator("canvas.unit[data-layer='0']").first.click()
    page.wait_for_function(
        "document.querySelector('#details').textContent.includes('summed over the training')"
    )

    page.click("#explain")
    page.wait_for_selector("#explain-panel:not([hidden])")
    page.wait_for_function(
        "document.querySelector('#explain-text').textContent.includes('Backpropagation through')"
    )
    if shutil.which("dot"):
        page.wait_for_selector("#explain-svg svg")
    else:
        assert "digraph" in page.text_content("#explain-dot")


def test_the_address_holds_the_settings(open_page):
    page = open_page("#dataset=circles&hidden=3&l2=0.01&activation=tanh&added=0.5,0.25,1")
    page.wait_for_function("document.querySelector('#layer-count').textContent === '1'")
    assert page.input_value("#dataset") == "circles"
    assert page.input_value(".layer-size") == "3"
    assert page.text_content("#added-count") == "1"
    page.select_option("#optimizer", "sgd")
    page.wait_for_function("location.hash.includes('optimizer=sgd')")
    assert "activation=tanh" in page.evaluate("location.hash")
    page.evaluate("location.hash = '#hidden=5,4&dataset=xor'")  # an address pasted in the tab
    page.wait_for_function("document.querySelector('#layer-count').textContent === '2'")
    assert page.input_value("#dataset") == "xor"


def test_clicking_adds_a_point_and_presets_apply(open_page):
    page = open_page()
    n = page.evaluate("window.playground.state.points.train.length")
    page.click("#boundary", position={"x": 300, "y": 120})
    page.wait_for_function("document.querySelector('#added-count').textContent === '1'")
    page.wait_for_function(f"window.playground.state.points.train.length === {n + 1}")
    page.click("button.preset[data-name='20 hidden units']")
    page.wait_for_function("document.querySelector('#layer-count').textContent === '1'")
    assert page.input_value(".layer-size") == "20"
    assert page.text_content("#added-count") == "0"  # a preset is the figure's whole setting


# the regions' colours on the canvas: each pixel is white blended towards its class's colour
# by 0.12 to 0.72 (draw.js); this counts the pixels of each class, leaving out the points
# (full colour), the lines between regions (two colours mixed) and the near-white ones
COUNT_REGION_PIXELS = """(k) => {
    const hex = ['#f59322', '#0877bd', '#2ca25f', '#8e44ad', '#d62728'];
    const cols = hex.map(h => [1, 3, 5].map(i => 255 - parseInt(h.slice(i, i + 2), 16)));
    const c = document.querySelector('#boundary');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const counts = new Array(hex.length).fill(0);
    for (let p = 0; p < data.length; p += 4) {
        const d = [255 - data[p], 255 - data[p + 1], 255 - data[p + 2]];
        cols.forEach((col, j) => {
            const a = (d[0] * col[0] + d[1] * col[1] + d[2] * col[2]) /
                      (col[0] ** 2 + col[1] ** 2 + col[2] ** 2);
            const off = Math.hypot(d[0] - a * col[0], d[1] - a * col[1], d[2] - a * col[2]);
            if (a > 0.3 && a < 0.75 && off < 8) counts[j] += 1;
        });
    }
    return counts.map(n => n / (c.width * c.height));
}"""


def test_circles_with_three_classes_train_and_draw_three_regions(open_page):
    page = open_page("#dataset=spiral&classes=2&noise=0.05")
    page.wait_for_function("window.playground.state.points.classes === 2")
    page.select_option("#dataset", "circles")
    page.wait_for_function(
        "window.playground.state.config.dataset === 'circles' && "
        "window.playground.state.points.classes === 2"
    )
    assert page.is_enabled("#classes")  # every set takes a class count
    page.focus("#classes")
    page.keyboard.press("ArrowRight")  # the slider: 2 -> 3 classes
    page.wait_for_function(
        "window.playground.state.points.classes === 3 && "
        "window.playground.state.drawn.data_version === window.playground.state.points.data_version"
    )
    assert page.text_content("#classes-out") == "3"
    assert "classes=3" in page.evaluate("location.hash")
    assert page.locator("#add-class .swatch").count() == 3
    labels = page.evaluate("[...new Set(window.playground.state.points.train_labels)].sort()")
    assert labels == [0, 1, 2]
    assert page.evaluate("window.playground.state.drawn.layers.at(-1).b.length") == 3

    page.click("#start")
    shown = page.wait_for_function(
        """() => { const v = Number(document.querySelector('#test-acc').dataset.value);
                   return v > 0.9 ? v : false; }"""
    ).json_value()
    assert shown > 0.9
    page.click("#start")  # pause, so that the regions stay as they are checked
    page.wait_for_function("document.querySelector('#start').textContent === 'Start'")
    page.wait_for_function("window.playground.state.drawn === window.playground.state.frame")
    # the regions are the three rings: class 2 at the centre, 1 at radius 2/3, 0 outside
    at = page.evaluate(
        """() => { const s = window.playground.state, [x0, x1, y0, y1] = s.points.domain;
                   const cls = atob(s.drawn.grid.cls), n = s.drawn.grid.size;
                   return [[0, 0], [0.67, 0], [0, -0.67], [1.2, 1.2]].map(([x, y]) => {
                       const col = Math.round((x - x0) / (x1 - x0) * (n - 1));
                       const row = Math.round((y1 - y) / (y1 - y0) * (n - 1));
                       return cls.charCodeAt(row * n + col); }); }"""
    )
    assert at == [2, 1, 1, 0]
    shares = page.evaluate(COUNT_REGION_PIXELS)
    assert all(s > 0.03 for s in shares[:3]), shares  # three regions drawn in their colours
    assert all(s < 0.003 for s in shares[3:]), shares  # and no fourth or fifth
