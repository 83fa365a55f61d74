"""Append one row to docs/measurements.md: today's date, the commit measured (`-dirty` when the
work tree had changes), the command, its figure and how to reproduce it.

    python3 scripts/measure/record.py --command "`make test`, built tree" --figure "9 min 12 s" --how "`time make test`"
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "measurements.md"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty else "")


def cell(text: str) -> str:
    # A table cell is one line and cannot hold a bare "|".
    return " ".join(text.split()).replace("|", "\\|")


def row(command: str, figure: str, how: str, today: datetime.date | None = None) -> str:
    day = (today or datetime.date.today()).isoformat()
    return f"| {day} | {commit()} | {cell(command)} | {cell(figure)} | {cell(how)} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--command", required=True)
    ap.add_argument("--figure", required=True)
    ap.add_argument("--how", required=True)
    args = ap.parse_args()
    text = PAGE.read_text()
    if not text.endswith("\n"):
        text += "\n"
    PAGE.write_text(text + row(args.command, args.figure, args.how) + "\n")
    print(f"recorded in {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
