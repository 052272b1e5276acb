"""Every sandbox route and every dependency it resolves is a coroutine function.

FastAPI runs a plain function in a worker thread: a /v1 request with a plain route and plain
dependencies made four hand-offs between the event loop and the threads, which cost the sandbox
more CPU than the routes themselves, and on a small machine the sandbox's CPU is the bulk
bench's floor. None of them waits on anything, so none needs a thread; a plain one added later
would bring the hand-offs back without any test failing, so this one fails instead."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from dollr_sandbox.app import create_app


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _walk(routes: list[Any], inherited: tuple[Any, ...] = ()) -> Iterator[tuple[APIRoute, tuple[Any, ...]]]:
    """Each route, with the dependencies of the routers it was included through."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route, inherited
        router = getattr(route, "original_router", None)
        if router is not None:
            own = tuple(depends.dependency for depends in router.dependencies)
            yield from _walk(router.routes, inherited + own)


def test_every_route_and_dependency_runs_on_the_event_loop() -> None:
    routes = list(_walk(create_app().routes))
    assert len(routes) > 60  # every /v1 route, the hosted page and the controls
    plain = sorted(
        {
            f"{route.path} ({getattr(call, '__qualname__', call)})"
            for route, inherited in routes
            for call in [route.endpoint, *_calls(route.dependant), *inherited]
            if not inspect.iscoroutinefunction(call)
        }
    )
    assert plain == []
