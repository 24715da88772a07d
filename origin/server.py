"""Run the ASGI app under the configured server: uvicorn, Hypercorn (HTTP/2) or Granian."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
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


def uvicorn_server(cfg: Config) -> Callable[[socket.socket], None]:
    """Return a function that serves the app with uvicorn on a given listening socket."""
    import uvicorn

    from origin.asgi import app

    s = cfg.server
    config = uvicorn.Config(
        app,
        access_log=False,  # one line per request is written by the app itself
        # An origin's peers are CDN edges; the log shows them. X-Forwarded-* rewriting would
        # cost a middleware hop on every request for addresses only trusted from localhost.
        proxy_headers=False,
        log_level="warning",
        server_header=False,
        ssl_certfile=s.certfile or None,
        ssl_keyfile=s.keyfile or None,
        timeout_graceful_shutdown=5,
    )
    return lambda sock: uvicorn.Server(config).run(sockets=[sock])


def packager_main(cfg: Config, hub_socket: str) -> None:
    """The packager process: one writer for every live channel, publishing over the hub."""
    import asyncio

    from packager.hub import HubServer
    from packager.live import run_channels

    async def main() -> None:
        hub = HubServer(hub_socket)
        await hub.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_channels(cfg.live, cfg.media.root, hub, stop)
        finally:
            await hub.close()

    asyncio.run(main())


Role = tuple[str, Callable[[], None]]


def supervise(roles: list[Role]) -> int:
    """Fork a child per role; restart any that dies until told to stop.

    Roles are the packager (one writer for live channels) and the HTTP workers. Forked after the
    app is imported, workers share its code pages, so memory is roughly one interpreter plus
    per-connection buffers (unlike `uvicorn --workers`: a spawned supervisor, a resource tracker,
    and workers that each import everything again).
    """
    children: dict[int, tuple[Role, float]] = {}
    stopping = False
    log = logging.getLogger("origin")

    def spawn(role: Role) -> None:
        pid = os.fork()
        if pid == 0:
            _die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                role[1]()
            except BaseException:
                log.exception("%s %d crashed", role[0], os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = (role, time.monotonic())

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for role in roles:
        spawn(role)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        role, born = children.pop(pid, (("child", lambda: None), time.monotonic()))
        # A dead worker's shared counters go with it (Prometheus handles a counter reset).
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(os.environ.get("ORIGIN_METRICS_DIR", "."), f"{pid}.json"))
        if not stopping:
            code = os.waitstatus_to_exitcode(status)
            log.error("%s %d exited (%d); restarting it", role[0], pid, code)
            if time.monotonic() - born < 1.0:
                time.sleep(1.0)  # a child that dies at once would otherwise spin the CPU
            spawn(role)
    return 0


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker if the supervisor dies without cleaning up."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def raise_open_file_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit: each connection and each blocked
    LL-HLS request holds a socket (nginx's worker_rlimit_nofile, done for the operator)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(cfg: Config) -> int:
    """Serve until interrupted; return the exit status."""
    s = cfg.server
    check_bind(s.host, s.port)  # a taken port is one line on stderr, before anything is logged
    raise_open_file_limit()
    workers = worker_count(cfg)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("origin")
    roles: list[Role] = []
    # Private runtime directory: the live hub's socket and the workers' shared metrics.
    run_dir = tempfile.mkdtemp(prefix="origin-run-")
    os.environ["ORIGIN_METRICS_DIR"] = run_dir
    if cfg.live:
        hub_socket = os.path.join(run_dir, "hub.sock")
        os.environ["ORIGIN_HUB_SOCKET"] = hub_socket  # read by every worker's app
        roles.append(("packager", lambda: packager_main(cfg, hub_socket)))
        log.info("live channels: %s", ", ".join(f"/live/{ch.name}/index.m3u8" for ch in cfg.live))
    scheme = "https" if s.certfile else "http"
    log.info(
        "serving %s on %s://%s:%d with %s, %d worker(s)",
        cfg.media.root,
        scheme,
        s.host,
        s.port,
        s.server,
        workers,
    )
    try:
        if s.server == "uvicorn":
            serve = uvicorn_server(cfg)
            if workers == 1:
                sock = bind(s.host, s.port)
                roles.append(("worker", lambda: serve(sock)))
            else:
                # One SO_REUSEPORT socket per worker: the kernel spreads connections evenly,
                # where a shared accept queue lets one busy worker take most keep-alives.
                bind(s.host, s.port, reuseport=True).close()  # fail once, here, if taken
                roles += [("worker", lambda: serve(bind(s.host, s.port, True)))] * workers
        else:
            check_bind(s.host, s.port)
            roles.append(("server", lambda: _run_other(cfg, workers)))
        if len(roles) == 1:
            roles[0][1]()  # nothing to supervise: run in this process
            return 0
        return supervise(roles)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run_other(cfg: Config, workers: int) -> None:
    """Run Hypercorn or Granian, which manage their own worker processes."""
    s = cfg.server
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
        return
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
