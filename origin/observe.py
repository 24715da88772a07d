"""Operability: one access-log line per request and Prometheus metrics.

The access log is buffered and flushed a few times a second (as nginx's `access_log ... buffer=`
does) so logging costs a list append on the hot path, not a write system call per request.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import TextIO


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


class Metrics:
    """Counters and gauges rendered in the Prometheus text exposition format (version 0.0.4)."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.bytes_sent = 0
        self.in_flight = 0
        self.started = time.time()

    def observe(self, status: int, kind: str, sent: int) -> None:
        self.requests[(str(status), kind)] += 1
        self.bytes_sent += sent

    def render(self) -> str:
        lines = [
            "# HELP origin_requests_total Requests answered, by status and object kind.",
            "# TYPE origin_requests_total counter",
        ]
        for (status, kind), count in sorted(self.requests.items()):
            lines.append(f'origin_requests_total{{status="{status}",kind="{kind}"}} {count}')
        lines += [
            "# HELP origin_bytes_sent_total Body bytes sent.",
            "# TYPE origin_bytes_sent_total counter",
            f"origin_bytes_sent_total {self.bytes_sent}",
            "# HELP origin_requests_in_flight Requests being answered now.",
            "# TYPE origin_requests_in_flight gauge",
            f"origin_requests_in_flight {self.in_flight}",
            "# HELP origin_start_time_seconds When this worker started (Unix time).",
            "# TYPE origin_start_time_seconds gauge",
            f"origin_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"
