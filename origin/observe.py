"""Operability: one access-log line per request and Prometheus metrics.

The access log is buffered and flushed a few times a second (as nginx's `access_log ... buffer=`
does) so logging costs a list append on the hot path, not a write system call per request.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TextIO


class AccessLog:
    """Buffered access log: `method path status bytes duration range`, one line per request."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def record(
        self, client: str, method: str, path: str, status: int, sent: int, seconds: float, rng: str
    ) -> None:
        if not self.enabled:
            return
        now = int(time.time())
        if now != self._second:  # format the timestamp once a second, not once a request
            self._second = now
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        stamp = self._stamp
        range_part = f' range="{rng}"' if rng else ""
        ms = seconds * 1000
        self._lines.append(
            f'{stamp} {client} "{method} {path}" {status} {sent} {ms:.2f}ms{range_part}\n'
        )
        if len(self._lines) >= 256:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full log must never take requests down with it


@dataclass(slots=True)
class Metrics:
    """Counters and gauges rendered in the Prometheus text exposition format (version 0.0.4).

    With several worker processes, each one writes its counters to `share_dir` once a second
    and `/metrics` sums every worker's file, so a scrape sees the whole server, not whichever
    worker answered (the same idea as prometheus_client's multiprocess mode).
    """

    share_dir: str | None = None
    requests: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    bytes_sent: int = 0
    in_flight: int = 0
    started: float = field(default_factory=time.time)

    def observe(self, status: int, kind: str, sent: int) -> None:
        self.requests[(str(status), kind)] += 1
        self.bytes_sent += sent

    def _state(self) -> dict[str, object]:
        return {
            "requests": [[s, k, n] for (s, k), n in self.requests.items()],
            "bytes_sent": self.bytes_sent,
            "in_flight": self.in_flight,
            "started": self.started,
        }

    def share(self) -> None:
        """Write this worker's counters where the others can read them (atomic rename)."""
        if self.share_dir is None:
            return
        path = os.path.join(self.share_dir, f"{os.getpid()}.json")
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self._state(), f)
            os.replace(tmp, path)
        except OSError:
            pass  # metrics must never take requests down with them

    def _gather(self) -> list[dict[str, Any]]:
        states: list[dict[str, Any]] = [self._state()]
        if self.share_dir is None:
            return states
        own = f"{os.getpid()}.json"
        try:
            names = os.listdir(self.share_dir)
        except OSError:
            return states
        for name in names:
            if name.endswith(".json") and name != own:
                try:
                    with open(os.path.join(self.share_dir, name)) as f:
                        states.append(json.load(f))
                except (OSError, ValueError):
                    continue  # a worker mid-restart: skip its file this time
        return states

    def render(self) -> str:
        states = self._gather()
        requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        for st in states:
            for status, kind, count in st["requests"]:
                requests[(status, kind)] += count
        lines = [
            "# HELP origin_requests_total Requests answered, by status and object kind.",
            "# TYPE origin_requests_total counter",
        ]
        for (status, kind), count in sorted(requests.items()):
            lines.append(f'origin_requests_total{{status="{status}",kind="{kind}"}} {count}')
        lines += [
            "# HELP origin_bytes_sent_total Body bytes sent.",
            "# TYPE origin_bytes_sent_total counter",
            f"origin_bytes_sent_total {sum(st['bytes_sent'] for st in states)}",
            "# HELP origin_requests_in_flight Requests being answered now.",
            "# TYPE origin_requests_in_flight gauge",
            f"origin_requests_in_flight {sum(st['in_flight'] for st in states)}",
            "# HELP origin_workers Worker processes reporting.",
            "# TYPE origin_workers gauge",
            f"origin_workers {len(states)}",
            "# HELP origin_start_time_seconds When the oldest reporting worker started.",
            "# TYPE origin_start_time_seconds gauge",
            f"origin_start_time_seconds {min(st['started'] for st in states):.3f}",
        ]
        return "\n".join(lines) + "\n"
