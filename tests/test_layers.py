"""The packages stay in layers and the modules stay small.

Every module's imports are read with ``ast`` (nothing is imported or run). A package may
import only the packages to its left in ``LAYERS``; ``run.py`` may import all of them. An
import inside ``if TYPE_CHECKING:`` counts too: a type that lives above is still a backwards
dependency. The package graph must have no cycle, and no module outside tests/ and bench/
may be longer than ``MAX_LINES``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Left to right: a package imports only packages to its left. ``settings`` is a module.
LAYERS = ("settings", "store", "live", "moderation", "clips", "web")
MAX_LINES = 450


def _project_modules() -> Iterator[Path]:
    for layer in LAYERS:
        package = ROOT / layer
        if package.is_dir():
            yield from sorted(package.rglob("*.py"))
        else:
            yield ROOT / f"{layer}.py"
    yield ROOT / "run.py"


def _layer_of(module: str) -> str | None:
    """The project package a dotted module name belongs to, or None for third parties."""
    head = module.split(".", 1)[0]
    return head if head in LAYERS else None


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, dotted module)`` of every absolute import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside its own package
                continue
            module = node.module or ""
            yield node.lineno, module
            # ``from web import keys`` names a module of ``web``: the layer is the same.


def _owner(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0].removesuffix(".py")


def _package_edges() -> dict[str, dict[str, list[str]]]:
    """importer package -> imported package -> where (``path:line``)."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in _project_modules():
        owner = _owner(path)
        for line, module in _imports(path):
            target = _layer_of(module)
            if target is None or target == owner:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            edges.setdefault(owner, {}).setdefault(target, []).append(where)
    return edges


def test_every_layer_exists() -> None:
    for layer in LAYERS:
        assert (ROOT / layer).is_dir() or (ROOT / f"{layer}.py").is_file(), layer


def test_no_package_imports_one_above_it() -> None:
    rank = {layer: position for position, layer in enumerate(LAYERS)}
    backwards = [
        where
        for owner, targets in _package_edges().items() if owner in rank
        for target, places in targets.items() if rank[target] >= rank[owner]
        for where in places
    ]
    assert backwards == [], "imports that point up the layers:\n" + "\n".join(backwards)


def test_packages_import_no_cycle() -> None:
    edges = {owner: set(targets) for owner, targets in _package_edges().items()}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target in trail:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            else:
                visit(target, [*trail, target])

    for start in sorted(edges):
        visit(start, [start])
    assert cycles == [], "import cycles between packages:\n" + "\n".join(sorted(set(cycles)))


def test_the_checks_see_a_backwards_import(tmp_path: Path) -> None:
    """The parser finds imports wherever they are: at the top, inside a function, under
    ``TYPE_CHECKING``."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import live.hub\n"
        "if TYPE_CHECKING:\n    from clips.library import ClipLibrary\n"
        "def f() -> None:\n    from web import keys\n",
        encoding="utf-8")
    found = [(line, _layer_of(name)) for line, name in _imports(module)]
    assert (2, "live") in found and (4, "clips") in found and (6, "web") in found


def _too_long() -> list[str]:
    found = []
    for path in _project_modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{path.relative_to(ROOT)}: {lines} lines")
    return found


def test_no_module_is_over_the_line_limit() -> None:
    offenders = _too_long()
    assert offenders == [], (
        f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(offenders))
