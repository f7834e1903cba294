"""The ASGI application: routers on top of a Runtime, plus its background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp

from tocsin import __version__
from tocsin.api import (
    incidents,
    maintenances,
    monitors,
    notifications,
    oncall,
    ops,
    pd_events,
    runbooks,
    statuspage,
    swagger,
    v1,
    v2,
)
from tocsin.api.auth import WebAuth
from tocsin.api.ingest import FastIngest
from tocsin.api.site_guard import SiteGuard
from tocsin.api.unavailable import Unavailable
from tocsin.runtime import Runtime
from tocsin.web import console
from tocsin.web import incidents as incident_pages
from tocsin.web import maintenance as maintenance_pages

log = logging.getLogger(__name__)


def build_app(rt: Runtime) -> ASGIApp:
    """The ASGI app: FastAPI for every route, with the ingest hot path in front, a
    database out of reach answered 503 in front of both, and in front of all, with a
    web config file, its basic auth and headers."""
    unavailable = Unavailable()
    api = build_api(rt)
    unavailable.install(api)
    # (the ingest hot path answers before SiteGuard, and asks it itself: a middleware
    # in front of it cost 5 % of its CPU at 7,000 requests/s)
    app: ASGIApp = FastIngest(SiteGuard(api), rt, unavailable)
    if rt.settings.web_config_path is not None:
        app = WebAuth(app, lambda: rt.web)
    return app


def build_api(rt: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loops = [
            asyncio.create_task(rt.run_retention()),
            asyncio.create_task(rt.follow_replicas()),
            asyncio.create_task(rt.run_replicas()),
            asyncio.create_task(rt.watch_commits()),
            asyncio.create_task(rt.dispatcher.run()),
            asyncio.create_task(rt.delivery.run()),
            asyncio.create_task(rt.oncall.run()),
            asyncio.create_task(rt.heartbeats.run()),
            asyncio.create_task(rt.probes.run()),
            asyncio.create_task(rt.incident_reminders.run()),
            asyncio.create_task(rt.runbook_timers.run()),
            asyncio.create_task(rt.nobody_paged.run()),
            asyncio.create_task(rt.maintenance_edges.run()),
        ]
        try:
            yield
        finally:
            log.info("stopping: the sends in flight get %ss", rt.delivery.settings.drain.seconds)
            await rt.delivery.drain()  # before the loops stop: the records need the writer
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await rt.sender.close()

    app = FastAPI(
        title="Tocsin",
        version=__version__,
        description="Alertmanager-compatible alert store with on-call and runbooks.",
        lifespan=lifespan,
        docs_url=None,  # swagger.mount serves /docs without a CDN
        redoc_url=None,
    )
    app.state.runtime = rt
    app.include_router(v2.router)
    app.include_router(v1.router)
    app.include_router(ops.router)
    app.include_router(notifications.router)
    app.include_router(runbooks.router)
    app.include_router(oncall.router)
    app.include_router(pd_events.router)
    app.include_router(monitors.router)
    app.include_router(monitors.ping_router)
    app.include_router(incidents.router)
    app.include_router(maintenances.router)
    app.include_router(statuspage.router)
    app.include_router(console.router)
    app.include_router(incident_pages.router)
    app.include_router(maintenance_pages.router)
    swagger.mount(app)
    return app
