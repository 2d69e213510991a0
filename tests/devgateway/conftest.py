"""Fixtures for the dev gateway tests (the harness itself is in harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hotline.devgateway import create_gateway_app

from .harness import ACCOUNT_SID, AUTH_TOKEN, LINE, Gateway, InFlight, LocalServer, StandIn


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A running stand-in hotline."""
    stand_in = StandIn()
    stand_in.server = LocalServer(stand_in.build_app())
    yield stand_in
    stand_in.server.close()


@pytest.fixture
def gateway_factory(standin: StandIn) -> Iterator[Callable[..., Gateway]]:
    """Build gateways with config overrides; all are shut down after the test."""
    created: list[Gateway] = []

    def factory(**overrides: Any) -> Gateway:
        """A gateway pointed at the stand-in, manual clock, no env dependence."""
        server = LocalServer(lambda environ, start: None)
        config = {
            "HOTLINE_URL": standin.url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "GATEWAY_PUBLIC_URL": server.url,
            "LINES": LINE,
            "AUTO_ANSWER_NUMBERS": "",
            "GATEWAY_CLOCK": "manual",
            "PHONE_TTL": 120,
            "TESTING": True,
        }
        config.update(overrides)
        app = create_gateway_app(config)
        server.app = app
        session = requests.Session()
        session.trust_env = False
        gateway = Gateway(app, server, session)
        created.append(gateway)
        return gateway

    yield factory
    for gateway in created:
        gateway.sim.shutdown()
        gateway.session.close()
        gateway.server.close()


@pytest.fixture
def gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    """A gateway with the default test configuration."""
    return gateway_factory()


@pytest.fixture
def twilio_client(gateway: Gateway) -> Iterator[Client]:
    """The real twilio SDK, pointed at the gateway."""
    http_client = TwilioHttpClient()
    assert http_client.session is not None
    http_client.session.trust_env = False
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
    client.api.base_url = gateway.url
    yield client
    http_client.session.close()


@pytest.fixture
def hotline_gateway(app, gateway_factory) -> Iterator[Gateway]:
    """The hotline app and the emulator on real local ports, wired to each other (the app runs
    with the public development token, so HOTLINE_DEV_MODE is set)."""
    app.config.update(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_DEV_MODE=True,
        TWILIO_HTTP_CLIENT=None,
    )
    in_flight = InFlight(app.wsgi_app)
    hotline_server = LocalServer(in_flight)
    gateway = gateway_factory(HOTLINE_URL=hotline_server.url)
    gateway.sim.external_busy = in_flight.busy
    app.config.update(TWILIO_API_BASE_URL=gateway.url, PUBLIC_BASE_URL=hotline_server.url)
    app.extensions["hotline.gateway"] = None  # build the SDK client with the new base URL
    yield gateway
    hotline_server.close()
