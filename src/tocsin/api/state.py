"""How handlers reach the runtime: through the ASGI app's state, never a global."""

from __future__ import annotations

from fastapi import Request

from tocsin.runtime import Runtime


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


__all__ = ["Runtime", "runtime"]
