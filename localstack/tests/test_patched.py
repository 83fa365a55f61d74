"""The manifest of patched LocalStack/moto symbols (localstack_hostmode/patched.py): complete, true
of the pinned install, and loud when a symbol moves.

In-process, no LocalStack server: run with ``localstack/bin/pytest-inprocess`` (LocalStack's
interpreter; ``make localstack-test`` does). Under the tools venv, which has no LocalStack, the
module is skipped.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

from conftest import EXTENSION, ROOT

pytest.importorskip("localstack.config", reason="needs LocalStack's interpreter: localstack/bin/pytest-inprocess")

from localstack_hostmode import patched
from localstack_hostmode.patched import PATCHES, Patch, PatchTargetsMoved, verify

PACKAGE = EXTENSION / "localstack_hostmode"


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    """Overrides conftest's: these tests need no LocalStack server."""


# -- the AST scan: every place the extension changes a LocalStack/moto/Twisted symbol ------------

LIBRARIES = ("localstack", "moto", "twisted")
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "remove", "clear", "discard"}


@dataclass(frozen=True)
class Site:
    module: str  # extension module, e.g. "esm"
    line: int
    text: str  # as written: "factory.get_esm_worker", "setattr(worker, name)"
    resolved: str | None  # the library symbol, when the scan can name it

    def __str__(self) -> str:
        return f"{self.module}.py:{self.line} {self.text}" + (f" (= {self.resolved})" if self.resolved else "")


def _is_marker(name: str | None) -> bool:
    """The extension's own "already patched" flags (``_hostmode_*``, ``hostmode_auth_times``)."""
    return name is not None and "hostmode" in name.lower()


class Scanner:
    """Finds patch sites in one module's source:

    1. an assignment, ``setattr``/``delattr``, ``del`` or in-place change (``append``, ``add``, ...)
       whose target resolves, through imports and local aliases (``cls = provider.SqsProvider``), to
       a LocalStack, moto or Twisted symbol;
    2. an assignment to ``__class__`` (an instance adopted by a subclass);
    3. an attribute set to a function defined in the enclosing function (a wrapper installed on an
       instance: ``worker.start = start``);
    4. ``self.<attr> = ...`` inside such a wrapper (a nested function taking ``self``), which
       changes the library object's state.

    The extension's own ``*hostmode*`` marker attributes are not sites."""

    def __init__(self, module: str, source: str) -> None:
        self.module = module
        self.tree = ast.parse(source)
        self.sites: list[Site] = []
        self.constants = {
            t.id: node.value.value
            for node in self.tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for t in node.targets
            if isinstance(t, ast.Name)
        }

    def scan(self) -> list[Site]:
        self._block(self.tree.body, {}, set(), "module")
        return self.sites

    # scope: local name -> dotted path; defs: functions defined in the enclosing bodies; where:
    # "module", "class", "function" or "wrapper" (a function nested in a function, taking self)
    def _block(self, body: list[ast.stmt], scope: dict[str, str], defs: set[str], where: str) -> None:
        for stmt in body:
            self._stmt(stmt, scope, defs, where)

    def _stmt(self, stmt: ast.stmt, scope: dict[str, str], defs: set[str], where: str) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    scope[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    scope[top] = top
            return
        if isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            for alias in stmt.names:
                name = alias.asname or alias.name
                scope[name] = f"{base}.{alias.name}" if stmt.level == 0 else f"<extension>.{alias.name}"
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs.add(stmt.name)
            inner = dict(scope)
            args = [*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs]
            for arg in [*args, stmt.args.vararg, stmt.args.kwarg]:
                if arg is not None:
                    inner.pop(arg.arg, None)
            nested = where in ("function", "wrapper")
            kind = "wrapper" if nested and args and args[0].arg == "self" else "function"
            self._block(stmt.body, inner, set(defs), kind)
            return
        if isinstance(stmt, ast.ClassDef):
            self._block(stmt.body, dict(scope), set(), "class")
            return
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._target(target, stmt.value, scope, defs, where)
            if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                aliased = self._resolve(stmt.value, scope)
                if aliased is not None:
                    scope[stmt.targets[0].id] = aliased
                else:
                    scope.pop(stmt.targets[0].id, None)
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            self._target(stmt.target, stmt.value, scope, defs, where)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self._target(target, None, scope, defs, where)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            for bound in ast.walk(stmt.target):
                if isinstance(bound, ast.Name):
                    scope.pop(bound.id, None)
        for field, value in ast.iter_fields(stmt):
            if field in ("targets", "target") and isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, ast.stmt):
                    self._stmt(item, scope, defs, where)
                elif isinstance(item, (ast.ExceptHandler, ast.match_case)):
                    self._block(item.body, scope, defs, where)
                elif isinstance(item, ast.AST):
                    for node in ast.walk(item):
                        if isinstance(node, ast.Call):
                            self._call(node, scope, defs)

    def _resolve(self, expr: ast.expr, scope: dict[str, str]) -> str | None:
        if isinstance(expr, ast.Name):
            return scope.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self._resolve(expr.value, scope)
            return f"{base}.{expr.attr}" if base else None
        return None

    @staticmethod
    def _library(path: str | None) -> bool:
        return path is not None and path.split(".")[0] in LIBRARIES

    def _add(self, node: ast.AST, text: str, resolved: str | None) -> None:
        self.sites.append(Site(self.module, getattr(node, "lineno", 0), text, resolved))

    def _target(
        self, target: ast.expr, value: ast.expr | None, scope: dict[str, str], defs: set[str], where: str
    ) -> None:
        if isinstance(target, ast.Tuple):
            for t in target.elts:
                self._target(t, None, scope, defs, where)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        if isinstance(target, ast.Attribute) and _is_marker(target.attr):
            return
        path = self._resolve(target if isinstance(target, ast.Attribute) else target.value, scope)
        root: ast.expr = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        library = self._library(path)
        local_function = isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in defs)
        if (
            library
            or (isinstance(target, ast.Attribute) and target.attr == "__class__")
            or (local_function and not (isinstance(root, ast.Name) and root.id in defs))
            or (where == "wrapper" and isinstance(root, ast.Name) and root.id == "self")
        ):
            self._add(target, ast.unparse(target), path if library else None)

    def _call(self, call: ast.Call, scope: dict[str, str], defs: set[str]) -> None:
        func = call.func
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and len(call.args) >= 2:
            obj, name_node = call.args[0], call.args[1]
            name = None
            if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
                name = name_node.value
            elif isinstance(name_node, ast.Name):
                name = self.constants.get(name_node.id)
            if _is_marker(name):
                return
            base = self._resolve(obj, scope)
            value = call.args[2] if len(call.args) > 2 else None
            local_function = isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in defs)
            if self._library(base) or local_function or func.id == "delattr":
                text = f"{func.id}({ast.unparse(obj)}, {ast.unparse(name_node)})"
                resolved = f"{base}.{name}" if self._library(base) and name else None
                self._add(call, text, resolved)
        elif isinstance(func, ast.Attribute) and func.attr in MUTATORS:
            path = self._resolve(func.value, scope)
            if self._library(path):
                self._add(call, ast.unparse(func), path)


