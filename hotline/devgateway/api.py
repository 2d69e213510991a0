"""The gateway's own JSON API: what the dev phone, Playwright tests and benchmark scripts drive.

Actions on a call wait, by default, until that call settles (it waits for the caller, a timer
or another call again), and return the transcript events the action produced. `wait` may be
"call" (default), "all" (every call and job settled) or "none".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from hotline.devgateway.simulator import GatewayError, Simulator
from hotline.devgateway.util import iso8601

bp = Blueprint("devgateway_api", __name__, url_prefix="/api")

KEYS = set("0123456789*#w")


def sim() -> Simulator:
    """The simulator of the running gateway app."""
    return current_app.extensions["devgateway"]


def body() -> dict[str, Any]:
    """The request's JSON object, or its form, or its query string."""
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        return data
    if request.form:
        return dict(request.form.items())
    return dict(request.args.items())


@bp.errorhandler(GatewayError)
def gateway_error(exc: GatewayError) -> Response:
    """Refusals as JSON with the HTTP status."""
    response = jsonify({"error": exc.message, "code": exc.code})
    response.status_code = exc.status
    return response


def _wait_options(data: dict[str, Any]) -> tuple[str, float]:
    """The `wait` mode and its timeout in real seconds."""
    mode = str(data.get("wait", "call")).lower()
    if mode in ("false", "0", "no"):
        mode = "none"
    if mode in ("true", "1", "yes"):
        mode = "call"
    try:
        timeout = float(data.get("timeout", 10))
    except (TypeError, ValueError):
        timeout = 10.0
    return mode, timeout


def _settle(sid: str, mode: str, timeout: float) -> bool:
    """Wait as asked; True when the wait finished before the timeout."""
    simulator = sim()
    if mode == "none":
        return True
    if mode == "all":
        return simulator.wait_idle(timeout)
    return simulator.wait_settled(sid, timeout)


def _result(sid: str, since: int, settled: bool) -> Response:
    """A call action's answer: the call now, and what happened since the action."""
    simulator = sim()
    call = simulator.call_or_404(sid)
    with simulator.lock:
        events = [e.as_dict() for e in call.transcript if e.id > since]
    return jsonify(
        {"ok": True, "settled": settled, "call": simulator.call_view(call), "events": events}
    )


def _last_event_id(sid: str) -> int:
    """The newest transcript event id of a call (0 if none)."""
    simulator = sim()
    call = simulator.call_or_404(sid)
    with simulator.lock:
        return call.transcript[-1].id if call.transcript else 0


# ---------------------------------------------------------------------- configuration and clock


@bp.get("/config")
def config() -> Response:
    """Lines, demo identities and the clock mode."""
    cfg = sim().config
    return jsonify(
        {
            "lines": list(cfg.lines),
            "identities": [{"label": label, "number": number} for label, number in cfg.identities],
            "auto_answer_numbers": list(cfg.auto_answer_numbers),
            "hotline_url": cfg.hotline_url,
            "public_url": cfg.public_url,
            "account_sid": cfg.account_sid,
            "clock": "manual" if sim().clock.is_manual else "real",
        }
    )


@bp.get("/clock")
def clock() -> Response:
    """Simulated time now."""
    now = sim().clock.now()
    return jsonify({"now": iso8601(now), "epoch": now, "manual": sim().clock.is_manual})


@bp.post("/clock/advance")
def advance() -> Response:
    """Manual clock: move time forward by `seconds`, firing every timer due on the way."""
    data = body()
    try:
        seconds = float(data.get("seconds", 0))
    except (TypeError, ValueError) as exc:
        raise GatewayError(400, 20001, "seconds must be a number") from exc
    now = sim().advance(seconds)
    return jsonify({"now": iso8601(now), "epoch": now})


@bp.post("/wait")
def wait() -> Response:
    """Wait until every call and job has settled (or `timeout` real seconds)."""
    _, timeout = _wait_options(body())
    return jsonify({"idle": sim().wait_idle(timeout)})


@bp.post("/reset")
def reset() -> Response:
    """Hang up live calls and forget finished calls, messages and logs."""
    sim().reset()
    return jsonify({"ok": True})


# ---------------------------------------------------------------------- phones


