"""The review page in a real headless Chromium (Debian's, driven by Playwright).

Chromium is installed by scripts/install_browser.sh; when it is missing these tests FAIL.
They also take the README's screenshots: review.png (the runs page, a chart per metric
with a line per fan-out item), review-failed-run.png (a failed run, failing cell
highlighted) and review-compare.png (two runs compared): into a temporary folder, or into
docs/img with UPDATE_SCREENSHOTS=1 (`UPDATE_SCREENSHOTS=1 make pytest`), so a test run
leaves the working tree as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_support import CHROMIUM, CHROMIUM_ARGS, README_IMAGES

RED = "rgb(207, 34, 46)"  # record.css: the failed status colour
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = README_IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page() -> Iterator[Any]:
    """A Chromium page that fails the test on any console error or page error."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run scripts/install_browser.sh"
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(20_000)
            tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda exc: problems.append(str(exc)))
            yield tab
        finally:
            browser.close()
    assert not problems, problems


@pytest.mark.browser
def test_filter_open_a_failed_run_and_follow_the_link_to_its_cell(
    review_url: str, page: Any, shots: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(review_url + "/")
    expect(page.locator("tr.run")).to_have_count(22)
    badge = page.locator("tr.run.st-failed .kit-badge").first
    assert badge.evaluate("e => getComputedStyle(e).color") == RED
    forecast = page.locator("#charts-forecast figure[data-metric=mape]")
    expect(forecast.locator("polyline")).to_have_count(2)
    expect(forecast.locator(".legend-item")).to_have_count(2)
    colours = forecast.locator("polyline").evaluate_all(
        "lines => lines.map(l => getComputedStyle(l).stroke)"
    )
    assert len(set(colours)) == 2, colours
    swatches = forecast.locator(".swatch").evaluate_all(
        "s => s.map(e => getComputedStyle(e).backgroundColor)"
    )
    assert swatches == colours  # the legend's colours are the lines'
    page.screenshot(path=str(shots / "review.png"), full_page=True)

    page.click("a.chip[data-filter=status][data-value=failed]")
    expect(page).to_have_url(re.compile(r"\?status=failed$"))
    expect(page.locator("tr.run")).to_have_count(2)
    expect(page.locator("a.chip.active[data-value=failed]")).to_be_visible()

    page.click("tr.run[data-notebook=demo] a.run-link")
    expect(page).to_have_url(re.compile(r"/runs/demo/fail-1$"))
    link = page.locator("#kit-failure-link")
    expect(link).to_have_text(
        re.compile(r"Failed at cell (\d+), In \[4\]: ValueError: holdout is larger than the")
    )
    number = re.search(r"cell (\d+)", link.inner_text())
    assert number, link.inner_text()
    assert (link.get_attribute("href") or "") == f"#cell-{number[1]}"

    link.click()
    cell = page.locator(f"#cell-{number[1]}")
    expect(cell).to_have_class(re.compile(r"\bkit-failed\b"))
    expect(cell).to_contain_text("ValueError")
    assert cell.evaluate("e => getComputedStyle(e).outlineColor") == RED
    assert page.url.endswith(f"#cell-{number[1]}")
    expect(cell).to_be_in_viewport()  # the link scrolled the page to the cell
    page.screenshot(path=str(shots / "review-failed-run.png"))
    for name in ("review.png", "review-failed-run.png"):
        assert (shots / name).read_bytes()[:8] == PNG, name


# Ancestors of an element that would scroll it inside the page (a nested scroll box).
NESTED_SCROLL = """e => {
  const found = [];
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (/(auto|scroll|hidden)/.test(s.overflowY) && a.scrollHeight > a.clientHeight + 1)
      found.push(a.tagName + "." + a.className);
  }
  return found;
}"""


@pytest.mark.browser
def test_the_notebook_is_inline_its_plot_shows_as_the_page_scrolls_and_it_prints_whole(
    review_url: str, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(review_url + "/runs/demo/ok-a")
    expect(page.locator("iframe")).to_have_count(0)
    plot = page.locator(".kit-notebook .jp-OutputArea-output img").last
    expect(plot).to_be_attached()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")
    assert plot.evaluate(NESTED_SCROLL) == []
    expect(plot).not_to_be_in_viewport()  # below the record and the files
    page.mouse.wheel(0, 400)
    for _ in range(30):  # the window scrolls, not a box inside it
        if page.evaluate("window.scrollY") > 0 and plot.evaluate(
            "e => e.getBoundingClientRect().top < innerHeight"
        ):
            break
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(100)
    expect(plot).to_be_in_viewport()
    assert page.evaluate("document.scrollingElement.scrollHeight > innerHeight")

    # The run's files: listed, the image shown, the CSV served as CSV.
    expect(page.locator("tr.file")).to_have_count(2)
    preview = page.locator(".file-preview img")
    assert preview.evaluate("img => img.complete && img.naturalWidth > 0")
    href = page.locator("a.file-link", has_text="forecast.csv").get_attribute("href")
    csv = page.request.get(review_url + str(href))
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text().startswith("step,yhat")

    page.emulate_media(media="print")
    assert page.locator("header.top").evaluate("e => getComputedStyle(e).display") == "none"
    last = page.locator(".kit-notebook .kit-cell").last
    assert last.evaluate(NESTED_SCROLL) == []
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 2, pages  # the whole notebook, not one screenful


@pytest.mark.browser
def test_pick_two_runs_and_compare_them(review_url: str, page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    page.goto(review_url + "/?notebook=demo")
    page.check("input[name=run][value='demo/ok-a']")
    page.check("input[name=run][value='demo/ok-b']")
    page.click("button:has-text('Compare the two selected runs')")
    expect(page).to_have_url(re.compile(r"/compare\?run=demo%2Fok-[ab]&run=demo%2Fok-[ab]$"))
    # Older first: ok-a and ok-b ran at the same time, so either may be the first.
    first = page.locator(".side-a strong").inner_text()
    later = ("5", "9") if first.endswith("ok-a") else ("9", "5")
    expect(page.locator("tr.change[data-key=horizon] .before")).to_have_text(later[0])
    expect(page.locator("tr.change[data-key=horizon] .after")).to_have_text(later[1])
    expect(page.locator("tr.change[data-key=version]")).to_have_count(1)
    delta = "+0.4" if first.endswith("ok-a") else "-0.4"
    expect(page.locator("tr.change[data-key=mape] .delta")).to_have_text(delta)
    short, long = "# mean level", "# mean level of the whole history"
    old, new = (short, long) if first.endswith("ok-a") else (long, short)
    removed = page.locator(".cell-change .line.del", has_text=re.compile(re.escape(old) + "$"))
    added = page.locator(".cell-change .line.add", has_text=re.compile(re.escape(new) + "$"))
    expect(removed).to_have_count(1)
    expect(added).to_have_count(1)
    assert added.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(218, 251, 225)"
    page.screenshot(path=str(shots / "review-compare.png"), full_page=True)

    # From a run page: compare with another run of its notebook.
    page.goto(review_url + "/runs/demo/ok-a")
    page.select_option(".compare-with select", "demo/hist-08")
    page.click(".compare-with button")
    expect(page).to_have_url(re.compile(r"/compare\?"))
    expect(page.locator(".compare-runs .side")).to_have_count(2)
    assert (shots / "review-compare.png").read_bytes()[:8] == PNG
