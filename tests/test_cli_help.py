"""Every ``--help`` (the 10 subcommands, their sub-actions, the eval/ and train/ scripts) is plain text:
no reStructuredText markup such as double backticks or ``:func:`` roles leaks from docstrings."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from conftest import load_script

from aigve.cli import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[1]
MARKUP = re.compile(r"``|:(func|class|meth|mod|attr|data|ref):`")


def _parsers(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _script(folder: str, name: str):
    return load_script(folder, name)


def test_every_subcommand_is_covered():
    names = {n.split()[1] for n, _ in _parsers(build_parser(), "aigve") if n.count(" ") == 1}
    assert names == {c.replace("_", "-") for c in COMMANDS} or names == set(COMMANDS)


@pytest.mark.parametrize("name,parser", list(_parsers(build_parser(), "aigve")), ids=lambda v: str(v)[:40])
def test_aigve_help_is_plain_text(name, parser):
    text = parser.format_help()
    assert not MARKUP.search(text), f"{name} --help: {MARKUP.search(text).group()!r} in\n{text}"


@pytest.mark.parametrize("script", ["refine_prompts", "report_aigve_bench"])
def test_eval_script_help_is_plain_text(script):
    text = _script("eval", script).build_parser().format_help()
    assert not MARKUP.search(text), text
