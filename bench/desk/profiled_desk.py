"""``aduan serve`` under pyinstrument (bench_desk.py --profile-desk): SIGUSR1 writes the text report.

Sanic owns SIGTERM/SIGINT and leaves the process without returning through a
profiler started by ``python -m pyinstrument``, so the report is written on a
signal of its own instead, while the desk still runs.
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from pyinstrument import Profiler


def main() -> int:
    out = Path(sys.argv[1])
    profiler = Profiler(interval=0.001)
    profiler.start()

    def dump(_signum: int, _frame: object) -> None:
        profiler.stop()
        out.write_text(profiler.output_text(unicode=True, show_all=False))

    signal.signal(signal.SIGUSR1, dump)
    from aduan.cli import main as aduan

    return aduan(["serve"])


if __name__ == "__main__":
    sys.exit(main())
