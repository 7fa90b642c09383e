"""The architecture the packages show, checked on the source: layers import only downwards,
no module imports itself back through others (lazy imports count), and the autograder's
engine carries only what grading needs."""

from __future__ import annotations

import pytest

from course.build import imports

# Lowest first.  A module may import its own layer or a lower one, never a higher one.
LAYERS = (
    ("calc4ml_runtime",),  # the student side: torch and the standard library only
    ("course",),  # shared base modules: layout, text, files, i18n, results, identity, cells
    ("course.build", "course.grade"),  # independent of each other
    ("course.lms",),
    ("course.outputs",),
    ("course.cli",),
)


def layer(module: str) -> tuple[int, str]:
    """The module's layer and the group within it that names it most closely."""
    best = (-1, "")
    for rank, groups in enumerate(LAYERS):
        for group in groups:
            if (module == group or module.startswith(group + ".")) and len(group) > len(best[1]):
                best = (rank, group)
    return best


def graph() -> dict[str, set[str]]:
    return {module: imports.imports(module) for module in imports.modules()}


def test_every_module_has_a_layer():
    assert all(layer(m)[0] >= 0 for m in imports.modules())


def test_imports_go_down_the_layers_only():
    upward = []
    for module, targets in graph().items():
        rank, group = layer(module)
        for target in targets:
            target_rank, target_group = layer(target)
            if target_rank > rank or (target_rank == rank and target_group != group):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_runtime_needs_nothing_but_torch_and_the_standard_library():
    import sys
    allowed = set(sys.stdlib_module_names) | {"torch", "calc4ml_runtime", "otter"}  # otter: imported if present
    for module in imports.modules():
        if module.startswith("calc4ml_runtime"):
            names = imports.external(module)
            assert names <= allowed, (module, names - allowed)


@pytest.mark.parametrize("package", ["course.lms", "course.outputs", "course.build"])
def test_the_engine_carries_no_lms_output_or_build_code(package):
    engine = imports.closure(["course.grade.gradescope", "course.grade.worker"])
    assert not [m for m in engine if m == package or m.startswith(package + ".")], engine


def test_a_cycle_and_an_upward_import_are_seen(tmp_path, monkeypatch):
    """The checks above can fail: a lazy import from the runtime back into course is caught."""
    fake = {"calc4ml_runtime.a": {"course.grade.judge"}, "course.grade.judge": {"calc4ml_runtime.a"}}
    monkeypatch.setattr(imports, "modules", lambda: list(fake))
    monkeypatch.setattr(imports, "imports", lambda m: fake[m])
    with pytest.raises(AssertionError, match="calc4ml_runtime.a -> course.grade.judge"):
        test_imports_go_down_the_layers_only()
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle()
