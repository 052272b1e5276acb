"""One writer of state: the state columns of intents, attempts, batches and batch rows are
assigned only in `dollr_core/ledger/transitions.py` (and the migrations), never anywhere else.

An AST scan of dollr_core/, pages/, console/ and app.py. It catches `x.state = …` and
`x.local_state = …` (also unpacked, annotated or augmented), `setattr(x, "state", …)`,
`update(Model).values(state=…)` (keyword, dict or `**` splat) on the four models or their tables,
`query(Model)….update({"state": …})`, and raw SQL that updates those columns.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dollr_core", "pages", "console", "app.py")

STATE_COLUMNS = frozenset({"state", "local_state"})
STATE_MODELS = frozenset({"Intent", "Attempt", "Batch", "BatchRow"})
STATE_TABLES = ("intent", "attempt", "batch", "batch_row")

#: The one writer, and the migrations (which create and backfill the columns).
WRITERS = ("dollr_core/ledger/transitions.py", "dollr_core/ledger/migrations/")

#: State columns of other tables, which are no part of the ledger's state machines: (file, name).
OTHER_TABLES = frozenset({("dollr_core/reports/reconciliation.py", "run")})  # ReconciliationRun.state

_RAW_UPDATE = re.compile(
    rf"\bUPDATE\s+\"?({'|'.join(STATE_TABLES)})\"?\s+SET\b[^;]*?\b(local_state|state)\s*=",
    re.IGNORECASE | re.DOTALL,
)


def _is_state_model(node: ast.expr) -> bool:
    """`Intent`, `tables.Intent`, `Intent.__table__`: one of the four models or its table."""
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        node = node.value
    if isinstance(node, ast.Name):
        return node.id in STATE_MODELS
    return isinstance(node, ast.Attribute) and node.attr in STATE_MODELS


def _targets_state_model(chain: ast.expr, opener: str) -> bool:
    """Whether a method chain starts from `update(Model)` / `Model.__table__.update()` (opener
    "update") or `query(Model)` (opener "query") for one of the four models."""
    node: ast.expr | None = chain
    while node is not None:
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name == opener and node.args and _is_state_model(node.args[0]):
                return True
            if name == opener and isinstance(func, ast.Attribute) and _is_state_model(func.value):
                return True
            node = func.value if isinstance(func, ast.Attribute) else None
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            node = None
    return False


def _sets_state(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in STATE_COLUMNS:  # **splat: cannot tell, so refused
            return True
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            if any(isinstance(k, ast.Constant) and k.value in STATE_COLUMNS for k in arg.keys):
                return True
            if any(k is None for k in arg.keys):
                return True
    return False


def _assigned(target: ast.expr) -> list[ast.Attribute]:
    if isinstance(target, ast.Tuple | ast.List):
        return [a for element in target.elts for a in _assigned(element)]
    if isinstance(target, ast.Starred):
        return _assigned(target.value)
    if isinstance(target, ast.Attribute) and target.attr in STATE_COLUMNS:
        return [target]
    return []


def violations(source: str, path: str) -> list[str]:
    """Where `source` (the file at `path`, relative to the repository) writes a state column."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for attribute in _assigned(target):
                owner = attribute.value.id if isinstance(attribute.value, ast.Name) else ""
                if (path, owner) not in OTHER_TABLES:
                    found.append(f"{path}:{attribute.lineno}: assigns .{attribute.attr}")
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id == "setattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in STATE_COLUMNS
            ):
                found.append(f"{path}:{node.lineno}: setattr(…, {node.args[1].value!r}, …)")
            if isinstance(func, ast.Attribute) and func.attr in ("values", "update") and _sets_state(node):
                opener = "update" if func.attr == "values" else "query"
                if _targets_state_model(func.value, opener):
                    found.append(f"{path}:{node.lineno}: {opener}(…).{func.attr}(…) sets a state column")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _RAW_UPDATE.search(node.value):
            found.append(f"{path}:{node.lineno}: raw SQL updates a state column")
    return found


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        base = ROOT / name
        files.extend(sorted(base.rglob("*.py")) if base.is_dir() else [base])
    return files


def _exempt(path: str) -> bool:
    return path.startswith(WRITERS)


def test_only_transitions_writes_a_state_column() -> None:
    found: list[str] = []
    for file in _scanned_files():
        path = file.relative_to(ROOT).as_posix()
        if not _exempt(path):
            found += violations(file.read_text(encoding="utf-8"), path)
    assert found == [], "State changes must go through dollr_core/ledger/transitions.py:\n" + "\n".join(found)


def test_the_scan_sees_the_files() -> None:
    paths = {file.relative_to(ROOT).as_posix() for file in _scanned_files()}
    assert {"app.py", "dollr_core/payments/protocol.py", "dollr_core/team/approvals.py"} <= paths
    assert any(path.startswith("pages/") for path in paths) and any(
        path.startswith("console/") for path in paths
    )


PLANTED = {
    "attribute": "intent.state = IntentState.READY",
    "attempt attribute": "row.local_state = AttemptState.UNKNOWN",
    "unpacked": "batch.state, batch.updated_at = BatchState.RUNNING, now",
    "annotated": "row.state: str = 'PAID'",
    "augmented": "row.state += 'X'",
    "setattr": "setattr(attempt, 'local_state', 'FAILED')",
    "update keyword": "db.exec(update(Intent).where(Intent.id == 1).values(state='EXECUTING'))",
    "update dict": "db.exec(sa.update(BatchRow).values({'state': 'SENT'}))",
    "update splat": "db.exec(update(Batch).where(x).values(**changes))",
    "table update": "db.exec(Attempt.__table__.update().values(local_state='UNKNOWN'))",
    "module model": "db.exec(update(tables.BatchRow).values(state='QUEUED'))",
    "legacy query": "db.query(Intent).filter(Intent.id == 1).update({'state': 'READY'})",
    "raw SQL": "db.exec(text('UPDATE batch_row SET failure_reason = :r, state = :s WHERE id = :i'))",
}


@pytest.mark.parametrize("source", PLANTED.values(), ids=PLANTED.keys())
def test_the_scan_finds_a_planted_write(source: str) -> None:
    assert violations(source, "dollr_core/flows/planted.py") != []


FINE = {
    "transitions": "transitions.move(db, intent, IntentState.READY, actor=who)",
    "reading": "if intent.state == IntentState.READY: pass",
    "other columns": "db.exec(update(Intent).values(lease_owner=None, lease_until=None))",
    "another table": "db.exec(update(Notification).where(x).values(state='SENT', **more))",
    "streamlit": "st.session_state.batch = 3",
    "a new row": "Intent(intent_key=k, state=IntentState.OPEN)",
    "reading SQL": "text('SELECT state FROM batch_row')",
}


@pytest.mark.parametrize("source", FINE.values(), ids=FINE.keys())
def test_the_scan_leaves_other_code_alone(source: str) -> None:
    assert violations(source, "dollr_core/flows/fine.py") == []


def test_another_table_s_state_is_allowed_only_where_named() -> None:
    source = "run.state, run.finished_at = 'FINISHED', now"
    assert violations(source, "dollr_core/reports/reconciliation.py") == []
    assert violations(source, "dollr_core/reports/other.py") != []
