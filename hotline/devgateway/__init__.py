"""A local Twilio emulator ("dev gateway") and a browser dev phone for the hotline.

Run it as its own process next to the hotline:

    flask --app "hotline.devgateway:create_gateway_app()" run --port 5055 --with-threads

See hotline/devgateway/README.md for the JSON API, the configuration and what is emulated.
"""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask


def create_gateway_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the gateway app; `config` keys override environment variables of the same name."""
    from hotline.devgateway import api, pages, rest
    from hotline.devgateway.config import load_config
    from hotline.devgateway.simulator import Simulator

    gateway_config = load_config(config)
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config["DEVGATEWAY"] = gateway_config
    simulator = Simulator(gateway_config)
    app.extensions["devgateway"] = simulator
    app.register_blueprint(rest.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    if not (config or {}).get("TESTING"):
        atexit.register(simulator.shutdown)
    return app


__all__ = ["create_gateway_app"]
