"""The command line's face: every verb in exactly one group of `gpbench --help`, every option explained."""

import argparse
import re

import pytest

from gpbench.cli import VERB_GROUPS, build_parser, main


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_every_verb_is_listed_in_exactly_one_group():
    grouped = [verb for group in VERB_GROUPS.values() for verb in group]
    assert sorted(grouped) == sorted(subcommands(build_parser())) and len(grouped) == len(set(grouped))


def test_every_option_of_every_verb_has_help():
    missing = []
    for verb, parser in subcommands(build_parser()).items():
        for name, sub in [(verb, parser)] + [(f"{verb} {action}", p) for action, p in subcommands(parser).items()]:
            missing += [f"{name} {action.dest}" for action in sub._actions
                        if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []


def test_help_shows_the_verbs_by_group_with_their_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: gpbench [-h] [--version] VERB ...")
    positions = [text.index(f"\n{title}:\n") for title in VERB_GROUPS]
    assert positions == sorted(positions)
    assert re.search(r"\n  train +train one run from a YAML run config", text)
    assert re.search(r"\n  inception-weights +put the official Inception weights", text)
    assert "==SUPPRESS==" not in text
