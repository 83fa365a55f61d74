"""`make flake-hunt N=10`: the live stages of `make test`, N rounds on the stack `make up` deployed,
and per test how often it failed and why, first time. A test that fails in some rounds and not in
others is a flake; each is to be fixed at its cause, never by retrying its assertion.

Stages (STAGES, comma-separated, default all): e2e and e2e-under-faults (per test, from their
JUnit reports), api-contract (per schemathesis operation), flash-sale and soak-short (one result
each: the command's exit status and its last line). It does not stop at a failure: the report
is the point. Writes .build/flake-hunt/report.md and exits 1 if anything failed.

    .venv/tools/bin/python scripts/make/flake_hunt.py --rounds 10 [--stages e2e,flash-sale]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".build" / "flake-hunt"
TOOLS = os.environ.get("TOOLS_BIN", ".venv/tools/bin")

# name -> (command, how its results are read); the same commands `make test` runs.
STAGES: dict[str, list[str]] = {
    "e2e": ["scripts/make/e2e.sh"],
    "api-contract": ["scripts/make/api-contract.sh"],
    "flash-sale": ["make", "-s", "flash-sale", "N=150", "CLIENTS=16", "UNITS=60"],
    "e2e-under-faults": ["scripts/make/e2e-under-faults.sh"],
    "soak-short": [f"../../{TOOLS}/python", "-m", "soak", "--n", "150", "--kills", "1", "--outage", "10"],
}


@dataclass
class Tally:
    runs: int = 0
    failures: int = 0
    first: str = ""
    rounds: list[int] = field(default_factory=list)

    def add(self, round_no: int, failure: str | None) -> None:
        self.runs += 1
        if failure is not None:
            self.failures += 1
            self.rounds.append(round_no)
            self.first = self.first or f"round {round_no}: {failure}"


def junit_results(path: Path) -> dict[str, str | None]:
    """test id -> None (passed) or the first line of its failure; skipped tests are not results."""
    results: dict[str, str | None] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if case.find("skipped") is not None:
            continue
        if bad is None:
            results[name] = None
        else:
            text = (bad.get("message") or bad.text or "failed").strip()
            results[name] = " ".join(text.split())[:300]
    return results


def run_stage(stage: str, round_no: int) -> tuple[int, dict[str, str | None], str]:
    prefix = OUT / f"r{round_no:02d}-{stage}"
    env = dict(os.environ, E2E_JUNIT=str(prefix))
    cwd = ROOT / "scripts" / "measure" if stage == "soak-short" else ROOT
    log = prefix.with_suffix(".log")
    with open(log, "w") as f:
        rc = subprocess.run(STAGES[stage], cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    results: dict[str, str | None] = {}
    reports = sorted(OUT.glob(f"{prefix.name}-*.xml"))
    if stage == "api-contract":
        reports = sorted((ROOT / ".build" / "api-contract").glob("*.xml"))
    for report in reports:
        results.update(junit_results(report))
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    last = lines[-1][:300] if lines else ""
    return rc, results, last


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--stages", default=",".join(STAGES))
    args = ap.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("r*"):
        old.unlink()
    tallies: dict[str, Tally] = defaultdict(Tally)
    started = time.monotonic()
    for round_no in range(1, args.rounds + 1):
        for stage in stages:
            t0 = time.monotonic()
            rc, results, last = run_stage(stage, round_no)
            for test, failure in results.items():
                tallies[f"{stage}: {test}"].add(round_no, failure)
            # The stage as a whole: it can fail where no single test does (a rule that never
            # fired, the soak's recount, a test that errored at collection).
            tallies[f"{stage} (stage)"].add(round_no, None if rc == 0 else f"exit {rc}: {last}")
            failed = sum(1 for f in results.values() if f is not None)
            print(
                f"round {round_no}/{args.rounds} {stage}: exit {rc}, {len(results)} results, {failed} failed,"
                f" {time.monotonic() - t0:.0f}s",
                flush=True,
            )
    flaky = {k: t for k, t in tallies.items() if t.failures}
    lines = [
        f"# Flake hunt: {args.rounds} rounds of {', '.join(stages)} ({time.monotonic() - started:.0f} s)",
        "",
        f"{len(tallies)} results tracked, {len(flaky)} with a failure.",
        "",
        "| test | failed / runs | rounds | first failure |",
        "|---|---|---|---|",
    ]
    for name, t in sorted(flaky.items(), key=lambda kv: -kv[1].failures):
        lines.append(f"| {name} | {t.failures} / {t.runs} | {t.rounds} | {t.first.replace('|', '/')} |")
    report = "\n".join(lines) + "\n"
    (OUT / "report.md").write_text(report)
    print("\n" + report)
    return 1 if flaky else 0


if __name__ == "__main__":
    sys.exit(main())
