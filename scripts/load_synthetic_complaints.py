#!/usr/bin/env python3
"""Load one year of synthetic complaints (the published 2022 distribution) into DATABASE_URL.

Same as ``aduan load-synthetic --year 2022``; kept as a script for operators
who look in scripts/.
"""
import sys

from aduan.cli import main

if __name__ == "__main__":
    sys.exit(main(["load-synthetic", *sys.argv[1:]]))
