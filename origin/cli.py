"""The `origin` command: `origin serve`, `origin live`, `origin package`.

Every failure a user can cause ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from origin import __version__
from origin.config import (
    SERVERS,
    Config,
    ConfigError,
    LiveChannel,
    config_to_json,
    load_config,
    with_live,
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

    live = sub.add_parser(
        "live",
        help="publish one live channel from the command line (and serve, as `serve` does)",
        description="Run one live LL-HLS channel from INPUT and serve it with the media root.",
    )
    live.add_argument(
        "--input",
        required=True,
        help="testsrc, a media file, or a URL to listen on: rtmp://0.0.0.0:1935/app/key, "
        "srt://0.0.0.0:9000?mode=listener, udp://0.0.0.0:9000",
    )
    live.add_argument("--name", default="live", help="channel name: /live/NAME/index.m3u8")
    live.add_argument("--no-loop", action="store_true", help="end the stream when a file ends")
    live.add_argument("--part-target", help="part target in seconds (default from config)")
    live.add_argument("--segment-duration", type=int, help="segment duration in seconds")
    for action in serve._actions:
        if action.dest not in ("help", "no_live") and action.option_strings:
            live._add_action(action)

    pkg = sub.add_parser(
        "package",
        help="package a media file as a VOD title: CMAF HLS ladder + fast-start MP4",
        description="Package INPUT into <media.root>/vod/NAME/ (or --out DIR): index.m3u8, "
        "one directory per rendition, and NAME.mp4. Nothing is left behind on failure.",
    )
    pkg.add_argument("input", metavar="INPUT", help="any file ffmpeg can read")
    pkg.add_argument("--name", help="title name (default: the input's file name, sanitised)")
    pkg.add_argument("--out", metavar="DIR", help="title directory (default: media.root/vod/NAME)")
    pkg.add_argument(
        "--ladder",
        metavar="SIZE:KBPS,...",
        help="renditions as short side:video kbit/s, e.g. 720:2800,360:800 (package.ladder)",
    )
    pkg.add_argument("--copy", action="store_true", help="remux H.264/AAC without re-encoding")
    pkg.add_argument("--force", action="store_true", help="replace an existing title")
    pkg.add_argument("--quiet", action="store_true", help="no progress output")
    pkg.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml)")
    return parser


def _package(args: argparse.Namespace) -> int:
    from packager.ladder import Rung, parse_ladder
    from packager.vod import PackageOptions, run_package, sanitize_name

    cfg = load_config(args.config)
    pc = cfg.package
    try:
        ladder = (
            parse_ladder(args.ladder)
            if args.ladder
            else tuple(Rung(r.name, r.height, r.video_kbps) for r in pc.ladder)
        )
    except ValueError as exc:
        raise ConfigError(f"--ladder: {exc}") from None
    name = sanitize_name(args.name or os.path.splitext(os.path.basename(args.input))[0])
    out = args.out or os.path.join(cfg.media.root, "vod", name)
    opts = PackageOptions(
        input=args.input,
        dest=out,
        name=name,
        ladder=ladder,
        segment_target=pc.segment_target,
        audio_kbps=pc.audio_kbps,
        preset=pc.preset,
        copy=args.copy,
        force=args.force,
        quiet=args.quiet,
    )
    return run_package(opts)


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
    if getattr(args, "no_live", False):
        cfg = with_live(cfg, ())
    if args.command == "live":
        base = cfg.live[0] if cfg.live else LiveChannel()
        channel = replace(base, name=args.name, input=args.input, loop=not args.no_loop)
        if args.part_target:
            channel = replace(channel, part_target=args.part_target)
        if args.segment_duration:
            channel = replace(channel, segment_duration=args.segment_duration)
        cfg = with_live(cfg, (channel,))
        if "://" not in args.input and args.input != "testsrc" and not os.path.isfile(args.input):
            raise ConfigError(f"--input {args.input!r}: no such file")
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
        if args.command in ("serve", "live"):
            cfg = _serve_config(args)
            from origin.server import run

            os.environ["ORIGIN_RUNTIME_CONFIG"] = config_to_json(cfg)
            return run(cfg)
        if args.command == "package":
            return _package(args)
    except ConfigError as exc:
        print(f"origin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
