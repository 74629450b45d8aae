"""The review web page (`kit review`) and kit's HTML for runs.

jinja.py         the Jinja environment (templates/, autoescaped) and stylesheets (static/)
routes.py        a request path -> a Response: which page answers, errors, CSP headers
runs_page.py     /            runs newest first, filters, one chart per metric
chart.py         the charts' series, scales and ticks (drawn by templates/chart.svg)
run_page.py      /runs/<name>/<run-id>/...   one run: record, notebook inline, files
artifacts.py     the files a run wrote under its folder, and how each is served
compare_page.py  /compare?run=A&run=B        two runs: changes and nbdime's cell diff
notebook.py      executed notebooks as HTML (nbconvert), the run record block
"""
