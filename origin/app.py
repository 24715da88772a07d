"""The ASGI application: routes and glue only.

File requests go straight to the static handler (the hot path skips the framework's middleware
stack); `/healthz`, `/metrics` and anything else with a page of its own are Starlette routes.
Every request, whichever way it goes, is counted and logged exactly once here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from origin.config import Config
from origin.live import LiveHandler
from origin.observe import AccessLog, Metrics
from origin.preview import PreviewPage
from origin.static import Outcome, StaticFiles
from packager.hub import HubClient, LiveHub, LiveSource

log = logging.getLogger("origin")

_ROUTED = frozenset({"/healthz", "/metrics", "/_origin/hls.min.js"})
_FLUSH_SECONDS = 0.25


class Origin:
    """The top-level ASGI callable."""

    def __init__(
        self, cfg: Config, source: LiveSource | None = None, hub_socket: str | None = None
    ) -> None:
        self.cfg = cfg
        self.static = StaticFiles(cfg)
        self.metrics = Metrics(share_dir=os.environ.get("ORIGIN_METRICS_DIR") or None)
        self.access = AccessLog(enabled=cfg.server.access_log)
        self._flush_pending = False
        self.hub_socket = hub_socket
        if hub_socket is not None and source is None:
            source = LiveHub()
        self.source = source
        self.live = LiveHandler(self.static, source) if source is not None else None
        self.preview = PreviewPage(cfg.media.root, source, tuple(ch.name for ch in cfg.live))
        self._routed_paths = _ROUTED | ({"/"} if cfg.http.preview_page else set())
        routes = [
            Route("/healthz", self.healthz, methods=["GET", "HEAD"]),
            Route("/metrics", self.render_metrics, methods=["GET", "HEAD"]),
            Route("/_origin/hls.min.js", self.preview.hls_js, methods=["GET", "HEAD"]),
        ]
        if cfg.http.preview_page:
            routes.append(Route("/", self.preview.page, methods=["GET", "HEAD"]))
        self.routes = Starlette(
            routes=routes,
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        client = None
        if self.hub_socket is not None and isinstance(self.source, LiveHub):
            # This worker mirrors the packager process's live state over its Unix socket.
            client = HubClient(self.hub_socket, self.source)
            client.start()
        try:
            yield
        finally:
            if client is not None:
                await client.stop()
            self.access.flush()

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})

    async def render_metrics(self, request: Request) -> Response:
        return PlainTextResponse(
            self.metrics.render(),
            media_type="text/plain; version=0.0.4",
            headers={"cache-control": "no-store"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.routes(scope, receive, send)  # lifespan, websocket: the framework's job
            return
        started = time.perf_counter()
        self.metrics.in_flight += 1
        outcome = Outcome(500)
        try:
            path = scope["path"]
            lp = self.live.match(scope) if self.live and path.startswith("/live/") else None
            if lp is not None:
                assert self.live is not None
                outcome = await self.live(scope, receive, send, lp)
            elif path in self._routed_paths:
                outcome = await self._routed(scope, receive, send)
            else:
                outcome = await self.static(scope, receive, send)
        except Exception:
            log.exception("error answering %s %s", scope["method"], scope["path"])
            raise  # the server answers 500 if nothing was sent yet, else drops the connection
        finally:
            self.metrics.in_flight -= 1
            if scope["method"] == "HEAD":
                outcome.sent = 0  # the server drops a HEAD body; count what reached the client
            self.metrics.observe(outcome.status, outcome.kind, outcome.sent)
            client = scope.get("client")
            self.access.record(
                client[0] if client else "-",
                scope["method"],
                scope["path"]
                + (
                    "?" + scope["query_string"].decode("latin-1")
                    if scope.get("query_string")
                    else ""
                ),
                outcome.status,
                outcome.sent,
                time.perf_counter() - started,
                outcome.range,
            )
            self._schedule_flush()

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> Outcome:
        outcome = Outcome(500, 0, "page")

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
            elif message["type"] == "http.response.body":
                outcome.sent += len(message.get("body", b""))
            await send(message)

        await self.routes(scope, receive, counting_send)
        return outcome

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.access.flush()
        self.metrics.share()


def create_app(
    cfg: Config, source: LiveSource | None = None, hub_socket: str | None = None
) -> Origin:
    """Given a validated Config, return the ASGI application.

    `source` serves live channels in-process; `hub_socket` mirrors them from a packager process.
    """
    return Origin(cfg, source, hub_socket)