def scan(module: str, source: str) -> list[Site]:
    return Scanner(module, source).scan()


def extension_sites() -> list[Site]:
    return [site for path in sorted(PACKAGE.glob("*.py")) for site in scan(path.stem, path.read_text())]


def claims(patch: Patch, site: Site) -> bool:
    return patch.by == site.module and (site.resolved == patch.dotted or site.text in patch.sites)


def test_every_patch_site_is_in_the_manifest():
    sites = extension_sites()
    assert len(sites) >= 30, f"the scan found only {len(sites)} sites: is it still reading the modules?"
    unlisted = [str(s) for s in sites if not any(claims(p, s) for p in PATCHES)]
    assert not unlisted, (
        "patch sites not in localstack_hostmode/patched.py (add an entry: target, by, how, kind, why):\n"
        + "\n".join(unlisted)
    )


def test_every_manifest_change_is_still_made():
    """No stale entry: each symbol the manifest says is changed has a site in its module, and each
    site spelled out in an entry is still in the source."""
    sites = extension_sites()
    stale = [
        f"{p.target} ({p.by}.py, {p.how})"
        for p in PATCHES
        if p.how in patched.CHANGED and not any(claims(p, s) for s in sites)
    ]
    stale += [
        f"{p.target}: no site {text!r} in {p.by}.py"
        for p in PATCHES
        for text in p.sites
        if not any(s.module == p.by and s.text == text for s in sites)
    ]
    assert not stale, "manifest entries no patch site makes:\n" + "\n".join(stale)


@pytest.mark.parametrize(
    "source, text",
    [
        ("from localstack.services.sqs import models\nmodels.SqsQueue.put = None", "models.SqsQueue.put"),
        (
            "def install():\n    from localstack.services.sqs.models import SqsQueue\n"
            "    cls = SqsQueue\n    original = cls.put\n    def put(self):\n        return original(self)\n"
            "    cls.put = put",
            "cls.put",
        ),
        ("import moto.dynamodb.models as m\nsetattr(m.Table, 'get_item', len)", "setattr(m.Table, 'get_item')"),
        ("from localstack.aws import handlers\nhandlers.chain.append(print)", "handlers.chain.append"),
        ("from twisted.web import http\ndel http.Request.write", "http.Request.write"),
        ("def wrap(worker):\n    def stop():\n        pass\n    worker.stop = stop", "worker.stop"),
        ("def wrap(worker):\n    worker.stop = lambda: None", "worker.stop"),
        ("def adopt(poller):\n    poller.__class__ = dict", "poller.__class__"),
        ("def install():\n    def init(self):\n        self._dispatcher = object()", "self._dispatcher"),
    ],
)
def test_the_scan_finds_a_new_patch_site(source, text):
    assert [s.text for s in scan("new", source)] == [text]


