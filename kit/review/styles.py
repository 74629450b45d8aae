"""Stylesheets: the run record and failing-cell highlight (also in exported HTML) and the page."""

from __future__ import annotations

STATUS_COLOURS = {
    "succeeded": ("#1a7f37", "#dafbe1"),
    "failed": ("#cf222e", "#ffebe9"),
    "killed": ("#9a6700", "#fff8c5"),
    "timed_out": ("#8250df", "#fbefff"),
    "running": ("#0969da", "#ddf4ff"),
    "lost": ("#bf3989", "#ffeff7"),
    "invalid": ("#57606a", "#eaeef2"),
}

_STATUS_RULES = "\n".join(
    f".st-{name} .kit-badge, .kit-badge.st-{name} {{ color: {fg}; background: {bg}; "
    f"border-color: {fg}55; }}\n"
    f"circle.pt.st-{name} {{ fill: {fg}; }}\n"
    f".chip.st-{name}.active {{ background: {fg}; border-color: {fg}; color: #fff; }}"
    for name, (fg, bg) in STATUS_COLOURS.items()
)

RECORD_CSS = (
    """
.kit-record { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: #1f2328; background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 16px 20px; margin: 0 0 16px; }
.kit-record code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; }
.kit-title { display: flex; align-items: center; gap: 12px; }
.kit-title h1 { font-size: 20px; margin: 0; font-weight: 600; }
.kit-sep { color: #8c959f; font-weight: 400; }
.kit-badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; border: 1px solid transparent; white-space: nowrap;
  text-transform: capitalize; }
.kit-failure { display: block; margin: 12px 0 4px; padding: 9px 12px; border-radius: 6px;
  background: #ffebe9; border: 1px solid #ff818266; color: #a40e26; font-weight: 600;
  text-decoration: none; }
.kit-failure.kind-stopped { background: #fff8c5; border-color: #d4a72c66; color: #7d4e00; }
a.kit-failure:hover { text-decoration: underline; }
.kit-reason { margin: 6px 0; color: #57606a; }
.kit-facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0; }
.kit-facts dt { color: #57606a; }
.kit-facts dd { margin: 0; overflow-wrap: anywhere; }
.kit-cols { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.kit-kv, .kit-rows { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
.kit-kv caption, .kit-rows caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
.kit-kv th { text-align: left; font-weight: 500; color: #57606a; padding: 2px 16px 2px 0; }
.kit-kv td { font-variant-numeric: tabular-nums; padding: 2px 0; }
.kit-rows th, .kit-rows td { border-bottom: 1px solid #eaeef2; padding: 2px 10px 2px 0;
  text-align: left; font-variant-numeric: tabular-nums; }
.kit-none { color: #8c959f; }
.kit-tb summary { cursor: pointer; color: #57606a; }
.kit-tb pre { background: #f6f8fa; border-radius: 6px; padding: 10px; overflow: auto;
  font-size: 12px; }
"""
    + _STATUS_RULES
)

# Injected into the nbconvert output: the anchors and the highlighted failing cell.
NOTEBOOK_CSS = """
body.jp-Notebook { padding-top: 8px; }
.kit-cell { scroll-margin-top: 12px; }
.kit-cell.kit-failed { outline: 3px solid #cf222e; outline-offset: 2px; border-radius: 4px;
  background: #fff5f5; margin: 10px 0; }
.kit-cell.kit-stopped { outline: 3px solid #d4a72c; outline-offset: 2px; border-radius: 4px;
  background: #fffbea; margin: 10px 0; }
.kit-cell.kit-failed::before, .kit-cell.kit-stopped::before { display: block;
  font: 600 12px system-ui, "DejaVu Sans", sans-serif; padding: 4px 10px; color: #fff; }
.kit-cell.kit-failed::before { content: attr(data-kit-label); background: #cf222e; }
.kit-cell.kit-stopped::before { content: attr(data-kit-label); background: #9a6700; }
"""

PAGE_CSS = (
    """
* { box-sizing: border-box; }
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
a { color: #0969da; }
.top { display: flex; align-items: baseline; gap: 16px; padding: 12px 24px; background: #24292f;
  color: #fff; }
.top .brand { color: #fff; font-weight: 700; font-size: 16px; text-decoration: none; }
.top .where { color: #afb8c1; font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; }
main { padding: 16px 24px 32px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.muted { color: #6e7781; font-weight: 400; font-size: 13px; }
.filters { display: flex; flex-wrap: wrap; gap: 10px 32px; background: #fff; padding: 12px 16px;
  border: 1px solid #d0d7de; border-radius: 8px; }
.filters .group { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.filters .label { font-weight: 600; margin-right: 4px; color: #57606a; }
.chip { display: inline-flex; gap: 6px; align-items: center; padding: 3px 11px;
  border: 1px solid #d0d7de; border-radius: 999px; color: #1f2328; text-decoration: none;
  background: #fff; text-transform: capitalize; }
.chip:hover { border-color: #8c959f; }
.chip.active { background: #24292f; border-color: #24292f; color: #fff; }
.chip .count { font-size: 11.5px; opacity: .75; font-variant-numeric: tabular-nums; }
.charts .grid { display: flex; flex-wrap: wrap; gap: 12px; }
.charts figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 8px 10px 4px; width: 362px; }
.charts figcaption { font-weight: 600; display: flex; justify-content: space-between; }
svg.chart { width: 340px; height: 150px; display: block; }
svg.chart .axis { stroke: #d0d7de; }
svg.chart .line { fill: none; stroke: #8c959f; stroke-width: 1.5; }
svg.chart .tick { font-size: 10px; fill: #6e7781; }
svg.chart .empty { font-size: 12px; fill: #8c959f; text-anchor: middle; }
svg.chart circle.pt { stroke: #fff; stroke-width: 1; }
.runs-table { width: 100%; border-collapse: collapse; background: #fff;
  border: 1px solid #d0d7de; border-radius: 8px; overflow: hidden; }
.runs-table th { text-align: left; font-size: 12px; color: #57606a; background: #f6f8fa;
  padding: 7px 10px; border-bottom: 1px solid #d0d7de; }
.runs-table td { padding: 6px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
.runs-table tr.run:hover td { background: #f6f8fa; }
.runs-table tr.st-failed td:first-child { box-shadow: inset 3px 0 #cf222e; }
.runs-table tr.st-killed td:first-child { box-shadow: inset 3px 0 #9a6700; }
.runs-table tr.st-timed_out td:first-child { box-shadow: inset 3px 0 #8250df; }
.runs-table tr.st-running td:first-child { box-shadow: inset 3px 0 #0969da; }
.runs-table tr.st-lost td:first-child { box-shadow: inset 3px 0 #bf3989; }
.runs-table .run-link { font-weight: 600; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 13px; }
.version { display: block; color: #6e7781;
  font: 11.5px ui-monospace, "DejaVu Sans Mono", monospace; }
.small { font-size: 12.5px; color: #424a53; }
.num, .nowrap { white-space: nowrap; font-variant-numeric: tabular-nums; }
.crumbs { margin: 0 0 12px; color: #6e7781; }
iframe.notebook { width: 100%; height: max(640px, calc(100vh - 140px)); border: 1px solid #d0d7de;
  border-radius: 8px; background: #fff; }
.error h1 { font-size: 28px; }
"""
    + RECORD_CSS
)
