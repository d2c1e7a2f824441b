"""The package's architecture: a folder per concept, and imports that only run downwards.

Layers, lowest first: the shared leaves (``_errors``, ``_records``), the
waiting core (``_core``), the engines built on it (``_pool``, ``_retry``), the
public concepts (``_wait``, ``_map``, ``_group``), and the package's face
(``__init__``, then ``_demo`` and ``__main__`` on the public names). A
module may import from its own folder and from lower layers; concepts of
one layer never import each other. Every import is checked, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import futures_settle

PACKAGE = Path(futures_settle.__file__).resolve().parent

LAYERS = {
    "_errors": 0,
    "_records": 0,
    "_core": 1,
    "_pool": 2,
    "_retry": 2,
    "_wait": 3,
    "_map": 3,
    "_group": 3,
    "__init__": 4,
    "_demo": 5,  # the demo uses the public names
    "__main__": 6,
}
# Within the leaves, records build on errors and never the other way.
LEAF_ORDER = {"_errors": 0, "_records": 1}


def _room(module: str) -> str:
    """``futures_settle._core.hub`` -> ``_core``; ``futures_settle`` -> ``__init__``."""
    parts = module.split(".")
    assert parts[0] == "futures_settle", module
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import of ours in a module."""
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.startswith("futures_settle")
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("futures_settle"):
                continue
            for alias in node.names:  # ``from . import state`` imports the module state
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if _is_module(sub) else target))
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_every_room_has_a_layer() -> None:
    """Each top-level module or folder of the package is placed in a layer (a new one must be)."""
    rooms = {p.stem for p in PACKAGE.glob("*.py")}
    rooms |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms <= set(LAYERS), rooms - set(LAYERS)


def test_each_folder_says_what_it_holds() -> None:
    """Every folder has an ``__init__.py`` whose docstring says what it may import."""
    for folder in (p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc, folder
        assert "May import" in doc, folder


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda x: str(x))
def test_imports_run_downwards(module: str, path: Path) -> None:
    """No module imports a higher layer, nor a sibling concept of its own layer."""
    room = _room(module)
    wrong = []
    for line, target in _imports(module, path):
        other = _room(target)
        if other == room:
            continue
        if room in LEAF_ORDER and other in LEAF_ORDER:
            ok = LEAF_ORDER[other] < LEAF_ORDER[room]
        else:
            ok = LAYERS[other] < LAYERS[room]
        if not ok:
            wrong.append(f"{path.name}:{line} imports {target}")
    assert not wrong


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    """The parser resolves relative imports, so an upward import would be caught."""
    bad = tmp_path / "hub.py"
    bad.write_text("from .._map.maps import map_all\nfrom . import state\n")
    targets = [t for _, t in _imports("futures_settle._core.hub", bad)]
    assert targets == ["futures_settle._map.maps", "futures_settle._core.state"]
    assert LAYERS[_room(targets[0])] > LAYERS["_core"]


def test_no_module_past_the_ceiling() -> None:
    """No module of the package grows past about 400 lines."""
    long = {
        p.name: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 420
    }
    assert not long


def test_benchmark_modules_never_import_the_runner() -> None:
    """``benchmarks/__main__.py`` runs the others; none of them imports it back (no cycle)."""
    folder = Path(__file__).parent.parent / "benchmarks"
    back = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("__main__"):
                back.append(f"{path.name}:{node.lineno}")
    assert back == []
