"""HTML templates of the review page and of the run record (Jinja2, autoescaped).

Kept as Python strings so they ship inside the package without package-data settings.
"""

from __future__ import annotations

RECORD = """\
<section class="kit-record">
  <div class="kit-title">
    <span class="kit-badge st-{{ run.status }}">{{ run.status | replace("_", " ") }}</span>
    <h1>{{ run.notebook }} <span class="kit-sep">/</span> {{ run.run_id }}</h1>
  </div>
  {%- if failure and failure.cell_number and link %}
  <a class="kit-failure kind-{{ failure.kind }}" id="kit-failure-link"
     href="{{ cell_href }}#cell-{{ failure.cell_number }}"
     {%- if target %} target="{{ target }}"{% endif %}>{{ failure.summary }}</a>
  {%- elif failure %}
  <p class="kit-failure kind-{{ failure.kind }}">{{ failure.summary }}</p>
  {%- endif %}
  {%- if run.reason and not (failure and failure.headline == run.reason) %}
  <p class="kit-reason">{{ run.reason }}</p>
  {%- endif %}
  <dl class="kit-facts">
    <dt>Notebook</dt><dd><code>{{ run.ref }}</code></dd>
    <dt>Started</dt><dd>{{ run.started_at | moment }}</dd>
    <dt>Finished</dt><dd>{{ run.finished_at | moment }}</dd>
    <dt>Duration</dt><dd>{{ run.duration_seconds | duration }}</dd>
    {%- if run.peak_rss_bytes is not none %}
    <dt>Peak memory</dt><dd>{{ run.peak_rss_bytes | size }}
      {%- with peak = run.peak_cell() %}{% if peak %} (kernel, cell {{ peak.cell }})
      {%- endif %}{% endwith %}</dd>
    {%- endif %}
    {%- if run.record is none %}
    <dt>Last update</dt><dd>{{ run.updated_at | moment }}</dd>
    {%- endif %}
    {%- for key in ("host", "pod", "image") if rec.get(key) %}
    <dt>{{ key | capitalize }}</dt><dd><code>{{ rec[key] }}</code></dd>
    {%- endfor %}
    {%- if rec.get("airflow") %}
    <dt>Airflow</dt><dd><code>{{ rec.airflow.get("dag_id") }} / {{ rec.airflow.get("run_id") }}
      / {{ rec.airflow.get("task_id") }} (try {{ rec.airflow.get("try_number") }})</code></dd>
    {%- endif %}
    {%- with pod = rec | kubernetes %}{% if pod %}
    <dt>Kubernetes</dt><dd>{{ pod }}</dd>
    {%- endif %}{% endwith %}
    <dt>Output</dt><dd><code>{{ run.output_url }}</code></dd>
  </dl>
  <div class="kit-cols">
    <table class="kit-kv"><caption>Parameters</caption>
      {%- for key, val in run.parameters.items() %}
      <tr{% if key in run.overridden %} class="given" title="given for this run"{% endif %}>
        <th>{{ key }}{% if key in run.overridden %} *{% endif %}</th>
        <td>{{ val | value(80) }}</td></tr>
      {%- else %}<tr><td class="kit-none">none</td></tr>{% endfor %}
    </table>
    <table class="kit-kv"><caption>Metrics</caption>
      {%- for key, val in run.scalar_metrics().items() %}
      <tr><th>{{ key }}</th><td>{{ val | value(80) }}</td></tr>
      {%- else %}<tr><td class="kit-none">none</td></tr>{% endfor %}
    </table>
  </div>
  {%- for key, rows in run.metrics.items() if rows is not none and rows is not string
      and rows is iterable and rows | length and rows[0] is mapping %}
  <table class="kit-rows"><caption>{{ key }} ({{ rows | length }} rows)</caption>
    <tr>{% for col in rows[0] %}<th>{{ col }}</th>{% endfor %}</tr>
    {%- for row in rows[:10] %}
    <tr>{% for col in rows[0] %}<td>{{ row.get(col) | value(30) }}</td>{% endfor %}</tr>
    {%- endfor %}
  </table>
  {%- endfor %}
  {%- with slowest = run.slowest_cells(5) %}{% if slowest %}
  <table class="kit-rows kit-cells"><caption>Slowest cells</caption>
    <tr><th>Cell</th><th>Duration</th><th>Peak memory</th><th>Source</th></tr>
    {%- for cell in slowest %}
    <tr><td class="num">{{ cell.cell }}
      {%- if cell.execution_count is not none %}, In [{{ cell.execution_count }}]{% endif %}</td>
      <td class="num">{{ cell.duration_seconds | duration }}</td>
      <td class="num">{{ cell.peak_rss_bytes | size }}</td>
      <td><code>{{ cell.source }}</code></td></tr>
    {%- endfor %}
  </table>
  {%- endif %}{% endwith %}
  {%- if failure and failure.traceback %}
  <details class="kit-tb"><summary>Traceback</summary>
    <pre>{{ failure.traceback_text }}</pre></details>
  {%- endif %}
</section>
"""