@bp.get("/phones/<number>")
def phone_state(number: str) -> Response:
    """One poll of a dev phone; polling keeps the number registered (register=0 does not)."""
    simulator = sim()
    if request.args.get("register", "1") not in ("0", "false"):
        ttl = request.args.get("ttl")
        simulator.touch_phone(number, float(ttl) if ttl else None)
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        since = 0
    return jsonify(simulator.phone_state(number, since))


@bp.post("/phones/<number>/calls")
def place_call(number: str) -> Response:
    """The phone `number` dials a line: {"to": "+861012345678"}."""
    data = body()
    to = str(data.get("to") or sim().config.lines[0])
    call = sim().place_inbound_call(number, to)
    mode, timeout = _wait_options(data)
    settled = _settle(call.sid, mode, timeout)
    response = _result(call.sid, 0, settled)
    response.status_code = 201
    return response


@bp.post("/phones/<number>/messages")
def send_message(number: str) -> Response:
    """The phone `number` texts a line: {"to": ..., "body": ...}."""
    data = body()
    text = str(data.get("body") or "")
    if not text:
        raise GatewayError(400, 21602, "body is required")
    simulator = sim()
    message = simulator.send_phone_message(
        number, str(data.get("to") or simulator.config.lines[0]), text
    )
    mode, timeout = _wait_options(data)
    if mode != "none":
        simulator.wait_idle(timeout)
    response = jsonify({"ok": True, "message": simulator.message_view(message)})
    response.status_code = 201
    return response


@bp.get("/phones/<number>/messages")
def phone_messages(number: str) -> Response:
    """The phone's SMS conversation with every line, oldest first."""
    return jsonify({"messages": sim().phone_state(number)["messages"]})


# ---------------------------------------------------------------------- calls


@bp.get("/calls")
def list_calls() -> Response:
    """Every call, newest first (`active=1` for live ones only)."""
    simulator = sim()
    with simulator.lock:
        calls = list(simulator.calls.values())
    if request.args.get("active") in ("1", "true"):
        calls = [c for c in calls if not c.is_ended]
    calls.sort(key=lambda c: c.created_at, reverse=True)
    return jsonify({"calls": [simulator.call_view(c) for c in calls]})


@bp.get("/calls/<sid>")
def get_call(sid: str) -> Response:
    """A call with its transcript and webhook exchanges."""
    simulator = sim()
    call = simulator.call_or_404(sid)
    return jsonify(simulator.call_view(call, transcript=True, exchanges=True))


@bp.post("/calls/<sid>/digits")
def press(sid: str) -> Response:
    """Press keys, one after another: {"digits": "12#"}."""
    data = body()
    digits = str(data.get("digits", ""))
    if not digits or set(digits) - KEYS:
        raise GatewayError(400, 20001, "digits must be made of 0-9, * and #")
    simulator = sim()
    mode, timeout = _wait_options(data)
    since = _last_event_id(sid)
    settled = True
    for digit in digits:
        if digit == "w":
            continue
        # A person presses the next key after hearing what the last one did.
        _settle(sid, mode, timeout)
        simulator.press(sid, digit)
        settled = _settle(sid, mode, timeout)
    return _result(sid, since, settled)


@bp.post("/calls/<sid>/speech")
def speech(sid: str) -> Response:
    """Say something: {"text": "看病", "confidence": 0.92}."""
    data = body()
    text = str(data.get("text", "")).strip()
    if not text:
        raise GatewayError(400, 20001, "text is required")
    try:
        confidence = float(data.get("confidence", 0.9))
    except (TypeError, ValueError):
        confidence = 0.9
    mode, timeout = _wait_options(data)
    since = _last_event_id(sid)
    _settle(sid, mode, timeout)
    sim().speak(sid, text, confidence=max(0.0, min(1.0, confidence)))
    return _result(sid, since, _settle(sid, mode, timeout))


@bp.post("/calls/<sid>/record")
def record(sid: str) -> Response:
    """Speak into a <Record> and finish with a key: {"text": "...", "finish_key": "#"}."""
    data = body()
    text = str(data.get("text", "")).strip()
    if not text:
        raise GatewayError(400, 20001, "text is required")
    finish_key = data.get("finish_key", "#")
    mode, timeout = _wait_options(data)
    since = _last_event_id(sid)
    _settle(sid, mode, timeout)
    sim().speak(sid, text, finish_key=str(finish_key) if finish_key else None)
    return _result(sid, since, _settle(sid, mode, timeout))


