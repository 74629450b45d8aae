"""The review page in a real headless Chromium (Debian's, driven by Playwright).

Chromium is installed by scripts/install_browser.sh; when it is missing this test FAILS.
It also takes the README's screenshots, review.png (the runs page) and
review-failed-run.png (a failed run, failing cell highlighted): into a temporary folder,
or into docs/img with UPDATE_SCREENSHOTS=1 (`UPDATE_SCREENSHOTS=1 make pytest`), so a
test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lab_support import CHROMIUM, CHROMIUM_ARGS, README_IMAGES

RED = "rgb(207, 34, 46)"  # styles.STATUS_COLOURS["failed"]


@pytest.mark.browser
def test_filter_open_a_failed_run_and_follow_the_link_to_its_cell(
    review_url: str, tmp_path: Path
) -> None:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run scripts/install_browser.sh"
    from playwright.sync_api import expect, sync_playwright

    shots = README_IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            page.goto(review_url + "/")
            expect(page.locator("tr.run")).to_have_count(16)
            badge = page.locator("tr.run.st-failed .kit-badge")
            assert badge.evaluate("e => getComputedStyle(e).color") == RED
            expect(page.locator("svg.chart").first).to_be_visible()
            page.screenshot(path=str(shots / "review.png"), full_page=True)

            page.click("a.chip[data-filter=status][data-value=failed]")
            expect(page).to_have_url(re.compile(r"\?status=failed$"))
            expect(page.locator("tr.run")).to_have_count(1)
            expect(page.locator("a.chip.active[data-value=failed]")).to_be_visible()

            page.click("tr.run a.run-link")
            expect(page).to_have_url(re.compile(r"/runs/demo/fail-1$"))
            link = page.locator("#kit-failure-link")
            expect(link).to_have_text(
                re.compile(
                    r"Failed at cell (\d+), In \[4\]: ValueError: holdout is larger than the"
                )
            )
            number = re.search(r"cell (\d+)", link.inner_text())
            assert number, link.inner_text()
            assert (link.get_attribute("href") or "").endswith(f"#cell-{number[1]}")

            link.click()
            notebook = page.frame_locator("iframe.notebook")
            cell = notebook.locator(f"#cell-{number[1]}")
            expect(cell).to_have_class(re.compile(r"\bkit-failed\b"))
            expect(cell).to_contain_text("ValueError")
            assert cell.evaluate("e => getComputedStyle(e).outlineColor") == RED
            frame = page.frame(url=re.compile(r"/notebook"))
            assert frame is not None
            assert frame.url.endswith(f"#cell-{number[1]}")
            expect(cell).to_be_in_viewport()  # the link scrolled the notebook to the cell
            page.screenshot(path=str(shots / "review-failed-run.png"))
        finally:
            browser.close()
    assert not problems, problems
    for name in ("review.png", "review-failed-run.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
