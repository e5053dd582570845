"""``aduan load-synthetic``, ``aduan report`` and ``aduan report-reminders`` against the test database."""
from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from aduan.cli import main
from storage.db import Database


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


async def run(*argv: str) -> int:
    # The CLI runs its own event loop; keep it off the test's loop.
    return await asyncio.to_thread(main, list(argv))


async def test_load_then_report_writes_three_files(database: Database, cli_env: None, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("load-synthetic", "--year", "2022") == 0
    assert "7578 synthetic complaints loaded" in capsys.readouterr().out
    assert await run("report", "--period", "2022", "--out", str(tmp_path)) == 0
    printed = capsys.readouterr().out.split()
    names = sorted(Path(p).name for p in printed)
    assert names == ["laporan-pengaduan-2022.csv", "laporan-pengaduan-2022.html", "laporan-pengaduan-2022.xlsx"]

    rows = list(csv.reader((tmp_path / "laporan-pengaduan-2022.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert next(r for r in rows if r and r[0] == "Keringanan")[2] == "2444"
    assert next(r for r in rows if r and r[0] == "Jumlah")[2] == "7578"
    sheet = load_workbook(tmp_path / "laporan-pengaduan-2022.xlsx")["Laporan"]
    assert sheet["B2"].value == "PT Dana Contoh Indonesia"
    page = (tmp_path / "laporan-pengaduan-2022.html").read_text(encoding="utf-8")
    assert "Tahun 2022" in page and "Unduh XLSX" not in page  # the standalone file has no links


async def test_report_quarter_in_one_format(database: Database, cli_env: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert await run("report", "--period", "2026-Q3", "--out", str(out), "--format", "csv") == 0
    assert [p.name for p in out.iterdir()] == ["laporan-pengaduan-2026-Q3.csv"]


@pytest.mark.parametrize("argv", [["report", "--period", "2026-13"], ["report", "--period", "2026-10", "--format", "pdf"]])
async def test_report_rejects_bad_arguments(database: Database, cli_env: None, tmp_path: Path, argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert await run(*argv, "--out", str(out)) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


async def test_reminders_command_is_idempotent(database: Database, cli_env: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # On Friday 6 November 2026 October's report (due Friday 13 November) is 5 working days away.
    assert await run("report-reminders", "--today", "2026-11-06") == 0
    assert "1 new reminder(s)" in capsys.readouterr().out
    assert await run("report-reminders", "--today", "2026-11-06") == 0
    assert "0 new reminder(s)" in capsys.readouterr().out


async def test_missing_tables_get_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert await run("report", "--period", "2022", "--out", str(tmp_path / "out")) == 1
    assert "migrations" in capsys.readouterr().err
    assert await run("load-synthetic", "--year", "2022", "--create-tables") == 0
    assert await run("report", "--period", "2022", "--out", str(tmp_path / "out"), "--format", "csv") == 0
