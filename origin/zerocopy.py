"""Zero-copy file bodies under uvicorn: `os.sendfile` from the page cache straight to the socket.

ASGI's zero-copy extension (`http.response.zerocopysend`) is not implemented by uvicorn, and the
two copies of the ordinary path (pread into Python bytes, then into the socket buffer) were a
third of the CPU of a 64 KiB range request. uvicorn's httptools protocol passes its
`RequestResponseCycle.send` as the ASGI `send`; through it this module reaches the transport
and, only when every condition below holds, sends file bytes with sendfile(2) and tells the
cycle they were sent. Anything else answers 0 bytes and the caller streams as usual, so another
server (Granian, Hypercorn), TLS, a transport with queued bytes, or a future uvicorn whose
internals differ all fall back to the portable path.
"""

from __future__ import annotations

import os
from typing import Any

_HTTPTOOLS_CYCLE = "uvicorn.protocols.http.httptools_impl"


def sendfile_now(send: Any, fd: int, offset: int, count: int) -> int:
    """Send up to `count` bytes of `fd` at `offset` to the client now; return how many went.

    Called after the response headers were handed to the server. Never blocks: a full socket
    buffer sends fewer bytes (or none) and the caller sends the rest the portable way.
    """
    cycle = getattr(send, "__self__", None)
    if cycle is None or type(cycle).__module__ != _HTTPTOOLS_CYCLE:
        return 0
    transport = getattr(cycle, "transport", None)
    if transport is None or not isinstance(getattr(cycle, "expected_content_length", None), int):
        return 0
    # Bytes still queued in the transport (the headers, if the socket was full) must go first;
    # TLS needs the transport to encrypt: raw bytes on its socket would corrupt the stream.
    if transport.is_closing() or transport.get_write_buffer_size():
        return 0
    if transport.get_extra_info("sslcontext") is not None:
        return 0
    if transport.get_extra_info("ssl_object") is not None:
        return 0
    sock = transport.get_extra_info("socket")
    if sock is None or count > cycle.expected_content_length:
        return 0
    try:
        sent = os.sendfile(sock.fileno(), fd, offset, count)
    except OSError:
        return 0  # EAGAIN, or a client already gone: the portable path notices and stops
    cycle.expected_content_length -= sent  # the cycle must not count these again
    return sent
