"""Every relative link in the repository's Markdown resolves: the file or directory exists, and an
anchor (`#...`, in the same file or another Markdown file) names one of that file's headings as
GitHub slugs them. External links (http, mailto) are not fetched: the machines this runs on
have no internet."""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# [text](target) and ![alt](target); the target ends at whitespace (a "title") or ")".
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_files() -> list[str]:
    # Tracked and new (not ignored) files: a page added in this change is checked before its commit.
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"]
    out = subprocess.run(listing, cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(p for p in out.stdout.split() if os.path.exists(os.path.join(ROOT, p)))


def prose(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, inline code removed (links in code are not links)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", "", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (inline code keeps its
    text), spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: str) -> frozenset[str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m[1])
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def broken_links(relpath: str) -> list[str]:
    path = os.path.join(ROOT, relpath)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    for number, line in prose(text):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            resolved = path if not file_part else os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            where = f"{relpath}:{number}: {target}"
            if not os.path.exists(resolved):
                problems.append(f"{where}: no such file")
            elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                problems.append(f"{where}: no heading with anchor #{anchor}")
    return problems


@pytest.mark.parametrize("relpath", markdown_files())
def test_every_relative_link_and_anchor_resolves(relpath):
    assert not broken_links(relpath)


def test_the_slugs_are_githubs():
    assert slug("Cognito user pools `cognito-idp:moto`") == "cognito-user-pools-cognito-idpmoto"
    assert slug("Past one partition: capacity and a hot SKU") == "past-one-partition-capacity-and-a-hot-sku"
    assert slug("Calls per order (measured)") == "calls-per-order-measured"


def test_a_broken_anchor_is_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n[ok](#two-words) [bad](#three-words)\n")
    found = broken_links(os.path.relpath(tmp_path / "a.md", ROOT))
    assert len(found) == 1 and "#three-words" in found[0]