@bp.post("/calls/<sid>/hangup")
def hangup(sid: str) -> Response:
    """Hang up (or decline, if it is still ringing)."""
    mode, timeout = _wait_options(body())
    since = _last_event_id(sid)
    sim().hang_up(sid, reason="the phone hung up", by_phone=True)
    return _result(sid, since, _settle(sid, mode, timeout))


@bp.post("/calls/<sid>/answer")
def answer(sid: str) -> Response:
    """Answer a ringing call: {"answered_by": "human"|"machine_start"} (for MachineDetection)."""
    data = body()
    mode, timeout = _wait_options(data)
    since = _last_event_id(sid)
    sim().answer(sid, data.get("answered_by"))
    return _result(sid, since, _settle(sid, mode, timeout))


@bp.post("/calls/<sid>/decline")
def decline(sid: str) -> Response:
    """Decline a ringing call (the caller's side sees busy)."""
    mode, timeout = _wait_options(body())
    since = _last_event_id(sid)
    sim().hang_up(sid, reason="declined", by_phone=True)
    return _result(sid, since, _settle(sid, mode, timeout))


@bp.post("/calls/<sid>/timeout")
def timeout_now(sid: str) -> Response:
    """Fire the timer the call waits on now (prompt end, Gather timeout, Pause, ringing)."""
    mode, timeout = _wait_options(body())
    since = _last_event_id(sid)
    _settle(sid, mode, timeout)
    fired = sim().timeout_now(sid)
    if not fired:
        raise GatewayError(409, 20409, "the call is not waiting on a timer")
    return _result(sid, since, _settle(sid, mode, timeout))


# ---------------------------------------------------------------------- what the app did


@bp.get("/messages")
def messages() -> Response:
    """Every SMS in both directions, newest first."""
    simulator = sim()
    with simulator.lock:
        items = sorted(simulator.messages.values(), key=lambda m: m.created_at, reverse=True)
        return jsonify({"messages": [simulator.message_view(m) for m in items]})


@bp.get("/rest-requests")
def rest_requests() -> Response:
    """Every REST request received, newest first (`since` = id to get only newer ones)."""
    simulator = sim()
    since = int(request.args.get("since", "0") or 0)
    with simulator.lock:
        records = [r.as_dict() for r in reversed(simulator.rest_log) if r.id > since]
    return jsonify({"requests": records})


@bp.get("/exchanges")
def exchanges() -> Response:
    """The last webhooks sent, newest first (`call_sid` to filter)."""
    simulator = sim()
    call_sid = request.args.get("call_sid")
    with simulator.lock:
        items = [
            e.as_dict()
            for e in reversed(simulator.exchanges)
            if not call_sid or e.call_sid == call_sid
        ]
    return jsonify({"exchanges": items})


@bp.get("/problems")
def problems() -> Response:
    """Application errors and warnings, newest first."""
    simulator = sim()
    with simulator.lock:
        return jsonify({"problems": [p.as_dict() for p in reversed(simulator.problems)]})


@bp.get("/queues")
def queues() -> Response:
    """Queues and who waits in them."""
    simulator = sim()
    with simulator.lock:
        now = simulator.clock.now()
        return jsonify(
            {
                "queues": [
                    {
                        "sid": q.sid,
                        "name": q.friendly_name,
                        "max_size": q.max_size,
                        "members": [
                            {
                                "call_sid": m.call_sid,
                                "number": simulator.calls[m.call_sid].phone,
                                "wait_time": int(now - m.enqueued_at),
                            }  # fmt: skip
                            for m in q.members
                        ],
                    }
                    for q in simulator.queues.values()
                ]
            }
        )


@bp.get("/conferences")
def conferences() -> Response:
    """Conferences and their participants, newest first."""
    simulator = sim()
    with simulator.lock:
        items = sorted(simulator.conferences.values(), key=lambda c: c.created_at, reverse=True)
        return jsonify({"conferences": [simulator.conference_view(c) for c in items]})
