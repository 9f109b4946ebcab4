"""The README's picture of the playground: train the spiral past 93% test accuracy, pause, click a
hidden unit to show its gradient, and take a screenshot with headless Chromium.

    python tools/playground_screenshot.py                     # docs/figures/playground.png

Needs the playground and test extras (Playwright) and a Chromium (Debian: apt-get install
chromium); ``--chromium PATH`` names another.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "playground"))

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "playground.png")
    ap.add_argument("--chromium", default=shutil.which("chromium"))
    ap.add_argument("--accuracy", type=float, default=0.93, help="train until test accuracy")
    args = ap.parse_args(argv)
    if not args.chromium:
        raise SystemExit("no Chromium found: apt-get install chromium, or pass --chromium PATH")
    from _playground_server import Playground
    from playwright.sync_api import sync_playwright

    with Playground() as server, sync_playwright() as pw:
        if server.url is None:
            raise SystemExit(f"the playground did not start: {server.stop()}")
        browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1480, "height": 900}, bypass_csp=True)
        page.set_default_timeout(180_000)
        page.goto(server.url)
        page.wait_for_selector("#start:not([disabled])")
        page.click("#start")
        page.wait_for_function(
            f"Number(document.querySelector('#test-acc').dataset.value) > {args.accuracy}"
        )
        page.click("#start")  # pause, so the picture and its numbers agree
        page.wait_for_function("document.querySelector('#start').textContent === 'Start'")
        page.locator("canvas.unit[data-layer='1']").nth(2).click()
        page.wait_for_function("document.querySelector('#details').textContent.includes('∂L')")
        page.screenshot(path=str(args.out), full_page=False)
        browser.close()
        server.stop()
    try:  # 256 colours keep the README's picture small (Pillow is in the data extra)
        from PIL import Image

        Image.open(args.out).convert("RGB").quantize(colors=256).save(args.out, optimize=True)
    except ImportError:
        pass
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
