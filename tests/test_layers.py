"""The package's structure as a contract: each folder imports only the folders below it, no
import cycles, small modules, and TensorFlow stays out of the device side and recipe checks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import prune2edge

PACKAGE = Path(prune2edge.__file__).parent
# Rooms from the bottom up: a module may import its own room and the rooms of lower ranks.
RANKS = {
    "errors": 0,
    "sizes": 1, "params": 1, "sources": 1, "progress": 1, "jobs": 1, "_compat": 1,
    "native_log": 1, "storage": 1, "requirements": 1, "cpu": 1, "metrics": 1, "boards": 1,
    "data": 2, "examples": 2, "sparsity": 2,
    "keras": 3, "keras3": 3, "tflite": 3,
    "inspect": 4, "report": 4, "quantization": 4,
    "engine": 5,
    "stages": 6,
    "recipe": 7,
    "sensitivity": 8, "tune": 8,
    "cli": 9,
    "__init__": 10, "__main__": 10,
}
HEAVY = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("prune2edge", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The prune2edge modules `name` imports anywhere: functions and type-only imports too (a
    type-only cycle is still two modules that cannot be understood apart)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            candidates = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and not name.startswith(candidate + "."):
                targets.add(candidate)
    return targets


EDGES = {name: _imports(name, path) for name, path in MODULES.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_ranked_room():
    assert {_room(m) for m in MODULES} <= set(RANKS)


@pytest.mark.parametrize("module", sorted(EDGES))
def test_imports_point_down(module):
    room = _room(module)
    upward = [t for t in EDGES[module] if _room(t) != room and RANKS[_room(t)] >= RANKS[room]]
    assert not upward, f"{module} imports {upward}, which are not below {room}/"


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in EDGES[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in EDGES:
        if node not in index:
            visit(node)
    assert not cycles


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert max(sizes.values()) <= 300, max(sizes, key=sizes.get)


def test_only_compat_imports_tensorflow_keras_tfmot_or_litert():
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            if set(roots) & {*HEAVY, "ai_edge_litert", "tflite_runtime"}:
                offenders.append(name)
    assert offenders and all(name.startswith("prune2edge._compat") for name in offenders)


CHECK_RECIPES = f"""
import sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # any import of them now fails
from prune2edge.recipe import bundled_recipes, load_recipe
for path in bundled_recipes():
    load_recipe(path, ["seed=1"])
from prune2edge.cli import main
sys.argv = ["prune2edge", "recipes"]
main()
"""


def test_recipe_checks_run_without_tensorflow():
    out = subprocess.run([sys.executable, "-c", CHECK_RECIPES], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "mnist_cnn_small" in out.stdout


def test_the_example_recipes_exist_once_and_models_links_to_them():
    from prune2edge.recipe import bundled_recipes, load_recipe

    models = Path(__file__).resolve().parents[1] / "models"
    bundled = bundled_recipes()
    assert models.resolve() == bundled[0].parent.resolve()
    assert {p.name for p in models.glob("*.toml")} == {p.name for p in bundled}
    for path in bundled:
        assert path.with_suffix(".baseline.json").is_file()
        assert load_recipe(path).budgets != type(load_recipe(path).budgets)()
