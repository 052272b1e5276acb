"""The design, checked by machine: layers import only downwards, no import cycles, the simulator
apart, no module too large to read (docs/architecture.md explains each rule)."""

from __future__ import annotations

import pytest

from .imports import ROOT, Import, cycles, graph, imports_of, modules

# Lowest first. A module may import from its own layer and the layers below it, never above.
LAYERS: list[tuple[str, ...]] = [
    ("dollr_core.config", "dollr_core.errors", "dollr_core.basics"),
    ("dollr_core.api",),
    ("dollr_core.ledger", "dollr_core.services", "dollr_core.explain"),
    ("dollr_core.payments",),
    ("dollr_core.flows", "dollr_core.team"),
    ("dollr_core.reports", "dollr_core.bulk"),
    ("dollr_core.runtime",),
    ("dollr_core.cli", "dollr_core.__main__", "dollr_core"),
]
# The one module of dollr_core that may import the simulator: to start it embedded.
SANDBOX_STARTER = "dollr_core.runtime"
# All the simulator may take from dollr_core: plain constants, never settings, models or flows.
SANDBOX_MAY_IMPORT = {"dollr_core.basics.enums", "dollr_core.basics.constants"}
# Declarative models may be long: Dollr's requests and responses (ours and the simulator's own) and
# the ledger's tables, kept in one module as SQLModel advises. Everything else is split by concern.
LONG_ALLOWED = {"dollr_core.api.models", "dollr_sandbox.schemas", "dollr_core.ledger.tables"}
MAX_LINES = 600


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best:
                best, rank = len(prefix), level
    if rank < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and to docs/architecture.md")
    return rank


def violations(edges: dict[str, list[Import]]) -> list[str]:
    wrong = []
    for importer, found in edges.items():
        for edge in found:
            if edge.imported.startswith("dollr_sandbox"):
                continue  # checked apart
            if layer_of(edge.imported) > layer_of(importer):
                wrong.append(f"{importer}:{edge.line} imports {edge.imported} from a layer above it")
    return wrong


def test_every_module_is_in_a_layer() -> None:
    for module in modules("dollr_core"):
        layer_of(module)


def test_layers_import_only_downwards() -> None:
    assert violations(graph("dollr_core")) == []


def test_no_import_cycles() -> None:
    assert cycles(graph("dollr_core", "dollr_sandbox")) == []


def test_the_sandbox_is_imported_in_one_place_and_takes_only_constants_from_us() -> None:
    edges = graph("dollr_core", "dollr_sandbox")
    starters = {
        e.importer for found in edges.values() for e in found if e.imported.startswith("dollr_sandbox")
    } - set(modules("dollr_sandbox"))
    assert starters <= {SANDBOX_STARTER}
    into_core = [
        f"{e.importer}:{e.line}"
        for name, found in edges.items()
        if name.startswith("dollr_sandbox")
        for e in found
        if e.imported.startswith("dollr_core") and e.imported not in SANDBOX_MAY_IMPORT
    ]
    assert into_core == []
    for constants in SANDBOX_MAY_IMPORT:  # and those import nothing of ours
        assert edges.get(constants) == [] or constants not in edges, constants


def test_console_and_pages_never_read_the_simulator() -> None:
    known = modules("dollr_core", "dollr_sandbox")
    paths = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "console").glob("*.py")]
    readers = [
        f"{path.name}:{e.line}"
        for path in paths
        for e in imports_of(path, known)
        if e.imported.startswith("dollr_sandbox")
    ]
    assert readers == []


def test_no_module_is_too_long() -> None:
    paths = [*modules("dollr_core", "dollr_sandbox").items()]
    paths += [(p.stem, p) for folder in ("pages", "console") for p in (ROOT / folder).glob("*.py")]
    long = {
        name: lines
        for name, path in paths
        if name not in LONG_ALLOWED and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


# The checks themselves, on planted examples.


def test_the_checks_see_an_upward_import_and_a_cycle_hidden_in_a_function() -> None:
    upward = {"dollr_core.basics.money": [Import("dollr_core.basics.money", "dollr_core.flows.payouts", 3)]}
    assert violations(upward) == [
        "dollr_core.basics.money:3 imports dollr_core.flows.payouts from a layer above it"
    ]
    loop = {
        "dollr_core.services": [Import("dollr_core.services", "dollr_core.payments.reconcile", 40)],
        "dollr_core.payments.reconcile": [Import("dollr_core.payments.reconcile", "dollr_core.services", 9)],
    }
    assert cycles(loop) == [["dollr_core.payments.reconcile", "dollr_core.services"]]


def test_imports_inside_functions_are_read(tmp_path: pytest.TempPathFactory) -> None:
    known = modules("dollr_core", "dollr_sandbox")
    source = ROOT / "dollr_core" / "basics" / "money.py"
    assert source.exists()
    planted = ROOT / "dollr_core" / "basics" / "_planted_for_test.py"
    planted.write_text("def f():\n    from dollr_core.flows import payouts\n    return payouts\n")
    try:
        assert [e.imported for e in imports_of(planted, known)] == ["dollr_core.flows.payouts"]
    finally:
        planted.unlink()
