"""The import graph of everything under backend/, read with ``ast`` (nothing is imported):

- no import cycle;
- no module of ``apps.core`` imports another app;
- no app imports one in its own layer or above (the table in ``apps/README.md``), nor ``config``
  (tests and ``conftest.py`` may import any app: they exercise the apps together);
- ``sigverify`` and ``x937`` import nothing from Django, DRF, Celery, ``apps`` or ``config``.
- the product (``apps``, ``config``, ``sigverify``) never imports ``testsupport``, which the tests share.

An import cycle counts every import, also those inside functions: a service module imports
its tasks at module level, and each task calls code (``runs``, ``batch_runs``, ``promotion``)
that imports neither, so no deferred import is needed to break a cycle.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[1]
LAYER_TABLE = BACKEND / "apps" / "README.md"
NOT_IN_SIGVERIFY = (
    "django",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "celery",
    "kombu",
    "apps",
    "config",
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module under backend/, or the top-level name of another package
    line: int


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(BACKEND.rglob("*.py")):
        parts = list(path.relative_to(BACKEND).with_suffix("").parts)
        if any(p == "__pycache__" or p.startswith(".") for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names[".".join(parts)] = path
    return names


MODULES = module_names()


def _resolve(name: str) -> str:
    """The module under backend/ that ``name`` is or lies in; else its top-level package."""
    candidate = name
    while candidate:
        if candidate in MODULES:
            return candidate
        candidate = candidate.rpartition(".")[0]
    return name.split(".")[0]


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):  # also imports inside functions
        if isinstance(node, ast.Import):
            found.extend(Import(module, _resolve(a.name), node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            parent = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # ``from package import submodule`` imports the submodule
                sub = f"{parent}.{alias.name}"
                found.append(Import(module, _resolve(sub if sub in MODULES else parent), node.lineno))
    return [i for i in found if i.target != module]


ALL_IMPORTS = [i for m in MODULES for i in imports_of(m)]


def app_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "apps" and len(parts) > 1 and (BACKEND / "apps" / parts[1]).is_dir():
        return parts[1]
    return None


def is_test_code(module: str) -> bool:
    parts = module.split(".")
    return "tests" in parts or parts[-1] == "conftest"


def layers() -> dict[str, int]:
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|", LAYER_TABLE.read_text(), flags=re.MULTILINE)
    return {app: int(layer) for layer, app in rows}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_walk_sees_the_whole_backend():
    assert {
        "config.settings.base",
        "apps.core.exceptions",
        "apps.training.services",
        "sigverify.train",
        "scripts.run_dev",
        "manage",
    } <= set(MODULES)
    assert any(i.source == "apps.training.runs" and i.target == "apps.modelregistry.services" for i in ALL_IMPORTS)


def test_no_import_cycle():
    edges: dict[str, set[str]] = {}
    for i in ALL_IMPORTS:
        if i.target in MODULES:
            edges.setdefault(i.source, set()).add(i.target)
    assert cycles(edges) == []


def test_the_cycle_check_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_app_has_a_layer():
    declared = layers()
    present = {p.name for p in (BACKEND / "apps").iterdir() if (p / "__init__.py").is_file()}
    assert present - set(declared) == set(), f"add these apps to the table in {LAYER_TABLE}"
    assert declared["core"] == min(declared.values())


def offences(rule) -> list[str]:
    return [f"{i.source}:{i.line} imports {i.target}" for i in ALL_IMPORTS if rule(i)]


def test_core_imports_no_other_app():
    assert (
        offences(
            lambda i: (
                app_of(i.source) == "core" and not is_test_code(i.source) and app_of(i.target) not in (None, "core")
            )
        )
        == []
    )


def test_apps_import_only_lower_layers_and_never_config():
    declared = layers()

    def against_layers(i: Import) -> bool:
        source, target = app_of(i.source), app_of(i.target)
        if source is None or is_test_code(i.source):
            return False
        if i.target.split(".")[0] == "config":
            return True
        return target is not None and target != source and declared[target] >= declared[source]

    assert offences(against_layers) == []


def test_the_product_never_imports_testsupport():
    product = ("apps", "config", "sigverify", "x937", "scripts", "manage")
    assert (
        offences(
            lambda i: (
                i.source.split(".")[0] in product
                and not is_test_code(i.source)
                and i.target.split(".")[0] == "testsupport"
            )
        )
        == []
    )


def test_sigverify_needs_no_django():
    assert (
        offences(
            lambda i: i.source.split(".")[0] in ("sigverify", "x937") and i.target.split(".")[0] in NOT_IN_SIGVERIFY
        )
        == []
    )


@pytest.mark.parametrize(
    "source, target, allowed",
    [
        ("apps.core.services", "apps.modelregistry.selectors", False),
        ("apps.modelregistry.services", "apps.signers.services", False),
        ("apps.signers.services", "apps.modelregistry.serving", True),
        ("apps.accounts.services", "apps.modelregistry.models", False),  # same layer
        ("apps.training.services", "config.settings", False),
    ],
)
def test_the_layer_rule_on_examples(source, target, allowed):
    declared = layers()
    s, t = app_of(source), app_of(target)
    refused = target.startswith("config") or (t is not None and t != s and declared[t] >= declared[s])
    assert refused is not allowed
