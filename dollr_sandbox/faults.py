"""Injected faults: the next ``count`` requests under a path prefix misbehave on purpose."""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FaultAction(StrEnum):
    #: Answer ``status`` without doing anything.
    STATUS = "status"
    #: Wait ``ms``, then handle the request normally.
    LATENCY = "latency"
    #: Answer 429 with ``Retry-After: retry_after`` without doing anything.
    RATE_LIMIT = "rate_limit"
    #: Carry the request out, then break the connection before the response is complete.
    DROP_RESPONSE = "drop_response"


class FaultSpec(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    count: int = Field(default=1, ge=1)
    action: FaultAction
    status: int = Field(default=503, ge=400, le=599)
    ms: int = Field(default=0, ge=0, le=600_000)
    retry_after: int = Field(default=1, ge=0, le=3600)

    @model_validator(mode="after")
    def _path_is_absolute(self) -> Self:
        if not self.path.startswith("/"):
            raise ValueError("path must start with /")
        return self


class Fault(FaultSpec):
    id: int
    #: How many more matching requests it applies to.
    remaining: int


class FaultBook:
    """Thread-safe list of active faults; the first match with uses left wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(**spec.model_dump(), id=self._next_id, remaining=spec.count)
            self._next_id += 1
            self._faults.append(fault)
            return fault.model_copy()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return [fault.model_copy() for fault in self._faults]

    def take(self, path: str) -> Fault | None:
        """Use up one application of the first fault matching ``path``."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.model_copy()
        return None
