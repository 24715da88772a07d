"""Run the ASGI app under the configured server: uvicorn, Hypercorn (HTTP/2) or Granian."""

from __future__ import annotations

import logging
import os
import socket

from origin.config import Config, ConfigError

APP = "origin.asgi:app"


def worker_count(cfg: Config) -> int:
    """Return the number of worker processes: the configured count, or one per core."""
    return cfg.server.workers or os.cpu_count() or 1


def check_bind(host: str, port: int) -> None:
    """Fail with one clear line now rather than a server's traceback after the fork."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"server.port = {port}: cannot listen on {host}:{port} ({exc.strerror}); "
                "stop the other server or pass --port"
            ) from None


def run(cfg: Config) -> int:
    """Serve until interrupted; return the exit status."""
    s = cfg.server
    check_bind(s.host, s.port)
    workers = worker_count(cfg)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    scheme = "https" if s.certfile else "http"
    logging.getLogger("origin").info(
        "serving %s on %s://%s:%d with %s, %d worker(s)",
        cfg.media.root, scheme, s.host, s.port, s.server, workers,
    )
    if s.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            APP,
            host=s.host,
            port=s.port,
            workers=workers,
            access_log=False,  # we log one line per request ourselves
            log_level="warning",
            server_header=False,
            ssl_certfile=s.certfile or None,
            ssl_keyfile=s.keyfile or None,
        )
        return 0
    if s.server == "hypercorn":
        from hypercorn.config import Config as HyperConfig
        from hypercorn.run import run as hyper_run

        hc = HyperConfig()
        hc.application_path = APP
        hc.bind = [f"[{s.host}]:{s.port}" if ":" in s.host else f"{s.host}:{s.port}"]
        hc.workers = workers
        hc.accesslog = None
        hc.loglevel = "WARNING"
        if s.certfile:
            hc.certfile, hc.keyfile = s.certfile, s.keyfile
            hc.alpn_protocols = ["h2", "http/1.1"]
        hyper_run(hc)
        return 0
    from granian import Granian
    from granian.constants import Interfaces

    kwargs: dict[str, object] = {}
    if s.certfile:
        from pathlib import Path

        kwargs = {"ssl_cert": Path(s.certfile), "ssl_key": Path(s.keyfile)}
    Granian(
        APP,
        address=s.host,
        port=s.port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    ).serve()
    return 0
