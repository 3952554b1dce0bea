"""The layers of ARCHITECTURE.md, as a contract the suite enforces.

Data flows one way::

    spec -> engine -> model -> mechanisms -> results -> experiments -> plots, cli

A module may import from its own layer and the layers before it, never from a
later one; and no two modules import each other, directly or round a longer
loop. Imports inside functions count too: hiding an import in a function is
how a cycle hides. Only ``vsim/__init__.py`` (the front door, which gathers
the public names) and ``vsim/_compat.py`` (old import paths) stand outside.
"""

from __future__ import annotations

import ast
import textwrap

import pytest
from conftest import ROOT

LAYERS = ["spec", "engine", "model", "mechanisms", "results", "experiments", "top"]
TOP = {"vsim.plots", "vsim.widgets", "vsim.cli", "vsim.__main__"}  # the last layer: what users see
OUTSIDE = {"vsim", "vsim._compat"}

# Known exceptions, each with its reason; the suite fails if one is no longer needed.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(mod: str) -> int | None:
    if mod in OUTSIDE:
        return None
    if mod in TOP:
        return LAYERS.index("top")
    parts = mod.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if mod in ("vsim.profiles", "vsim.validation", "vsim.fonts"):  # package data (profiles, validation cases, fonts)
        return 0
    raise AssertionError(f"{mod}: not in any layer; put it in one (see ARCHITECTURE.md)")


def imports_of(path, known: set[str], typing_too: bool = True) -> set[str]:
    """The vsim modules ``path`` imports, at any depth in the file (with
    ``typing_too=False``, leaving out those under ``if TYPE_CHECKING:``, which
    never run and so make no cycle)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path)
    skip: set[int] = set()
    if not typing_too:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                pkg = me.split(".")[: len(me.split(".")) - node.level + (path.name == "__init__.py")]
                base_mod = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base_mod = node.module or ""
            names = [base_mod] + [f"{base_mod}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if not n.startswith("vsim"):
                continue
            # the longest known module the name is or lies in (``from vsim.model
            # import world`` imports vsim.model and vsim.model.world)
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n and n != me:
                out.add(n)
    return out


def graph(typing_too: bool = True) -> dict[str, set[str]]:
    files = sorted((ROOT / "vsim").rglob("*.py"))
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known, typing_too) for p in files}


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in sorted(g.items()):
        mine = layer_of(mod)
        if mine is None:
            continue
        for dep in sorted(deps):
            theirs = layer_of(dep)
            if theirs is not None and theirs > mine and (mod, dep) not in ALLOWED:
                bad.append(f"{mod} ({LAYERS[mine]}) imports {dep} ({LAYERS[theirs]})")
    return bad


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w in OUTSIDE:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index and v not in OUTSIDE:
            visit(v)
    return out


def test_no_upward_import():
    bad = upward_imports(graph())
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycle():
    found = cycles(graph(typing_too=False))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_exceptions_are_still_needed():
    g = graph()
    stale = [f"{a} -> {b}" for a, b in ALLOWED if b not in g.get(a, set())]
    assert not stale, f"ALLOWED lists imports that no longer exist: {stale}"


# -- the checker itself catches what it should ------------------------------------------

def _write(tmp_path, files: dict[str, str]):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    import test_architecture as me

    monkeypatch.setattr(me, "ROOT", tmp_path)
    for pkg in ("vsim", "vsim/spec", "vsim/model", "vsim/results"):
        _write(tmp_path, {f"{pkg}/__init__.py": ""})
    return tmp_path


def test_checker_finds_an_upward_import_hidden_in_a_function(fake_root):
    _write(fake_root, {
        "vsim/model/world.py": "def run():\n    from vsim.results.tables import Results\n",
        "vsim/results/tables.py": "X = 1\n",
    })
    assert upward_imports(graph()) == ["vsim.model.world (model) imports vsim.results.tables (results)"]


def test_checker_finds_a_cycle_inside_a_layer(fake_root):
    _write(fake_root, {
        "vsim/spec/scenario.py": "from vsim.spec.profile import Profile\n",
        "vsim/spec/profile.py": "def f():\n    from vsim.spec import scenario\n",
    })
    assert cycles(graph()) == [["vsim.spec.profile", "vsim.spec.scenario"]]
    assert upward_imports(graph()) == []


def test_checker_leaves_type_only_imports_out_of_cycles(fake_root):
    _write(fake_root, {
        "vsim/model/guest.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vsim.model.host import Host\n",
        "vsim/model/host.py": "from vsim.model.guest import Guest\n",
    })
    assert cycles(graph(typing_too=False)) == []
    assert cycles(graph()) == [["vsim.model.guest", "vsim.model.host"]]


def test_checker_accepts_downward_imports(fake_root):
    _write(fake_root, {
        "vsim/results/tables.py": "from vsim.model import world\nimport vsim.spec.scenario\n",
        "vsim/model/world.py": "from vsim.spec.scenario import Scenario\n",
        "vsim/spec/scenario.py": "",
    })
    g = graph()
    assert g["vsim.results.tables"] == {"vsim.model", "vsim.model.world", "vsim.spec.scenario"}
    assert upward_imports(g) == [] and cycles(g) == []
