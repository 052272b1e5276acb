"""Start the misbehaving relay (`tests.support.relay`) as a process and steer it from a test."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


class RelayControl:
    """One relay process in front of `upstream`; `url` is where the client should point."""

    def __init__(self, upstream: str) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.relay", "--upstream", upstream],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("listening on "):
            self._process.kill()
            raise RuntimeError(f"the relay did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[-1])}"
        self._control = httpx.Client(base_url=self.url, timeout=10)

    def add(self, action: str, path: str, *, method: str | None = "POST", **options: Any) -> None:
        """Misbehave on the next matching request(s); see `tests.support.relay` for the actions."""
        spec = {"action": action, "path": path, "method": method, **options}
        self._control.post("/_relay/rules", json=spec).raise_for_status()

    def clear(self) -> None:
        self._control.delete("/_relay/rules").raise_for_status()

    def state(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._control.get("/_relay/state").json()
        return answer

    def wait_until_delivered(self, timeout: float = 60.0) -> None:
        """Block until every held request has reached the upstream (the late copies landed)."""
        deadline = time.monotonic() + timeout
        while self.state()["pending"]:
            if time.monotonic() > deadline:
                raise TimeoutError("held requests were never delivered")
            time.sleep(0.05)

    def stop(self) -> None:
        self._control.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
