"""Big code cells: detect-secrets sees only the lines some plugin pattern matches, and finds
exactly what it finds scanning every line (kit.publishing.prefilter)."""

from __future__ import annotations

import configparser
import random
from pathlib import Path

import pytest

from kit.publishing import prefilter, secrets
from kit.publishing.secrets import scan_cells

# Fake credentials, assembled so that this file itself does not hold them verbatim.
PLANTED = [
    'aws_access_key_id = "' + "AKIA" + 'IOSFODNN7EXAMPLE"',
    'token = "' + "ghp_" + 'abcdefghijklmnopqrstuvwxyz0123456789"',
    'slack = "' + "xoxb-" + '123456789012-1234567890123-abcdefghijABCDEFGHIJabcd"',
    'stripe = "' + "sk_live_" + '4eC39HqLyjWDarjtT1zdp7dc"',
    "-----BEGIN " + "RSA PRIVATE KEY-----",
    'jwt = "'
    + "eyJ"
    + 'hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"',
    'url = "https://user:' + 's3cretpass@example.com/x"',
    'password = "' + 'hunter2hunter2"',
    'PASSWORD = "' + 'Hunter2Hunter2"',
    'maps = "' + "AIza" + 'SyA1234567890abcdefghijklmnopqrstuv"',
    'twilio = "' + "AC" + '0123456789abcdef0123456789abcdef"',
    'discord = "' + "MTk4NjIy" + 'NDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"',
    'telegram = "' + "110201543:" + 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"',  # filtered by it
    'mailchimp = "343ea45721923ed956e2b38c31db76aa' + '-us30"',
    'pa\u017f\u017fword = "' + 'hunter2hunter2"',  # long s: re.IGNORECASE folds it to s
    'allowed = "' + "AKIA" + 'IOSFODNN7EXAMPLE"  # pragma: allowlist secret',
]
NEXTLINE = "# pragma: allowlist nextline secret"


def _noise(rnd: random.Random, n: int) -> list[str]:
    kinds = [
        lambda: "    " + ", ".join(f"{rnd.random():.8f}" for _ in range(7)) + ",",
        lambda: f'row = {{"key": {rnd.randint(0, 99)}, "name": "item-{rnd.random():.6f}"}}',
        lambda: f"df = df.assign(col_{rnd.randint(0, 9)}=df.x * {rnd.random():.3f})  # scale",
        lambda: "",
        lambda: '    # \' + "quotes" and : colons . dots - dashes',
    ]
    return [rnd.choice(kinds)() for _ in range(n)]


def _cell(seed: int, crlf: bool = False) -> str:
    rnd = random.Random(seed)
    lines = _noise(rnd, 3000)
    for secret in PLANTED:
        at = rnd.randrange(len(lines))
        lines[at:at] = [NEXTLINE, secret] if rnd.random() < 0.2 else [secret]
    lines.insert(0, PLANTED[0])  # first line
    lines.append(PLANTED[1])  # last line
    lines[100:100] = PLANTED[7:9]  # two adjacent ones
    return ("\r\n" if crlf else "\n").join(lines)


def _unfiltered(cells: list[tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with monkeypatch.context() as m:
        m.setattr(secrets, "_PREFILTER_FROM", 10**9)
        return list(scan_cells(cells))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filtered_scans_find_what_full_scans_find(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = [(4, "code", _cell(seed)), (5, "code", _cell(seed + 10, crlf=True))]
    filtered = scan_cells(cells)
    assert filtered == _unfiltered(cells, monkeypatch)
    kinds = {f.kind for f in filtered}
    for kind in ("AWS Access Key", "GitHub Token", "Slack Token", "Stripe Access Key",
                 "Private Key", "JSON Web Token", "Basic Auth Credentials", "Secret Keyword",
                 "Google API Key", "Twilio API Key", "Discord Bot Token",
                 "Mailchimp Access Key"):  # fmt: skip
        assert kind in kinds, kind


def test_a_big_clean_cell_shows_detect_secrets_no_line(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(0)
    data = "\n".join(
        ["DATA = ["]
        + [f"    {rnd.random():.8f}, {rnd.random():.8f}," for _ in range(20000)]
        + ["]"]
    )
    shown: list[str] = []
    from detect_secrets.core import scan

    real = scan.scan_file

    def spy(path: str):  # type: ignore[no-untyped-def]
        shown.append(Path(path).read_text(encoding="utf-8"))
        return real(path)

    monkeypatch.setattr(scan, "scan_file", spy)
    assert scan_cells([(0, "code", data)]) == []
    assert shown == []  # no line any pattern matches: detect-secrets was not even asked


def test_a_code_cell_detect_secrets_reads_as_ini_is_scanned_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["[database]", "user = me"] + [f"opt{i} = {i}" for i in range(300)]
    lines += ["password =", "    hunter2hunter2"]  # an INI continuation line
    cells = [(0, "code", "\n".join(lines))]
    assert scan_cells(cells) == _unfiltered(cells, monkeypatch)


@pytest.mark.parametrize(
    "first", ["[x]", "[database] ", "[1, 2]", "[]", "x = [1]", "[", "print([1])", "[a]b"]
)
def test_the_section_test_agrees_with_configparser(first: str) -> None:
    # A first line configparser does not take for a [section] makes it refuse the file.
    ours = bool(secrets._SECTION.match(first.strip()))
    assert ours == bool(configparser.RawConfigParser.SECTCRE.match(first.strip()))


def test_every_plugin_pattern_is_understood_for_the_pinned_detect_secrets() -> None:
    # A new kind of plugin, or a pattern the analysis cannot see into, means scanning every
    # line for it: correct, but slow. This pins what the prefilter knows today.
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": secrets._plugins()}):
        patterns = secrets._patterns(("pinned",))
    assert patterns is not None
    blind = [p.regex.pattern for p in patterns if not p.needs]
    assert blind == []
    best = {
        p.regex.pattern: max(p.needs, key=lambda s: (min(map(len, s)), -len(s))) for p in patterns
    }
    assert frozenset({"xox"}) in best.values()  # Slack, case-insensitive
    assert frozenset({"eyJ"}) in best.values()  # JWT
    assert any("password" in s and "secret" in s for s in best.values())  # keywords


def test_required_strings_follow_the_pattern() -> None:
    def needs(pattern: str, flags: int = 0) -> set[frozenset[str]]:
        return set(prefilter.required(__import__("re").compile(pattern, flags)).needs)

    assert needs(r"abc\d+def") == {frozenset({"abc"}), frozenset({"def"})}
    assert needs(r"(?:foo|bar)x?") == {frozenset({"foo", "bar"})}
    assert needs(r"(?:foo|\d+)") == set()  # one alternative requires nothing
    assert needs(r"a*b") == {frozenset({"b"})}
    assert needs(r"(?i)SeCrEt") == {frozenset({"secret"})}
    assert needs(r"[MNO]x") == {frozenset({"M", "N", "O"}), frozenset({"x"})}
    lines = ["nothing here", "a SECRET", "abc 12 def"]
    found = prefilter.matched_lines(
        "\n".join(lines), [prefilter.required(__import__("re").compile(r"(?i)secret"))]
    )
    assert found == {1}