LAYOUT = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}kit review{% endblock %}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/review.css">
</head>
<body>
<header class="top"><a class="brand" href="/">kit review</a>
  <span class="where">{{ bucket }}</span></header>
<main>{% block main %}{% endblock %}</main>
</body>
</html>
"""

INDEX = """\
{% extends "layout.html" %}
{% block main %}
<nav class="filters" aria-label="Filters">
  <div class="group"><span class="label">Notebook</span>
    {%- for item in notebook_filters %}
    <a class="chip{% if item.active %} active{% endif %}" href="{{ item.href }}"
       data-filter="notebook" data-value="{{ item.value }}">{{ item.label }}</a>
    {%- endfor %}
  </div>
  <div class="group"><span class="label">Status</span>
    {%- for item in status_filters %}
    <a class="chip st-{{ item.value or 'all' }}{% if item.active %} active{% endif %}"
       href="{{ item.href }}" data-filter="status" data-value="{{ item.value }}">
       {{- item.label | replace("_", " ") }}</a>
    {%- endfor %}
  </div>
</nav>
{%- for block in charts %}
<section class="charts" id="charts-{{ block.notebook }}">
  <h2>{{ block.notebook }} <span class="muted">metrics over time</span></h2>
  <div class="grid">
  {%- for chart in block.charts %}
    <figure><figcaption>{{ chart.metric }}
      <span class="muted">latest {{ chart.latest | value(12) }}</span></figcaption>
      {{ chart.svg | safe }}</figure>
  {%- else %}<p class="muted">No numeric metrics recorded yet.</p>{% endfor %}
  </div>
</section>
{%- endfor %}
<section class="runs">
  <h2>Runs <span class="muted">newest first{% if newest_href %},
    <a href="{{ newest_href }}">back to the newest</a>{% endif %}</span></h2>
  <table class="runs-table">
    <thead><tr><th>Status</th><th>Run</th><th>Notebook</th><th>Started</th>
      <th>Duration</th><th>Parameters</th><th>Metrics</th></tr></thead>
    <tbody>
    {%- for run in rows %}
    <tr class="run st-{{ run.status }}" data-status="{{ run.status }}"
        data-notebook="{{ run.notebook }}">
      <td><span class="kit-badge st-{{ run.status }}">
        {{- run.status | replace("_", " ") }}</span></td>
      <td><a class="run-link" href="{{ run | href }}">{{ run.run_id }}</a></td>
      <td>{{ run.notebook }}<span class="version" title="{{ run.version or '' }}">
        {{- run.version | short_version }}</span></td>
      <td class="nowrap">{{ (run.started_at or run.updated_at) | moment }}</td>
      <td class="num">{{ run.duration_seconds | duration }}</td>
      <td class="small">{{ run.chosen_parameters() | pairs(24, 4) }}</td>
      <td class="small">{{ run.headline(3) | pairs(12) }}</td>
    </tr>
    {%- else %}
    <tr><td colspan="7" class="muted">No runs match these filters.</td></tr>
    {%- endfor %}
    </tbody>
  </table>
  {%- if next_href %}
  <p class="pager"><a class="next" href="{{ next_href }}">Next {{ rows | length }} runs</a></p>
  {%- endif %}
</section>
{% endblock %}
"""

RUN = """\
{% extends "layout.html" %}
{% block title %}{{ run.notebook }} / {{ run.run_id }} · kit review{% endblock %}
{% block main %}
<p class="crumbs"><a href="/">All runs</a> ·
  <a href="/?notebook={{ run.notebook | urlencode }}">{{ run.notebook }}</a> ·
  {% if run.has_output %}<a href="{{ run | href }}/output.ipynb">Download .ipynb</a> ·
  <a class="lab-link" href="{{ run | href }}/lab" target="_blank">Open in JupyterLab</a>
  {%- endif %}</p>
{% include "record.html" %}
{%- if problem %}
<p class="muted">The executed notebook cannot be shown: {{ problem }}</p>
{%- elif run.has_output %}
<iframe class="notebook" name="notebook" title="Executed notebook" sandbox=""
        src="{{ run | href }}/notebook"></iframe>
{%- else %}
<p class="muted">This run has no output notebook.</p>
{%- endif %}
{% endblock %}
"""

ERROR = """\
{% extends "layout.html" %}
{% block title %}{{ code }} · kit review{% endblock %}
{% block main %}<section class="error"><h1>{{ code }}</h1><p>{{ message }}</p>
<p><a href="/">Back to all runs</a></p></section>{% endblock %}
"""

TEMPLATES = {
    "record.html": RECORD,
    "layout.html": LAYOUT,
    "index.html": INDEX,
    "run.html": RUN,
    "error.html": ERROR,
}
