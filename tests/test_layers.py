"""The import graph of gpbench/ (module-level and function-level imports, read from the source): no cycles, and
no import from a higher layer (docs/architecture.md, "Layers")."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gpbench"

# docs/architecture.md, "Layers": a module imports from its own layer or lower ones only.
LAYERS = {
    "core": 0, "training": 1, "analysis": 2, "suite": 2, "report": 3, "face": 4}
LAYER_OF = {
    # the package face and the helpers every layer uses; the packages' own __init__ modules import nothing
    **dict.fromkeys(["gpbench", "gpbench.errors", "gpbench.yamlio", "gpbench.progress", "gpbench.fileio", "gpbench.plotting",
                     "gpbench.seeds", "gpbench.training", "gpbench.analysis", "gpbench.experiments", "gpbench.suite"],
                    "core"),
    **dict.fromkeys(["gpbench.training.rundir", "gpbench.training.losses", "gpbench.training.device",
                     "gpbench.training.optim", "gpbench.training.schedule", "gpbench.suite.costfile",
                     "gpbench.analysis.statistics"], "core"),
    **dict.fromkeys(["gpbench.training.config", "gpbench.training.engine", "gpbench.training.train",
                     "gpbench.training.checkpoints", "gpbench.training.reporter", "gpbench.training.devcost",
                     "gpbench.training.samples"], "training"),
    **dict.fromkeys(["gpbench.analysis.runresult", "gpbench.analysis.overfitting", "gpbench.analysis.evaluate",
                     "gpbench.analysis.diagnose", "gpbench.analysis.penaltycheck", "gpbench.experiments.figure1", "gpbench.experiments.figure4",
                     "gpbench.experiments.dirac"],
                    "analysis"),
    **dict.fromkeys(["gpbench.suite.pipeline", "gpbench.suite.cost", "gpbench.suite.rehearsal",
                     "gpbench.suite.reproduce"], "suite"),
    "gpbench.cli": "face",
}
PACKAGE_LAYERS = {"gpbench.penalties": "core", "gpbench.models": "core", "gpbench.data": "core", "gpbench.paper": "core",
                  "gpbench.metrics": "core", "gpbench.report": "report"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    if module in LAYER_OF:
        return LAYER_OF[module]
    return next(name for package, name in PACKAGE_LAYERS.items() if module == package or module.startswith(package + "."))


def imports(module: str) -> set[str]:
    """The gpbench modules ``module`` imports anywhere in its source (``from pkg import submodule`` counts as the
    submodule alone)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gpbench":
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            found |= submodules if len(submodules) == len(node.names) else {node.module} | submodules
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "gpbench"}
    return (found & set(MODULES)) - {module}


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    assert [module for module in MODULES if not any(module == package or module.startswith(package + ".")
                                                      for package in PACKAGE_LAYERS) and module not in LAYER_OF] == []


def test_no_module_imports_from_a_higher_layer():
    upward = [f"{module} ({layer(module)}) -> {target} ({layer(target)})" for module, targets in GRAPH.items()
              for target in targets if LAYERS[layer(target)] > LAYERS[layer(module)]]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                return trail + [module, target]
            if target not in state and (cycle := visit(target, trail + [module])):
                return cycle
        state[module] = "done"
        return None

    cycles = [cycle for module in sorted(GRAPH) if module not in state and (cycle := visit(module, []))]
    assert cycles == []


def test_the_root_holds_only_the_face_and_the_helpers_every_layer_uses():
    """docs/architecture.md, "Layers": every other module lives in the package of its room."""
    assert sorted(path.name for path in PACKAGE.glob("*.py")) == [
        "__init__.py", "cli.py", "errors.py", "fileio.py", "plotting.py", "progress.py", "seeds.py", "yamlio.py"]
    assert sorted(path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__") == [
        "analysis", "data", "experiments", "metrics", "models", "paper", "penalties", "report", "suite", "training"]


def test_the_engine_and_the_checkpoints_never_see_the_trainer():
    """They take small explicit parts (StepParts; TrainingState and Counters), not the Trainer (docs/engines.md)."""
    for module in ("gpbench.training.engine", "gpbench.training.checkpoints"):
        assert "gpbench.training.train" not in GRAPH[module]
        names = {node.arg for node in ast.walk(ast.parse(MODULES[module].read_text())) if isinstance(node, ast.arg)}
        names |= {node.id for node in ast.walk(ast.parse(MODULES[module].read_text())) if isinstance(node, ast.Name)}
        assert not {name for name in names if "trainer" in name.lower()}, module
