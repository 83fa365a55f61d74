"""The README's API table agrees with the contract, infra/openapi.yaml: the same routes, and for
each the same answers, except those every route may give, which the README states once in prose
(401 no valid access token, 403 no valid API key or not an operator, 429 throttled, 503
unavailable)."""

from __future__ import annotations

import os
import re

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EVERY_ROUTE = {"401", "403", "429", "503"}
METHODS = ("get", "put", "post", "patch", "delete")


def contract() -> dict[tuple[str, str], set[str]]:
    with open(os.path.join(ROOT, "infra", "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    return {
        (method.upper(), path): set(op["responses"]) - EVERY_ROUTE
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def readme_table() -> dict[tuple[str, str], set[str]]:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("\n## The API at a glance\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `(GET|PUT|POST|PATCH|DELETE) (/\S*)`[^|]*\|[^|]*\|(.*)\|\s*$", line)
        if m:
            rows[(m[1], m[2])] = set(re.findall(r"`(\d{3})`", m[3]))
    return rows


def test_the_readme_lists_every_route_of_the_contract_with_its_answers():
    doc, readme = contract(), readme_table()
    assert set(readme) == set(doc), f"routes: README {sorted(readme)} vs contract {sorted(doc)}"
    differ = {route: (sorted(readme[route]), sorted(doc[route])) for route in doc if readme[route] != doc[route]}
    assert not differ, f"answers (README, contract): {differ}"
