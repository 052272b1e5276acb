"""README's "What is where" matches the tree: every path it names exists, and every package of
dollr_core and every top-level folder of the project is named."""

from __future__ import annotations

import re

from .imports import ROOT


def _table() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## What is where", 1)[1].split("\n## ", 1)[0]


def named_paths() -> set[str]:
    paths: set[str] = set()
    for line in _table().splitlines():
        cell = line.split("|")[1] if line.startswith("|") else ""
        base = ""
        for name in re.findall(r"`([^`]+)`", cell):
            if "/" in name.rstrip("/") or name.endswith("/") or (name.endswith(".py") and not base):
                base = name.rsplit("/", 1)[0] + "/" if "/" in name.rstrip("/") else ""
                paths.add(name)
            else:  # `client.py` after `dollr_core/api/models.py`: in the same folder
                paths.add(base + name)
    return paths


def test_every_path_in_the_table_exists() -> None:
    missing = sorted(p for p in named_paths() if not (ROOT / p).exists())
    assert missing == []


def test_every_package_and_folder_is_in_the_table() -> None:
    named = {p.rstrip("/") for p in named_paths()}
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "dollr_core").glob("*/__init__.py")}
    folders = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name not in {"screenshots", "data", "build"}
        and not p.name.endswith(".egg-info")
        and p.name != "__pycache__"
    }
    covered = {"/".join(n.split("/")[:depth]) for n in named for depth in range(1, n.count("/") + 2)}
    assert sorted((packages | folders) - covered) == []
