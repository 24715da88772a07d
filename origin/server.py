"""Run the ASGI app under the configured server: uvicorn, Hypercorn (HTTP/2) or Granian."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

from origin.config import Config, ConfigError

APP = "origin.asgi:app"


def worker_count(cfg: Config) -> int:
    """Return the number of worker processes: the configured count, or one per core."""
    return cfg.server.workers or os.cpu_count() or 1


def bind(host: str, port: int, reuseport: bool = False) -> socket.socket:
    """Return a listening socket, or fail with one clear line naming the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"server.port = {port}: cannot listen on {host}:{port} ({exc.strerror}); "
            "stop the other server or pass --port"
        ) from None
    return sock


def check_bind(host: str, port: int) -> None:
    """Fail now with one clear line rather than with a server's traceback after it starts."""
    bind(host, port).close()


def run_uvicorn(cfg: Config, workers: int) -> int:
    """Pre-fork uvicorn: import the app once, fork workers that share the listening socket.

    Unlike `uvicorn --workers` (a spawned supervisor, a resource tracker, and workers that each
    import everything again), forked workers share the imported code's pages, so memory is
    roughly one interpreter plus per-connection buffers. The parent only supervises: it
    restarts a worker that dies and stops them all on SIGINT/SIGTERM.
    """
    import uvicorn

    from origin.asgi import app

    s = cfg.server
    config = uvicorn.Config(
        app,
        access_log=False,  # one line per request is written by the app itself
        log_level="warning",
        server_header=False,
        ssl_certfile=s.certfile or None,
        ssl_keyfile=s.keyfile or None,
        timeout_graceful_shutdown=5,
    )
    if workers == 1:
        uvicorn.Server(config).run(sockets=[bind(s.host, s.port)])
        return 0
    # One SO_REUSEPORT socket per worker: the kernel spreads connections evenly by hash, where
    # a shared accept queue lets one busy worker take most keep-alive connections.
    bind(s.host, s.port, reuseport=True).close()  # fail here, once, if the port is taken
    return supervise(
        workers, lambda: uvicorn.Server(config).run(sockets=[bind(s.host, s.port, True)])
    )


def supervise(workers: int, serve: Callable[[], None]) -> int:
    """Fork `workers` children running `serve`; restart any that die until told to stop."""
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                serve()
            except BaseException:
                logging.getLogger("origin").exception("worker %d crashed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        born = children.pop(pid, time.monotonic())
        if not stopping:
            code = os.waitstatus_to_exitcode(status)
            logging.getLogger("origin").error("worker %d exited (%d); restarting it", pid, code)
            if time.monotonic() - born < 1.0:
                time.sleep(1.0)  # a worker that dies at once would otherwise spin the CPU
            spawn()
    return 0


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker if the supervisor dies without cleaning up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def run(cfg: Config) -> int:
    """Serve until interrupted; return the exit status."""
    s = cfg.server
    check_bind(s.host, s.port)
    workers = worker_count(cfg)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    scheme = "https" if s.certfile else "http"
    logging.getLogger("origin").info(
        "serving %s on %s://%s:%d with %s, %d worker(s)",
        cfg.media.root,
        scheme,
        s.host,
        s.port,
        s.server,
        workers,
    )
    if s.server == "uvicorn":
        return run_uvicorn(cfg, workers)
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
