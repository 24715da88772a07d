"""The `origin` command: `origin serve` (and later `origin live`, `origin package`).

Every failure a user can cause ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from origin import __version__
from origin.config import (
    SERVERS,
    Config,
    ConfigError,
    config_to_json,
    load_config,
    with_overrides,
)

EXIT_USAGE = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="origin",
        description="A media streaming origin: progressive download, live LL-HLS, VOD packaging.",
    )
    parser.add_argument("--version", action="version", version=f"origin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the media root over HTTP (and live channels)")
    serve.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml)")
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="TCP port (server.port)")
    serve.add_argument("--media-root", metavar="DIR", help="directory to serve (media.root)")
    serve.add_argument("--server", choices=SERVERS, help="ASGI server (server.server)")
    serve.add_argument("--workers", type=int, help="worker processes, 0 = one per core")
    serve.add_argument("--certfile", help="TLS certificate (PEM); enables HTTPS and HTTP/2")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not write one line per request"
    )
    serve.add_argument("--no-live", action="store_true", help="serve files only, no live channels")
    return parser


def _serve_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    cfg = with_overrides(
        cfg,
        "server",
        host=args.host,
        port=args.port,
        server=args.server,
        workers=args.workers,
        certfile=args.certfile,
        keyfile=args.keyfile,
        access_log=False if args.no_access_log else None,
    )
    cfg = with_overrides(cfg, "media", root=args.media_root)
    root = cfg.media.root
    if not os.path.isdir(root):
        raise ConfigError(
            f"media.root = {root!r}: no such directory; create it or pass --media-root DIR"
        )
    for key in ("certfile", "keyfile"):
        value = getattr(cfg.server, key)
        if value and not os.path.isfile(value):
            raise ConfigError(f"server.{key} = {value!r}: no such file")
    # Workers are separate processes that import the app: give them an absolute root.
    return with_overrides(cfg, "media", root=os.path.abspath(root))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "serve":
            cfg = _serve_config(args)
            from origin.server import run

            os.environ["ORIGIN_RUNTIME_CONFIG"] = config_to_json(cfg)
            return run(cfg)
    except ConfigError as exc:
        print(f"origin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