def test_the_scan_ignores_what_is_no_patch():
    source = (
        "import copy\nfrom localstack.aws.api import CommonServiceException\n"
        "_PATCHED = '_hostmode_x'\n"
        "class Mine:\n    def __init__(self):\n        self.count = 0\n"
        "def install(cls):\n    exc = CommonServiceException('c', 'm')\n    exc.reasons = []\n"
        "    cls._hostmode_done = True\n    setattr(cls, _PATCHED, True)\n    copy.x = 1\n"
        "    def wrapper(self):\n        pass\n    wrapper._hostmode_original = cls\n"
    )
    assert scan("new", source) == []


# -- the manifest itself --------------------------------------------------------------------------


def test_versions_checked_against_are_the_locked_ones():
    lock = (ROOT / "localstack" / "requirements.lock").read_text()
    pinned = dict(re.findall(r"^([a-z0-9-]+)==([^\s\\]+)", lock, re.M))
    assert {d: pinned.get(d) for d in patched.CHECKED_AGAINST} == patched.CHECKED_AGAINST, (
        "requirements.lock pins other versions than patched.CHECKED_AGAINST: check the patches against "
        "them (localstack/bin/pytest-inprocess, make localstack-test), then update CHECKED_AGAINST"
    )


def test_manifest_entries_are_well_formed():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    keys = [(p.target, p.by) for p in PATCHES]
    assert len(keys) == len(set(keys)), "duplicate (target, by) entries"
    for p in PATCHES:
        assert p.by in modules, p
        assert ":" in p.target and p.target.split(".")[0] in patched.DISTRIBUTION, p
        assert p.why, p


def test_moto_cognitos_own_check_agrees_with_the_manifest():
    from localstack_hostmode import moto_cognito

    by_target = {p.target: p for p in PATCHES if p.by == "moto_cognito"}
    for dotted, params in moto_cognito.EXPECTED.items():
        entry = by_target.get(f"moto.cognitoidp.models:{dotted}")
        assert entry is not None and list(entry.params or ()) == params, dotted
    for name in moto_cognito.REQUIRED_NAMES:
        assert f"moto.cognitoidp.models:{name}" in by_target, name


# -- verify() -------------------------------------------------------------------------------------


def test_verify_passes_on_the_pinned_install():
    """In a fresh interpreter, as at start-up: nothing patched yet."""
    proc = subprocess.run(
        [sys.executable, "-m", "localstack_hostmode.patched"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(EXTENSION)},
        cwd=ROOT / "localstack",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(PATCHES)} entries verified" in proc.stdout


def test_verify_passes_with_every_patch_applied():
    """verify() may run again after start-up (and the tests apply patches in-process)."""
    from localstack_hostmode import (
        cfn_roles,
        cfn_stacks,
        delivery,
        esm,
        moto_capacity,
        moto_cognito,
        moto_transactions,
        speedups,
    )

    esm.install()
    delivery._patch_standard_queue()
    delivery._patch_sns_dispatch()
    moto_transactions.install()
    moto_capacity.install()
    moto_cognito.install()
    cfn_roles.install()
    cfn_stacks.install()
    speedups.fast_moto_item_copies()
    speedups._cache_content_type_parsing()
    # the metric patches start no thread until a metric is recorded
    speedups._aggregate_sqs_metrics()
    speedups._aggregate_lambda_metrics()
    verify()


def _delete(monkeypatch, target: str) -> None:
    module, _, path = target.partition(":")
    owner_path, _, name = path.rpartition(".")
    owner = importlib.import_module(module)
    if type(owner).__name__ == "_ModuleProxy":  # Twisted's deprecation proxy takes no delattr
        owner = object.__getattribute__(owner, "_module")
    for part in filter(None, owner_path.split(".")):
        owner = getattr(owner, part)
    monkeypatch.delattr(owner, name)


def _moved(patches=PATCHES) -> str:
    with pytest.raises(PatchTargetsMoved) as info:
        verify(patches)
    return str(info.value)


def _assert_names(message: str, target: str, by: str) -> None:
    line = next((line for line in message.splitlines() if line.startswith(f"  - {target}:")), None)
    assert line is not None, message
    assert f"{by}.py" in line, message
    checked = ", ".join(f"{d} {v}" for d, v in patched.CHECKED_AGAINST.items())
    assert f"checked against {checked}; running " in message, message


