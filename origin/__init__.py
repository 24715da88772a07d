"""The HTTP side of origin: exact progressive download, live LL-HLS delivery, the CLI."""

from __future__ import annotations

__version__ = "0.1.0"
