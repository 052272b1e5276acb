"""A live deployment may leave the simulator and its web framework out: all of dollr_core imports
and starts in live mode without them, and sandbox mode without them says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .imports import ROOT

BLOCKED = ("fastapi", "uvicorn", "starlette", "dollr_sandbox")

SCRIPT = textwrap.dedent(
    f"""
    import importlib, importlib.abc, pkgutil, sys

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}")
            return None

    sys.meta_path.insert(0, Missing())
    import dollr_core
    for module in pkgutil.walk_packages(dollr_core.__path__, "dollr_core."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    from dollr_core.config import Settings, SettingsError
    from dollr_core.runtime import start_services

    live = Settings.load(environ={{
        "DOLLR_MODE": "live", "DOLLR_CLIENT_ID": "id", "DOLLR_CLIENT_SECRET": "secret",
        "DOLLR_DATA_DIR": sys.argv[1],
    }})
    start_services(live).close()
    try:
        start_services(Settings.load(environ={{"DOLLR_DATA_DIR": sys.argv[1]}}))
    except SettingsError as exc:
        print("refused:", exc)
    else:
        raise SystemExit("sandbox mode started without the simulator")
    """
)


def test_live_mode_needs_neither_the_simulator_nor_fastapi(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'dollr-ops-console[sandbox]'" in done.stdout
