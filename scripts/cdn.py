"""Run nginx as a caching CDN edge in front of an origin, from docs/nginx-cdn.conf.

    scripts/cdn --origin http://127.0.0.1:8080 --port 8081

Renders the template (upstream, listen address, cache and run directories in a fresh temporary
directory unless given) and runs nginx in the foreground until Ctrl-C; the temporary directory
goes with it. `--print` shows the rendered configuration and exits. The access log
(one line per request, with the cache status) is written to <run-dir>/access.log.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docs" / "nginx-cdn.conf"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def origin_hostport(url: str) -> str:
    """Given an origin URL (http://host:port) or host:port, return host:port for `server`."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"origin {url!r}: only http:// origins (TLS to the origin is not set up)")
    if not parts.hostname:
        raise ValueError(f"origin {url!r}: no host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or 80}"


def render(
    origin: str,
    listen: str,
    run_dir: Path,
    cache_dir: Path | None = None,
    workers: str = "auto",
    template: Path = TEMPLATE,
) -> Path:
    """Write <run_dir>/nginx.conf from the template; return its path (dirs are created)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = cache_dir if cache_dir is not None else run_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would become `nobody`, who cannot enter a private temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    values = {
        "@USER@": user,
        "@WORKERS@": workers,
        "@ORIGIN@": origin_hostport(origin),
        "@LISTEN@": listen,
        "@CACHE_DIR@": str(cache),
        "@RUN_DIR@": str(run_dir),
    }
    lines = []
    for line in template.read_text().splitlines(keepends=True):
        if not line.lstrip().startswith("#"):  # comments keep the placeholders' names
            for key, value in values.items():
                line = line.replace(key, value)
            if "@" in line.split("#")[0]:
                raise ValueError(f"{template}: unreplaced placeholder in {line.strip()!r}")
        lines.append(line)
    conf = run_dir / "nginx.conf"
    conf.write_text("".join(lines))
    return conf


def command(conf: Path) -> list[str]:
    """The nginx command line that runs `conf` in the foreground."""
    return [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origin", required=True, help="origin URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--run-dir", type=Path, help="config, logs, temp files (default: a temp dir)")
    ap.add_argument("--cache-dir", type=Path, help="cache directory (default: <run-dir>/cache)")
    ap.add_argument("--workers", default="auto", help="worker processes (default auto)")
    ap.add_argument("--print", action="store_true", help="print the rendered config and exit")
    args = ap.parse_args(argv)
    if not os.access(NGINX, os.X_OK):
        print(f"cdn: {NGINX} not found: apt-get install nginx (or set NGINX=)", file=sys.stderr)
        return 1
    temp = None
    run_dir = args.run_dir
    if run_dir is None:
        temp = tempfile.mkdtemp(prefix="origin-cdn-")
        run_dir = Path(temp)
    try:
        try:
            conf = render(
                args.origin, f"{args.host}:{args.port}", run_dir, args.cache_dir, args.workers
            )
        except ValueError as exc:
            print(f"cdn: {exc}", file=sys.stderr)
            return 2
        if args.print:
            print(conf.read_text(), end="")
            return 0
        check = subprocess.run([*command(conf)[:-2], "-t", "-q"], check=False)
        if check.returncode != 0:
            return check.returncode
        print(
            f"cdn: http://{args.host}:{args.port}/ -> {args.origin} "
            f"(config {conf}, access log {run_dir / 'access.log'}); Ctrl-C stops",
            file=sys.stderr,
        )
        proc = subprocess.Popen(command(conf))

        def stop(signum: int, frame: object) -> None:
            # Graceful: nginx finishes the requests in flight, then exits; we clean up after.
            proc.send_signal(signal.SIGQUIT)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)  # Ctrl-C also reaches nginx itself (same group)
        try:
            return proc.wait(timeout=None)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
