"""A synthetic channel: the packager without ffmpeg, for HTTP tests and benchmarks.

It drives the real Window and playlist renderer; parts are synthetic byte strings written
atomically to disk exactly where the real packager writes them, then announced through any
Publisher (an in-process LiveHub, or a HubServer that real server processes mirror).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from packager.hub import ChannelView, Publisher, RenditionView
from packager.model import MultivariantPlaylist, Resolution, ServerControl, StreamInf
from packager.playlist import (
    evaluate_skip_boundary,
    render_media_playlist,
    render_multivariant_playlist,
)
from packager.window import Window, WindowConfig

TIMESCALE = 1000


@dataclass
class FakeChannel:
    """One channel of `renditions`, TD seconds, `parts_per_segment` parts of TD/parts each."""

    root: Path
    hub: Publisher
    name: str = "ch"
    renditions: tuple[str, ...] = ("low", "high")
    td: int = 1
    parts_per_segment: int = 4
    msn: int = 0
    part: int = 0
    window_segments: int = 12
    windows: dict[str, Window] = field(default_factory=dict)
    versions: int = 0

    def __post_init__(self) -> None:
        part_target = Fraction(self.td, self.parts_per_segment)
        for r in self.renditions:
            w = Window(WindowConfig(TIMESCALE, self.td, part_target, self.window_segments))
            w.discontinuity(datetime(2026, 11, 22, tzinfo=UTC), 0)
            self.windows[r] = w
            d = self.root / "live" / self.name / r
            d.mkdir(parents=True, exist_ok=True)
            (d / "init0.mp4").write_bytes(b"init-" + r.encode())
        self.hub.publish(self.channel_view())

    @property
    def part_ticks(self) -> int:
        return self.td * TIMESCALE // self.parts_per_segment

    @property
    def server_control(self) -> ServerControl:
        pt = Fraction(self.td, self.parts_per_segment)
        return ServerControl(
            can_block_reload=True,
            part_hold_back=3 * pt,
            hold_back=Fraction(3 * self.td),
            can_skip_until=Fraction(6 * self.td),
        )

    def channel_view(self, ended: bool = False) -> ChannelView:
        mv = MultivariantPlaylist(
            variants=tuple(
                StreamInf(
                    f"{r}/index.m3u8",
                    1_000_000,
                    900_000,
                    "avc1.42c01e,mp4a.40.2",
                    Resolution(320, 180),
                    Fraction(30),
                )
                for r in self.renditions
            )
        )
        return ChannelView(
            self.name,
            self.renditions,
            render_multivariant_playlist(mv).encode(),
            self.td,
            Fraction(self.td, self.parts_per_segment),
            ended,
        )

    def part_bytes(self, rendition: str, msn: int, part: int) -> bytes:
        return f"{rendition}:{msn}.{part}:".encode() * 50

    def advance(self, parts: int = 1, publish: bool = True) -> None:
        """Publish the next `parts` parts in every rendition (closing segments as they fill)."""
        for _ in range(parts):
            for r, w in self.windows.items():
                d = self.root / "live" / self.name / r
                data = self.part_bytes(r, self.msn, self.part)
                tmp = d / f".tmp-{self.msn}-{self.part}"
                tmp.write_bytes(data)
                os.replace(tmp, d / f"part{self.msn}.{self.part}.m4s")
                start = (self.msn * self.parts_per_segment + self.part) * self.part_ticks
                w.add_part(self.msn, self.part, self.part_ticks, self.part == 0, start)
                if self.part == self.parts_per_segment - 1:
                    seg = b"".join(
                        self.part_bytes(r, self.msn, i) for i in range(self.parts_per_segment)
                    )
                    (d / f"seg{self.msn}.m4s").write_bytes(seg)
                    w.add_segment(self.msn, self.td * TIMESCALE)
            self.part += 1
            if self.part == self.parts_per_segment:
                self.msn, self.part = self.msn + 1, 0
            if publish:
                self.publish()

    def end(self) -> None:
        """Finish the segment in progress, then end the stream (EXT-X-ENDLIST)."""
        while self.part:
            self.advance(1)
        for w in self.windows.values():
            w.end()
        self.publish()
        self.hub.publish(self.channel_view(ended=True))

    def publish(self) -> None:
        self.versions += 1
        snaps = {r: w.snapshot() for r, w in self.windows.items()}
        for r, snap in snaps.items():
            if not snap.has_complete_segment:
                continue
            reports = tuple(
                s.rendition_report(f"../{o}/index.m3u8") for o, s in snaps.items() if o != r
            )
            pl = snap.build_media_playlist(self.server_control, reports)
            boundary = evaluate_skip_boundary(pl)
            delta = None
            if boundary is not None and boundary > pl.media_sequence:
                delta = render_media_playlist(pl, skip_before_msn=boundary).encode()
            self.hub.publish(
                RenditionView(
                    self.name, r, self.versions, snap, render_media_playlist(pl).encode(), delta
                )
            )
