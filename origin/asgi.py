"""Import target for ASGI servers: `origin.asgi:app`, configured from the environment.

`origin serve` validates the configuration, then hands it to worker processes through
ORIGIN_RUNTIME_CONFIG (JSON), so every worker builds the same app without re-reading flags.
"""

from __future__ import annotations

import os

from origin.app import Origin, create_app
from origin.config import config_from_json, load_config

_runtime = os.environ.get("ORIGIN_RUNTIME_CONFIG")
app: Origin = create_app(
    config_from_json(_runtime) if _runtime else load_config(None),
    hub_socket=os.environ.get("ORIGIN_HUB_SOCKET") or None,
)
