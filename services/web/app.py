"""The gateway's ASGI app: the JSON API, the page's static files, OpenAPI at /docs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.web import routes_catalog, routes_health, routes_page, routes_search
from services.web.body_limit import BodyLimit
from services.web.dependencies import attach_gateway
from services.web.errors import install_error_handlers
from services.web.gateway import Gateway
from services.web.shutdown_cutoff import ShutdownCutoff
from vrs.settings import WebSettings


def create_web_app(gateway: Gateway, settings: WebSettings) -> FastAPI:
    """The app for one gateway; CORS only for the configured origins."""
    app = FastAPI(
        title="vrs: visual product recommender",
        description="Similar products for a photo or a catalog product, within a budget. "
        'Errors are `{"error": {"code", "message"}}`.',
        version="1",
    )
    attach_gateway(app, gateway)
    install_error_handlers(app)
    for module in (routes_health, routes_search, routes_catalog, routes_page):
        app.include_router(module.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    # Outermost: whatever is cut off by shutdown gets the API's JSON answer.
    app.add_middleware(ShutdownCutoff)
    return app
