"""The desk's own subcommands: serve options, demo seeding guarded by demo mode."""
from __future__ import annotations

import pytest

from aduan.cli import build_parser, main


def test_serve_defaults_to_one_worker_and_takes_workers() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve"]).workers == 1
    assert parser.parse_args(["serve", "--workers", "3", "--port", "8100"]).workers == 3


def test_seed_demo_refuses_outside_demo_mode(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DEMO_MODE", "false")
    assert main(["seed-demo"]) == 2
    assert "DEMO_MODE is off" in capsys.readouterr().err


def test_demo_logins_list_the_demo_staff(capsys) -> None:
    assert main(["demo-logins"]) == 0
    out = capsys.readouterr().out
    assert "agent1" in out and "aduan-demo" in out


@pytest.mark.parametrize("argv", [["serve", "--workers", "two"], ["nope"]])
def test_bad_arguments_exit_with_usage(argv) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