@pytest.mark.parametrize(
    "target, by",
    [
        ("moto.dynamodb.models:DynamoDBBackend.transact_write_items", "moto_transactions"),
        ("twisted.web.http:_parseContentType", "speedups"),
        ("localstack.services.lambda_.invocation.version_manager:record_cw_metric_error", "speedups"),
        ("localstack.services.sqs.provider:SqsProvider._init_cloudwatch_metrics_reporting", "speedups"),
        ("localstack.services.sns.publisher:PublishDispatcher._submit_notification", "delivery"),
        ("moto.cognitoidp.models:CognitoIdpBackend.delete_user_pool", "moto_cognito"),
    ],
)
def test_verify_names_a_removed_symbol(monkeypatch, target, by):
    _delete(monkeypatch, target)
    message = _moved()
    _assert_names(message, target, by)
    assert f"  - {target}: is missing" in message
    assert message.startswith("localstack-hostmode: 1 LocalStack/moto symbol(s)"), message


def test_verify_names_every_symbol_that_moved_at_once(monkeypatch):
    gone = [
        "localstack.services.sns.publisher:PublishDispatcher._submit_notification",
        "localstack.services.lambda_.event_source_mapping.esm_worker:EsmWorker.create",
    ]
    for target in gone:
        _delete(monkeypatch, target)
    message = _moved()
    _assert_names(message, gone[0], "delivery")
    _assert_names(message, gone[1], "esm")
    assert message.startswith("localstack-hostmode: 2 LocalStack/moto symbol(s)"), message


def test_verify_names_a_method_that_became_a_property(monkeypatch):
    from localstack.services.sqs.models import StandardQueue

    monkeypatch.setattr(StandardQueue, "put", property(lambda self: None))
    message = _moved()
    _assert_names(message, "localstack.services.sqs.models:StandardQueue.put", "delivery")
    assert "is a property, expected a method" in message


def test_verify_names_a_changed_signature(monkeypatch):
    from localstack.services.sns.publisher import PublishDispatcher

    monkeypatch.setattr(PublishDispatcher, "_submit_notification", lambda self, notifier, context, subscriber: None)
    message = _moved()
    _assert_names(message, "localstack.services.sns.publisher:PublishDispatcher._submit_notification", "delivery")
    assert "takes (notifier, context, subscriber); the patch expects (notifier, ctx, subscriber) first" in message


def test_verify_names_a_patched_global_no_longer_looked_up(monkeypatch):
    """Twisted binding _parseContentType elsewhere would silently bypass the cache."""
    from twisted.web import http

    monkeypatch.setattr(http.Request, "requestReceived", lambda self, command, path, version: None)
    message = _moved()
    _assert_names(message, "twisted.web.http:_parseContentType", "speedups")
    assert "twisted.web.http:Request.requestReceived no longer looks up _parseContentType" in message


def test_verify_names_a_module_that_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.dynamodb.responses", None)
    message = _moved()
    _assert_names(message, "moto.dynamodb.responses:TRANSACTION_MAX_ITEMS", "moto_transactions")
    assert "cannot be imported" in message


def test_verify_names_an_instance_attribute_no_longer_used(monkeypatch):
    entry = next(p for p in PATCHES if p.target.endswith("SqsProvider._cloudwatch_dispatcher"))
    renamed = Patch(entry.by, entry.target + "_renamed", entry.how, entry.kind, entry.why)
    message = _moved((renamed,))
    _assert_names(message, renamed.target, "speedups")
    assert "is no longer used by SqsProvider's code" in message


def test_start_up_verifies_before_any_patch(monkeypatch):
    """The hook runs first (LocalStack runs on_infra_start hooks by descending hook_priority and
    does not catch their errors: a raise stops start-up) and raises what moved."""
    import tomllib

    from localstack.runtime.hooks import HOOKS_ON_INFRA_START

    from localstack_hostmode import plugins

    group = tomllib.loads((EXTENSION / "pyproject.toml").read_text())["project"]["entry-points"][HOOKS_ON_INFRA_START]
    assert group["hostmode_verify_patches"] == "localstack_hostmode.plugins:hostmode_verify_patches"
    hooks = {
        name: fn
        for name, fn in vars(plugins).items()
        if getattr(getattr(fn, "__pluginspec__", None), "namespace", None) == HOOKS_ON_INFRA_START
    }
    assert set(hooks) == set(group), "on_infra_start hooks and pyproject.toml's entry points differ"
    first = hooks.pop("hostmode_verify_patches")
    assert all(first.hook_priority > getattr(fn, "hook_priority", 0) for fn in hooks.values())

    first()  # the pinned install
    _delete(monkeypatch, "moto.dynamodb.models:DynamoDBBackend.transact_write_items")
    with pytest.raises(PatchTargetsMoved, match=r"DynamoDBBackend\.transact_write_items: is missing"):
        first()
