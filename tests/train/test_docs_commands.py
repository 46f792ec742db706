"""Every `tasklang ...` command that README.md and the training and evaluation manuals show
names a real command and only options that command has, with values it accepts where they
are not placeholders. The commands train models (minutes each), so they are parsed by the CLI
itself here, not run; a renamed or removed option then fails this test, not a reader."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from tasklang.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/TRAINING.md", "docs/EVALUATING.md", "docs/RESULTS.md")
# What the docs write for "fill this in" or "and so on": such commands are checked up to there.
PLACEHOLDER = re.compile(r"^(\.\.\.|[A-Z][A-Z_]*|OUT/\S*|\S*\bBASE\b\S*)$")


def _commands(text: str) -> list[str]:
    """The `tasklang` command lines of the doc's bash blocks, continuation lines joined."""
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line.startswith("tasklang "):
                out.append(line)
    return out


CASES = [(doc, line) for doc in DOCS for line in _commands((ROOT / doc).read_text(encoding="utf-8"))]


def test_the_docs_show_commands() -> None:
    assert len(CASES) > 40 and {doc for doc, _ in CASES} == set(DOCS)


def _leaf(args: list[str]) -> tuple[click.Command, list[str], str]:
    """The command the arguments name, the arguments left for it, and its name."""
    command: click.Command = main
    name = "tasklang"
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        name, command, args = f"{name} {args[0]}", command.commands[args[0]], args[1:]
    return command, args, name


@pytest.mark.parametrize(("doc", "line"), CASES, ids=[f"{d}:{line[:60]}" for d, line in CASES])
def test_a_documented_command_parses(doc: str, line: str) -> None:
    args = shlex.split(line)[1:]
    for shell in ("<", ">", "|"):  # the shell's redirections and pipes are not the command's
        args = args[: args.index(shell)] if shell in args else args
    elided = "..." in args  # "tasklang train sft ... --device cuda": the options shown are checked
    args = [a for a in args if a != "..."]
    command, rest, name = _leaf(args)
    assert rest == [] or not isinstance(command, click.Group) or rest[0].startswith("-"), (
        f"{doc}: `{line}`: {rest[0]} is not a command of `{name}`")
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
    for token in rest:
        if token.startswith("-") and token != "-" and not re.fullmatch(r"-\d.*", token):
            option = token.split("=")[0]
            assert option in known, f"{doc}: `{line}`: `{name}` has no option {option}"
    if elided or any(PLACEHOLDER.match(a) for a in rest):
        return  # the values are placeholders: the option names were what could be checked
    try:
        command.make_context(name, list(rest), resilient_parsing=False)
    except click.BadParameter as err:
        # a path that exists only after the doc's earlier steps is not the doc's mistake
        if "does not exist" not in str(err):
            raise AssertionError(f"{doc}: `{line}`: {err.format_message()}") from None
    except click.UsageError as err:
        raise AssertionError(f"{doc}: `{line}`: {err.format_message()}") from None
