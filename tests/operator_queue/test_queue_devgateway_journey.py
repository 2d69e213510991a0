"""End to end through the local Twilio emulator (hotline.devgateway) over real HTTP: a caller
presses 0, waits and hears their position, an operator takes them from the console, the
operator's phone answers (auto-answer) and both are joined in a conference; hanging up ends it.

The hotline app makes its REST calls with the real twilio SDK to the emulator, and the emulator
posts signed webhooks back to the app, as Twilio would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import time_machine
from sqlalchemy import select
from werkzeug.serving import make_server

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.db import db
from hotline.operators.models import Presence
from hotline.queue.models import QueueStatus
from hotline.timeutil import utcnow
from tests.devgateway.harness import InFlight

from .queue_support import *  # noqa: F403
from .queue_support import entry_of, login, operator_of

DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"
LINE = "+861012345678"
ELDER = "+8613123456731"
OPERATOR_PHONE = "+8613123456781"


class _Server:
    def __init__(self, wsgi_app):
        import threading

        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def dev_twilio(app_config):
    """The app talks to the emulator (dev credentials, no recording client)."""
    app_config.update(
        TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEV_AUTH_TOKEN,
        HOTLINE_DEV_MODE=True,
        TWILIO_HTTP_CLIENT=None,
    )


@pytest.fixture
def gateway_overrides() -> dict:
    """The emulator's configuration beyond the defaults below (a test module overrides this
    fixture, e.g. for more lines or more phones that answer by themselves)."""
    return {}


@pytest.fixture
def emulator(dev_twilio, app, gateway_overrides):
    """The hotline app and the emulator, each on a real local port, wired to each other."""
    from hotline.devgateway import create_gateway_app

    in_flight = InFlight(app.wsgi_app)
    hotline_server = _Server(in_flight)
    gateway_server = _Server(lambda environ, start: gateway_app(environ, start))
    gateway_app = create_gateway_app(
        {
            "HOTLINE_URL": hotline_server.url,
            "TWILIO_ACCOUNT_SID": DEV_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": DEV_AUTH_TOKEN,
            "GATEWAY_PUBLIC_URL": gateway_server.url,
            "LINES": LINE,
            "AUTO_ANSWER_NUMBERS": OPERATOR_PHONE,
            "GATEWAY_CLOCK": "manual",
            "TESTING": True,
            **gateway_overrides,
        }
    )
    gateway_app.extensions["devgateway"].external_busy = in_flight.busy
    app.config.update(TWILIO_API_BASE_URL=gateway_server.url, PUBLIC_BASE_URL=hotline_server.url)
    app.extensions["hotline.gateway"] = None  # build the SDK client with the new base URL
    session = requests.Session()
    session.trust_env = False

    class Api:
        def __call__(self, method, path, **payload):
            response = session.request(
                method, gateway_server.url + "/api" + path, json=payload or None, timeout=30
            )
            assert response.status_code < 400, response.text
            return response.json()

        def advance(self, seconds):
            self("POST", "/clock/advance", seconds=seconds)
            self("POST", "/wait")

    yield Api()
    gateway_app.extensions["devgateway"].shutdown()
    session.close()
    gateway_server.close()
    hotline_server.close()


def test_caller_presses_0_waits_and_is_joined_with_the_operator_in_a_conference(
    dev_twilio, app, emulator, make_operator
):
    operator_id = make_operator("lin", phone_number=OPERATOR_PHONE)
    client = app.test_client()
    login(client, "lin")

    call = emulator("POST", f"/phones/{ELDER}/calls", to=LINE)["call"]
    sid = call["sid"]
    emulator.advance(20)  # greeting, then silence at the language offer: the main menu
    emulator("POST", f"/calls/{sid}/digits", digits="0")
    emulator.advance(15)  # "putting you through", then the first wait announcement
    view = emulator("GET", f"/calls/{sid}")
    assert view["queue"] and view["queue"]["name"] == "line-main", view
    heard = " ".join(event["text"] for event in view["transcript"])
    assert "下一位就是您" in heard, heard[-1000:]
    assert view["expecting"]["input"] == ["dtmf", "speech"], "listening for * while waiting"
    emulator.advance(80)  # the next round of the wait comes within 60-90 s
    view = emulator("GET", f"/calls/{sid}")
    assert [e["text"] for e in view["transcript"]].count("下一位就是您。") == 2
    assert view["queue"] and view["queue"]["name"] == "line-main", (
        "still waiting in the Twilio queue"
    )

    response = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert response.status_code == 200, response.get_json()
    emulator.advance(5)  # the operator's phone rings and answers by itself
    entry_id = response.get_json()["entry_id"]
    entry = entry_of(app, entry_id)
    assert entry.status == QueueStatus.CONNECTED, entry.status
    assert operator_of(app, operator_id).presence == Presence.BUSY
    caller_view = emulator("GET", f"/calls/{sid}")
    assert caller_view["activity"] == "conference", caller_view["activity"]
    numbers = {p["number"] for p in caller_view["conference"]["participants"]}
    assert {ELDER, OPERATOR_PHONE} <= numbers, numbers

    assert client.post(f"/console/api/queue/{entry_id}/hangup").get_json()["ok"]
    emulator.advance(5)
    assert entry_of(app, entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP
    problems = emulator("GET", "/problems")
    errors = [
        p
        for p in problems.get("problems", problems)
        if isinstance(p, dict) and p.get("level") == "error"
    ]
    assert errors == [], errors


def test_caller_takes_the_offered_callback_and_the_call_ends(dev_twilio, app, emulator):
    sid = emulator("POST", f"/phones/{ELDER}/calls", to=LINE)["call"]["sid"]
    emulator.advance(20)
    emulator("POST", f"/calls/{sid}/digits", digits="0")
    emulator.advance(15)
    # The emulator's clock is its own; the app's is the wall clock: move both past the offer.
    with time_machine.travel(utcnow() + timedelta(seconds=190)):
        emulator.advance(190)
        _after_the_offer(emulator, app, sid)


def _after_the_offer(emulator, app, sid):
    view = emulator("GET", f"/calls/{sid}")
    assert any("请按1" in e["text"] and "回电" in e["text"] for e in view["transcript"])
    emulator("POST", f"/calls/{sid}/digits", digits="1")
    emulator.advance(15)
    view = emulator("GET", f"/calls/{sid}")
    assert view["status"] == "completed", view["activity"]
    assert any("按您排队的先后给您回电话" in e["text"] for e in view["transcript"])
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        assert callback.reason == CallbackReason.VIRTUAL_HOLD and callback.phone_number == ELDER
