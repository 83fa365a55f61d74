"""The layout docs/code-map.md describes, held: no import cycle between the Rust files of a
crate, no file whose code (tests aside) outgrows one sitting, every domain flow's tests beside
it in `<flow>_tests.rs`, one file per port among the DynamoDB adapters, each type's `impl`
blocks in one file, and every path the map names present.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRATES = (
    "libs/domain/src",
    "libs/aws/src",
    *(f"functions/{f}/src" for f in sorted(os.listdir(os.path.join(ROOT, "functions")))),
)
MAX_CODE_LINES = 500
# The domain's flows (docs/code-map.md): each has its tests in `<flow>_tests.rs` beside it.
FLOWS = (
    "place",
    "cancel",
    "list_orders",
    "products",
    "inventory",
    "hot_sku",
    "order_status",
    "notify",
    "outbox",
    "expiry",
)
PORTS = {
    "order_store": "OrderStore",
    "product_store": "ProductStore",
    "inventory_store": "InventoryStore",
    "notification_store": "NotificationStore",
}


def _rust_files(crate: str) -> Iterator[str]:
    for dirpath, _, names in os.walk(os.path.join(ROOT, crate)):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _code(path: str) -> str:
    """The file up to its test module: what the crate builds."""
    return _read(path).split("#[cfg(test)]", 1)[0]


def _module(crate: str, path: str) -> str:
    rel = os.path.relpath(path, os.path.join(ROOT, crate))[: -len(".rs")]
    parts = [p for p in rel.split(os.sep) if p != "mod"]
    return "::".join(p for p in parts if p not in ("lib", "main")) or "crate"


def import_graph(crate: str) -> dict[str, set[str]]:
    """Module -> the modules of the same crate its non-test code names (`crate::a::b`,
    `super::x`), each resolved to the deepest module that exists."""
    files = {_module(crate, p): p for p in _rust_files(crate) if not p.endswith("_tests.rs") and "/testing/" not in p}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        code = _code(path)
        parent = module.rsplit("::", 1)[0] if "::" in module else ""
        deps: set[str] = set()
        named = [p.split("::") for p in re.findall(r"\bcrate::([a-z_][a-z0-9_:]*)", code)]
        named += [
            [*(parent.split("::") if parent else []), p] for p in re.findall(r"\bsuper::([a-z_][a-z0-9_]*)", code)
        ]
        for parts in named:
            for k in range(len(parts), 0, -1):
                candidate = "::".join(parts[:k])
                if candidate in files:
                    deps.add(candidate)
                    break
        deps.discard(module)
        # A module may use what its parent declares (`super::Item`): that is one module.
        graph[module] = {d for d in deps if not module.startswith(d + "::")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("crate", CRATES)
def test_no_import_cycle(crate: str) -> None:
    assert cycles(import_graph(crate)) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("crate", CRATES)
def test_no_file_outgrows_one_sitting(crate: str) -> None:
    long = {os.path.relpath(p, ROOT): n for p in _rust_files(crate) if (n := _code(p).count("\n")) > MAX_CODE_LINES}
    assert long == {}, f"over {MAX_CODE_LINES} lines of code (tests aside): split by purpose"


@pytest.mark.parametrize("flow", FLOWS)
def test_every_flow_has_its_tests_beside_it(flow: str) -> None:
    src = os.path.join(ROOT, "libs/domain/src")
    folder = os.path.isdir(os.path.join(src, flow))
    module = os.path.join(src, flow, "mod.rs") if folder else os.path.join(src, f"{flow}.rs")
    tests = os.path.join(src, flow, f"{flow}_tests.rs") if folder else os.path.join(src, f"{flow}_tests.rs")
    assert os.path.exists(tests), f"{flow}: no {os.path.relpath(tests, ROOT)}"
    assert f'#[path = "{flow}_tests.rs"]' in _read(module), f"{flow}: tests not declared"


def test_one_adapter_file_per_port_and_each_types_impls_in_one_file() -> None:
    dynamo = os.path.join(ROOT, "libs/aws/src/dynamo")
    for file, port in PORTS.items():
        code = _code(os.path.join(dynamo, f"{file}.rs"))
        assert re.search(rf"^impl {port} for \w+", code, re.M), f"{file}.rs does not implement {port}"
    homes: dict[str, set[str]] = {}
    for path in _rust_files("libs/aws/src"):
        for typ in re.findall(r"^impl(?:<[^>]*>)? (?:\w+ for )?(\w+)", _code(path), re.M):
            homes.setdefault(typ, set()).add(os.path.relpath(path, ROOT))
    assert {t: f for t, f in homes.items() if len(f) > 1} == {}


def test_every_path_the_code_map_names_exists() -> None:
    text = _read(os.path.join(ROOT, "docs/code-map.md"))
    bases = (
        "",
        "libs/domain/src/",
        "libs/aws/src/dynamo/",
        "libs/domain/src/testing/",
        "tests/e2e/",
        "functions/orders-api/src/",
        "libs/domain/src/inventory/",
        "libs/domain/src/list_orders/",
        "tests/support/",
        "tests/tools/",
        "localstack/",
    )
    named = set(re.findall(r"`([A-Za-z0-9_./-]+\.(?:rs|py|yaml))`", text))
    missing = sorted(n for n in named if not any(os.path.exists(os.path.join(ROOT, b, n)) for b in bases))
    assert missing == []
