"""The gateway's ASGI app: the JSON API, the page's static files, OpenAPI at /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.web.body_limit import BodyLimit
from services.web.errors import install_error_handlers
from services.web.routes import Gateway, api_router
from vrs.settings import WebSettings

STATIC_DIR = Path(__file__).with_name("static")


def create_web_app(gateway: Gateway, settings: WebSettings) -> FastAPI:
    """The app for one gateway; CORS only for the configured origins."""
    app = FastAPI(
        title="vrs: visual product recommender",
        description="Similar products for a photo or a catalog product, within a budget. "
        'Errors are `{"error": {"code", "message"}}`.',
        version="1",
    )
    install_error_handlers(app)
    app.include_router(api_router(gateway))
    _add_page(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Outermost: an oversized body is refused before anything reads it.
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    return app


def _add_page(app: FastAPI) -> None:
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    # The page's own files: no CDN, no build step. check_dir=False: served once they exist.
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
