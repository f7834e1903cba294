"""The browsable API at ``/docs``: Swagger UI 5, which renders the OpenAPI 3.1 document
FastAPI emits (FastAPI's own page loads an older Swagger UI from a CDN, which a
server without internet access, or a browser behind a strict proxy, cannot reach).
Its script and style come from the fastapi-swagger package's files, served here."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def mount(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (call with ``docs_url=None`` on the app)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"filter": True, "displayRequestDuration": True},
        )

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_swagger", "resources")]), name="docs-assets")
