"""Every command and option documents itself, and README's example command lines parse."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from kit.cli.main import app, main

README = Path(__file__).resolve().parents[2] / "README.md"


def _walk(
    command: click.Command, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


COMMANDS = dict(_walk(app, ()))


def test_the_cli_has_the_commands_readme_documents() -> None:
    assert {" ".join(p) for p in COMMANDS} >= {
        "run", "publish", "versions", "rollback", "show", "review", "runs", "runs show",
        "runs pull", "runs diff", "runs html", "dev up", "dev env", "dev down", "env check",
        "dag test",
    }  # fmt: skip


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(("kit", *p)))
def test_every_command_and_parameter_has_a_help_text(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    assert (command.help or command.short_help or "").strip(), f"kit {' '.join(path)}"
    for param in command.params:
        text = getattr(param, "help", None) or ""
        assert text.strip(), f"kit {' '.join(path)}: {param.name} has no help text"


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(("kit", *p)))
def test_help_prints_the_usage_of_every_command(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: {' '.join(('kit', *path))} ")
    for param in COMMANDS[path].params:
        if isinstance(param, click.Option):
            assert param.opts[-1] in out  # every option is listed


def test_run_help_lists_the_parameter_option() -> None:
    text = COMMANDS[("run",)].get_help(click.Context(COMMANDS[("run",)], info_name="run"))
    assert "-p, --param KEY VALUE" in text


def _shell_commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line: split at &&, ||, |, ; and inside "$(...)"."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    command: list[str] = []
    for word in [*lex, ";"]:
        if word in ("&&", "||", "|", ";", "&"):
            yield command
            command = []
        elif word.startswith("$(") and word.endswith(")"):
            yield from _shell_commands(word[2:-1])
        else:
            command.append(word)


def readme_examples() -> list[str]:
    """The arguments of every `kit ...` command in README's code blocks."""
    found = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            if not re.search(r"(^|[\s(&|;])(\.venv/bin/)?kit [a-z]", line):
                continue  # output, or another language's block
            for words in _shell_commands(line.removeprefix("$ ")):
                if words and words[0] in ("kit", ".venv/bin/kit"):
                    found.append(shlex.join(words[1:]))
    return found


def test_readme_has_examples_of_the_main_commands() -> None:
    starts = {" ".join(shlex.split(e)[:1]) for e in readme_examples()}
    assert {"run", "publish", "runs", "dev", "dag", "review"} <= starts


@pytest.mark.parametrize("example", readme_examples())
def test_readme_examples_parse(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed by click down to the command, whose callback is not run."""
    parsed: list[click.Context] = []
    monkeypatch.setattr(click.Command, "invoke", lambda self, ctx: parsed.append(ctx))
    args = shlex.split(example)
    with app.make_context("kit", list(args)) as ctx:
        app.invoke(ctx)
    path = parsed[-1].command_path.split()[1:]
    words = [a for a in args if not a.startswith("-")]
    assert path == words[: len(path)]  # the command the example names, parsed to its end
    leaf = parsed[-1].command
    assert not isinstance(leaf, click.Group) or leaf.invoke_without_command


@pytest.mark.parametrize(
    ("args", "params"),
    [
        (["-p", "label", "--help"], (("label", "--help"),)),
        (["-p", "x", "-1", "-p", "flag", "-x"], (("x", "-1"), ("flag", "-x"))),
        (["--param", "when", "--timeout", "--timeout", "5"], (("when", "--timeout"),)),
        (["-p", "a", "--", "-p", "b", "c"], (("a", "--"), ("b", "c"))),
    ],
)
def test_parameter_values_are_taken_verbatim_even_when_they_look_like_options(
    args: list[str], params: tuple[tuple[str, str], ...]
) -> None:
    ctx = COMMANDS[("run",)].make_context("run", ["nb.ipynb", "--run-id", "r1", *args])
    assert ctx.params["params"] == params


def test_a_parameter_without_its_value_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "nb.ipynb", "--run-id", "r1", "-p", "x"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == "kit: error: Option '-p' requires 2 arguments. (see `kit run --help`)\n"
