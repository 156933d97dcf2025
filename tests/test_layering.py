"""The layer contract: one ordered list of layers covers every module under ``src/pitstop``.

``LAYERS`` runs top to bottom (docs/architecture.md says what each layer owns). A module
may import only modules of its own top-level package or module, or of a layer below its
own; siblings in one layer (``a | b``) never import each other. Every import counts:
module level, inside functions, under ``TYPE_CHECKING``. A module whose package or
top-level module is in no layer fails the test, so nothing goes unchecked.

Separately, no import loop: no chain of imports among pitstop's modules comes back to
where it started, within a package or across packages.

Each failure names the file and line of the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "pitstop"

# Top to bottom. A name is a package under src/pitstop or a top-level module; ``pitstop``
# is the package's own ``__init__`` (the version).
LAYERS: list[str] = [
    "cli",  # the command line: parses, calls one layer down, prints
    "demo | sweep",  # whole programs built from the layers below
    "client | doctor | serve",  # the Python client, instance checks, the dashboard
    "supervisor | simulate",  # the daemon and the simulator: both drive core.lifecycle
    "inbox | job_views | queue",  # services: S3 drops -> jobs; the queue as text; rows, cancel
    "intake",  # a trainer's files -> a validated job, created exactly once
    "trainers | fleet | image_builder",  # training backends; AWS capacity; the GPU image
    "evaluation",  # evaluation jobs, laps, results, tuning, the leaderboard
    "store",  # S3: key layout, the object-store port, jobs, leases, listing
    "reward_funcs | action_space | templates",  # DeepRacer knowledge; Jinja templates
    "tracks",  # track waypoints
    "config | deadlines | extras | files | logs | tables",  # settings, helpers, log set-up
    "core",  # states, ids, records, times, events, the lifecycle: every decision
    "errors | pitstop",  # every error pitstop raises; the version
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted (a package's __init__ is the package)
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(modules: dict[str, Path]) -> Iterator[Import]:
    """Every import of a pitstop module by a pitstop module. ``from a import b`` is an
    import of ``a.b`` when that is a module, else of ``a``."""
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([base] if base else [])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            else:
                continue
            seen: set[str] = set()
            for target in targets:
                if target == "pitstop" or target.startswith("pitstop."):
                    while target not in modules:  # pitstop.x.y where y is a name in x
                        target = target.rpartition(".")[0]
                    if target not in seen:
                        seen.add(target)
                        yield Import(name, target, path, node.lineno)


def _unit(module: str) -> str:
    """The layered part a module belongs to: its top-level package or module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pitstop"


def _layer_of() -> dict[str, int]:
    """Unit -> its layer's index, 0 at the top."""
    out: dict[str, int] = {}
    for i, layer in enumerate(LAYERS):
        for unit in (u.strip() for u in layer.split("|")):
            assert unit not in out, f"{unit} is in two layers"
            out[unit] = i
    return out


def test_every_module_is_in_a_layer() -> None:
    layer_of = _layer_of()
    units = {_unit(m) for m in _modules()}
    missing = sorted(
        f"{path.relative_to(SRC.parent)}: pitstop.{_unit(m)} is in no layer of LAYERS"
        for m, path in _modules().items()
        if _unit(m) not in layer_of
    )
    stale = sorted(f"LAYERS names {u!r}, which is no module" for u in set(layer_of) - units)
    assert missing + stale == [], "\n".join(missing + stale)


def test_no_module_imports_upward_or_sideways() -> None:
    layer_of = _layer_of()
    wrong = []
    for imp in _imports(_modules()):
        src, dst = _unit(imp.source), _unit(imp.target)
        if src == dst or src not in layer_of or dst not in layer_of:
            continue  # within one package; a module in no layer fails the test above
        if layer_of[dst] < layer_of[src]:
            wrong.append(f"{imp.where()}: {imp.source} imports {imp.target} (a higher layer)")
        elif layer_of[dst] == layer_of[src]:
            wrong.append(
                f"{imp.where()}: {imp.source} imports {imp.target} "
                f"(siblings in {LAYERS[layer_of[src]]!r} are independent)"
            )
    assert wrong == [], "imports against LAYERS:\n" + "\n".join(wrong)


def _cycles(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
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


def test_no_import_loops() -> None:
    modules = _modules()
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in _imports(modules):
        if imp.target != imp.source:
            edges[imp.source].setdefault(imp.target, imp)
    loops = []
    for component in _cycles(edges):
        members = set(component)
        lines = [
            f"  {imp.where()}: {imp.source} imports {imp.target}"
            for m in component
            for target, imp in sorted(edges[m].items())
            if target in members
        ]
        loops.append(f"loop among {', '.join(component)}:\n" + "\n".join(lines))
    assert loops == [], "\n".join(loops)


def test_the_contract_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The walker counts what a module-level-only reading would miss."""
    pkg = tmp_path / "pitstop" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "pitstop" / "__init__.py").write_text("")
    (tmp_path / "pitstop" / "low.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pitstop import low\n    from . import b\n")
    (pkg / "b.py").write_text("from .. import low\n")
    modules = {
        ".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted(tmp_path.rglob("*.py"))
    }
    got = {(i.source, i.target, i.line) for i in _imports(modules)}
    assert got == {
        ("pitstop.pkg.a", "pitstop.low", 2),
        ("pitstop.pkg.a", "pitstop.pkg.b", 3),
        ("pitstop.pkg.b", "pitstop.low", 1),
    }
