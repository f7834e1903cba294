"""The ASGI application: routers on top of a Runtime, plus its background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp

from tocsin import __version__
from tocsin.api import ops, v2
from tocsin.api.ingest import FastIngest
from tocsin.runtime import Runtime

log = logging.getLogger(__name__)


def build_app(rt: Runtime) -> ASGIApp:
    """The ASGI app: FastAPI for every route, with the ingest hot path in front."""
    return FastIngest(build_api(rt), rt)


def build_api(rt: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc = asyncio.create_task(_collect_garbage(rt))
        try:
            yield
        finally:
            gc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gc

    app = FastAPI(
        title="Tocsin",
        version=__version__,
        description="Alertmanager-compatible alert store with on-call and runbooks.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.include_router(v2.router)
    app.include_router(ops.router)
    return app


async def _collect_garbage(rt: Runtime) -> None:
    interval = rt.settings.gc_interval.total_seconds()
    while True:
        await asyncio.sleep(interval)
        try:
            alerts, silences = await rt.store.collect_garbage()
            if alerts or silences:
                log.info("forgot %d resolved alerts and %d expired silences", alerts, silences)
        except Exception:
            log.exception("garbage collection failed")
