"""The Twilio REST subset under /2010-04-01/Accounts/<AccountSid>/, as the twilio SDK calls it."""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from hotline.devgateway import resources as res
from hotline.devgateway.engine import DocRef
from hotline.devgateway.model import RestRecord
from hotline.devgateway.simulator import GatewayError, Simulator, parse_twiml_or_error
from hotline.devgateway.util import is_client, is_e164, parse_bool, tone_wav

bp = Blueprint("devgateway_rest", __name__, url_prefix="/2010-04-01/Accounts/<account_sid>")

_CONFERENCE_SID = re.compile(r"^CF[0-9a-f]{32}$")
_EMERGENCY_SHORT_CODE = re.compile(r"^1(10|19|20|22)$")
_CALL_EVENTS = {"initiated", "ringing", "answered", "completed"}


def sim() -> Simulator:
    """The simulator of the running gateway app."""
    return current_app.extensions["devgateway"]


def error(status: int, code: int, message: str) -> Response:
    """A Twilio error response."""
    response = jsonify(res.error_json(status, code, message))
    response.status_code = status
    return response


@bp.before_request
def record_request() -> None:
    """Every REST request is recorded before anything else (the developer page lists them)."""
    simulator = sim()
    record = RestRecord(
        id=simulator.next_id(),
        at=simulator.clock.now(),
        method=request.method,
        path=request.path,
        query=list(request.args.items(multi=True)),
        form=list(request.form.items(multi=True)),
    )
    g.rest_record = record
    simulator.record_rest(record)


@bp.after_request
def finish_record(response: Response) -> Response:
    """Note the answer on the record of the request."""
    record: RestRecord | None = g.get("rest_record")
    if record is not None:
        record.status_code = response.status_code
        if response.is_json and isinstance(response.get_json(silent=True), dict):
            body = response.get_json(silent=True)
            record.summary = str(
                body.get("sid") or body.get("call_sid") or body.get("message") or ""
            )
    return response


@bp.errorhandler(GatewayError)
def gateway_error(exc: GatewayError) -> Response:
    """Refusals become Twilio's error JSON."""
    return error(exc.status, exc.code, exc.message)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Werkzeug errors (405, 404) in Twilio's shape too."""
    status = exc.code or 500
    return error(status, 20404 if status == 404 else 20001, exc.description or exc.name)


def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    """HTTP basic auth with the account SID and auth token, as Twilio requires."""

    @functools.wraps(view)
    def wrapper(account_sid: str, **kwargs: Any) -> Any:
        """Check the credentials and the account in the path, then run the view."""
        config = sim().config
        auth = request.authorization
        good = (
            auth is not None
            and auth.username == config.account_sid
            and hmac.compare_digest((auth.password or "").encode(), config.auth_token.encode())
        )
        if not good:
            response = error(401, 20003, "Authenticate")
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if account_sid != config.account_sid:
            return error(403, 20003, "The account in the URL does not belong to these credentials")
        g.rest_record.authorized = True
        return view(**kwargs)

    return wrapper


def form_get(name: str, default: str | None = None) -> str | None:
    """A form parameter, or `default` when absent."""
    value = request.form.get(name)
    return default if value is None else value


def paging() -> tuple[int, int]:
    """Page and PageSize from the query string (SDK list calls send PageSize=50)."""
    try:
        page_size = max(1, min(1000, int(request.args.get("PageSize", "50"))))
        page = max(0, int(request.args.get("Page", "0")))
    except ValueError:
        page_size, page = 50, 0
    return page, page_size


def listing(key: str, records: list[dict[str, Any]]) -> Response:
    """A list response."""
    page, page_size = paging()
    return jsonify(res.page_json(key, records, path=request.path, page=page, page_size=page_size))


def created(body: dict[str, Any]) -> tuple[Response, int]:
    """A 201 response."""
    return jsonify(body), 201


def _check_url(value: str | None, code: int, name: str) -> None:
    """Twilio only calls absolute http(s) URLs."""
    if value and not re.match(r"^https?://", value):
        raise GatewayError(400, code, f"{name} is not a valid URL: {value}")


def _warn_unknown_line(number: str, what: str) -> None:
    """Sending from a number that is not a line works here but would fail on Twilio (21606/21210)."""
    simulator = sim()
    if number and number not in simulator.config.lines:
        simulator.add_problem(
            "warning", "21606",
            f"{what} from {number}, which is not one of the gateway's LINES "
            f"({', '.join(simulator.config.lines)}): Twilio would refuse a number the account "
            "does not own",
        )  # fmt: skip


def _call_events(default: set[str]) -> set[str]:
    """StatusCallbackEvent: repeated keys, or one key with spaces."""
    events: set[str] = set()
    for value in request.form.getlist("StatusCallbackEvent"):
        events.update(value.split())
    return (events & _CALL_EVENTS) or default


# ---------------------------------------------------------------------- Calls


@bp.post("/Calls.json")
@authenticated
def create_call() -> Any:
    """Calls.create."""
    to, from_ = form_get("To"), form_get("From")
    url, twiml = form_get("Url"), form_get("Twiml")
    if not to:
        raise GatewayError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise GatewayError(400, 21213, "No 'From' number is specified")
    if not (is_e164(to) or is_client(to)):
        raise GatewayError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not url and not twiml:
        if form_get("ApplicationSid"):
            raise GatewayError(
                400, 21205, "ApplicationSid is not emulated by the dev gateway: use Url or Twiml"
            )
        raise GatewayError(400, 21205, "Url parameter is required")
    _check_url(url, 21205, "Url")
    _check_url(form_get("StatusCallback"), 21609, "StatusCallback")
    if twiml:
        if len(twiml) > 4000:
            raise GatewayError(400, 21232, "Twiml exceeds the 4000 character limit")
        parse_twiml_or_error(twiml)
    _warn_unknown_line(from_, "a call")
    status_callback = form_get("StatusCallback")
    try:
        timeout = float(form_get("Timeout", "60") or 60)
    except ValueError:
        timeout = 60.0
    # As for participants: render the call as Twilio answers (queued) before it moves on.
    with sim().lock:
        call = sim().create_rest_call(
            to=to, from_=from_, url=None if twiml else url, twiml=twiml,
            method=(form_get("Method") or "POST").upper(),
            fallback_url=form_get("FallbackUrl"),
            fallback_method=(form_get("FallbackMethod") or "POST").upper(),
            status_callback=status_callback,
            status_callback_method=(form_get("StatusCallbackMethod") or "POST").upper(),
            status_callback_events=_call_events({"completed"}) if status_callback else set(),
            timeout=min(max(timeout, 1.0), 600.0),
            machine_detection=form_get("MachineDetection"),
        )  # fmt: skip
        return created(res.call_json(call))


@bp.get("/Calls.json")
@authenticated
def list_calls() -> Any:
    """Calls.list with To, From, Status, ParentCallSid filters, newest first."""
    simulator = sim()
    with simulator.lock:
        calls = list(simulator.calls.values())
    filters = {"To": "to", "From": "from_", "Status": "status", "ParentCallSid": "parent_call_sid"}
    for param, attribute in filters.items():
        if request.args.get(param):
            calls = [c for c in calls if getattr(c, attribute) == request.args[param]]
    calls.sort(key=lambda c: c.created_at, reverse=True)
    return listing("calls", [res.call_json(c) for c in calls])


@bp.get("/Calls/<call_sid>.json")
@authenticated
def fetch_call(call_sid: str) -> Any:
    """Calls(sid).fetch."""
    return jsonify(res.call_json(sim().call_or_404(call_sid)))


@bp.post("/Calls/<call_sid>.json")
@authenticated
def update_call(call_sid: str) -> Any:
    """Calls(sid).update: Url/Twiml redirect a live call; Status=completed|canceled ends it."""
    simulator = sim()
    call = simulator.call_or_404(call_sid)
    url, twiml, status = form_get("Url"), form_get("Twiml"), form_get("Status")
    if status:
        if status not in ("completed", "canceled"):
            raise GatewayError(400, 21218, f"Invalid value for Status: {status}")
        if status == "completed" or call.answered_at is None:
            simulator.hang_up(
                call_sid, reason="hung up by the REST API (Status=completed)", by_phone=False
            )
    elif url or twiml:
        _check_url(url, 21205, "Url")
        if twiml:
            parse_twiml_or_error(twiml)
        target = DocRef(url=None if twiml else url, twiml=twiml, method=(form_get("Method") or "POST").upper(),
                        kind="redirect" if url else "inline")  # fmt: skip
        simulator.redirect(call_sid, target)
    if form_get("StatusCallback"):
        with simulator.lock:
            call.status_callback = form_get("StatusCallback")
            call.status_callback_method = (form_get("StatusCallbackMethod") or "POST").upper()
            call.status_callback_events = call.status_callback_events or {"completed"}
    return jsonify(res.call_json(call))


# ---------------------------------------------------------------------- Messages


@bp.post("/Messages.json")
@authenticated
def create_message() -> Any:
    """Messages.create."""
    to, from_ = form_get("To"), form_get("From")
    body, service = form_get("Body"), form_get("MessagingServiceSid")
    if not to:
        raise GatewayError(400, 21604, "A 'To' phone number is required.")
    if not from_ and not service:
        raise GatewayError(400, 21603, "A 'From' phone number is required.")
    if not body and not request.form.getlist("MediaUrl"):
        raise GatewayError(400, 21602, "Message body is required.")
    if not is_e164(to):
        raise GatewayError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if body and len(body) > 1600:
        raise GatewayError(
            400, 21617, "The concatenated message body exceeds the 1600 character limit."
        )
    _check_url(form_get("StatusCallback"), 21609, "StatusCallback")
    if from_:
        _warn_unknown_line(from_, "an SMS")
    message = sim().send_rest_message(
        to=to, from_=from_ or "", body=body or "", messaging_service_sid=service,
        status_callback=form_get("StatusCallback"),
    )  # fmt: skip
    return created(res.message_json(message))


@bp.get("/Messages.json")
@authenticated
def list_messages() -> Any:
    """Messages.list with To and From filters, newest first."""
    simulator = sim()
    with simulator.lock:
        messages = list(simulator.messages.values())
    if request.args.get("To"):
        messages = [m for m in messages if m.to == request.args["To"]]
    if request.args.get("From"):
        messages = [m for m in messages if m.from_ == request.args["From"]]
    messages.sort(key=lambda m: m.created_at, reverse=True)
    return listing("messages", [res.message_json(m) for m in messages])


@bp.get("/Messages/<message_sid>.json")
@authenticated
def fetch_message(message_sid: str) -> Any:
    """Messages(sid).fetch."""
    return jsonify(res.message_json(sim().message_or_404(message_sid)))


# ---------------------------------------------------------------------- Queues


@bp.get("/Queues.json")
@authenticated
def list_queues() -> Any:
    """Queues.list."""
    simulator = sim()
    with simulator.lock:
        now = simulator.clock.now()
        queues = [
            res.queue_json(q, simulator.config.account_sid, now) for q in simulator.queues.values()
        ]
    return listing("queues", queues)


@bp.post("/Queues.json")
@authenticated
def create_queue() -> Any:
    """Queues.create (FriendlyName, MaxSize)."""
    simulator = sim()
    name = (form_get("FriendlyName") or "").strip()
    if not name:
        raise GatewayError(400, 20001, "Missing required parameter FriendlyName in the post body")
    if simulator.queue_by_name(name) is not None:
        raise GatewayError(400, 22003, f"A queue named {name!r} already exists")
    queue = simulator.create_queue(name, _int_param("MaxSize", 100))
    with simulator.lock:
        return created(res.queue_json(queue, simulator.config.account_sid, simulator.clock.now()))


def _int_param(name: str, default: int) -> int:
    """An integer form parameter (400 when malformed)."""
    raw = form_get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise GatewayError(400, 20001, f"{name} must be an integer") from exc


@bp.get("/Queues/<queue_sid>.json")
@authenticated
def fetch_queue(queue_sid: str) -> Any:
    """Queues(sid).fetch."""
    simulator = sim()
    with simulator.lock:
        queue = simulator.queue_or_404(queue_sid)
        return jsonify(res.queue_json(queue, simulator.config.account_sid, simulator.clock.now()))


@bp.post("/Queues/<queue_sid>.json")
@authenticated
def update_queue(queue_sid: str) -> Any:
    """Queues(sid).update (FriendlyName, MaxSize)."""
    simulator = sim()
    with simulator.lock:
        queue = simulator.queue_or_404(queue_sid)
        if form_get("FriendlyName"):
            queue.friendly_name = form_get("FriendlyName") or queue.friendly_name
        queue.max_size = _int_param("MaxSize", queue.max_size)
        queue.updated_at = simulator.clock.now()
        return jsonify(res.queue_json(queue, simulator.config.account_sid, simulator.clock.now()))


@bp.get("/Queues/<queue_sid>/Members.json")
@authenticated
def list_members(queue_sid: str) -> Any:
    """Queues(sid).members.list, in queue order."""
    simulator = sim()
    with simulator.lock:
        queue = simulator.queue_or_404(queue_sid)
        members = [
            res.member_json(simulator.member_snapshot(queue, m), simulator.config.account_sid)
            for m in queue.members
        ]
    return listing("queue_members", members)


@bp.get("/Queues/<queue_sid>/Members/<member>.json")
@authenticated
def fetch_member(queue_sid: str, member: str) -> Any:
    """Queues(sid).members(CallSid or "Front").fetch."""
    simulator = sim()
    with simulator.lock:
        queue = simulator.queue_or_404(queue_sid)
        found = (
            queue.members[:1]
            if member == "Front"
            else [m for m in queue.members if m.call_sid == member]
        )
        if not found:
            raise GatewayError(
                404,
                20404,
                f"The requested resource /Queues/{queue_sid}/Members/{member} was not found",
            )
        return jsonify(
            res.member_json(
                simulator.member_snapshot(queue, found[0]), simulator.config.account_sid
            )
        )


@bp.post("/Queues/<queue_sid>/Members/<member>.json")
@authenticated
def update_member(queue_sid: str, member: str) -> Any:
    """Dequeue a member: it leaves the queue and its call runs the TwiML at Url."""
    url = form_get("Url")
    if not url:
        raise GatewayError(400, 20001, "Missing required parameter Url in the post body")
    _check_url(url, 21205, "Url")
    simulator = sim()
    snapshot = simulator.rest_dequeue(
        queue_sid, member, url, (form_get("Method") or "POST").upper()
    )
    return jsonify(res.member_json(snapshot, simulator.config.account_sid))


# ---------------------------------------------------------------------- Conferences


@bp.get("/Conferences.json")
@authenticated
def list_conferences() -> Any:
    """Conferences.list with FriendlyName and Status filters, newest first."""
    simulator = sim()
    with simulator.lock:
        conferences = list(simulator.conferences.values())
    if request.args.get("FriendlyName"):
        conferences = [c for c in conferences if c.friendly_name == request.args["FriendlyName"]]
    if request.args.get("Status"):
        conferences = [c for c in conferences if c.status == request.args["Status"]]
    conferences.sort(key=lambda c: c.created_at, reverse=True)
    return listing(
        "conferences", [res.conference_json(c, simulator.config.account_sid) for c in conferences]
    )


def _conference_or_404(ident: str) -> Any:
    """A conference by SID or friendly name."""
    conference = sim().conference_by_ident(ident)
    if conference is None:
        raise GatewayError(404, 20404, f"The requested resource /Conferences/{ident} was not found")
    return conference


@bp.get("/Conferences/<conference>.json")
@authenticated
def fetch_conference(conference: str) -> Any:
    """Conferences(sid).fetch."""
    return jsonify(res.conference_json(_conference_or_404(conference), sim().config.account_sid))


@bp.post("/Conferences/<conference>.json")
@authenticated
def update_conference(conference: str) -> Any:
    """Conferences(sid).update: Status=completed ends it; AnnounceUrl speaks to everyone."""
    simulator = sim()
    found = _conference_or_404(conference)
    if form_get("Status") == "completed":
        simulator.end_conference(found, "conference-ended-via-api", None)
    if form_get("AnnounceUrl"):
        _check_url(form_get("AnnounceUrl"), 21205, "AnnounceUrl")
        with simulator.lock:
            sids = [p.call_sid for p in found.connected()]
        simulator.announce(
            found,
            sids,
            form_get("AnnounceUrl") or "",
            (form_get("AnnounceMethod") or "POST").upper(),
        )
    return jsonify(res.conference_json(found, simulator.config.account_sid))


@bp.get("/Conferences/<conference>/Participants.json")
@authenticated
def list_participants(conference: str) -> Any:
    """Conferences(sid).participants.list (Muted, Hold, Coaching filters)."""
    simulator = sim()
    found = _conference_or_404(conference)
    with simulator.lock:
        participants = list(found.participants.values())
    for param in ("Muted", "Hold", "Coaching"):
        if request.args.get(param):
            wanted = request.args[param].lower() == "true"
            participants = [p for p in participants if getattr(p, param.lower()) == wanted]
    return listing(
        "participants",
        [res.participant_json(p, simulator.config.account_sid) for p in participants],
    )


@bp.post("/Conferences/<conference>/Participants.json")
@authenticated
def create_participant(conference: str) -> Any:
    """Participants.create: ring To from From and put the answered call in the conference."""
    simulator = sim()
    to, from_ = form_get("To"), form_get("From")
    if not to:
        raise GatewayError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise GatewayError(400, 21213, "No 'From' number is specified")
    # Emergency short codes (120, 110 ...) are dialled as they are: the hotline brings them
    # into a caller's conference (an external transfer); carriers route them locally.
    if not (is_e164(to) or is_client(to) or _EMERGENCY_SHORT_CODE.match(to)):
        raise GatewayError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if _CONFERENCE_SID.match(conference) and simulator.conference_by_ident(conference) is None:
        raise GatewayError(
            404, 20404, f"The requested resource /Conferences/{conference} was not found"
        )
    for name in ("StatusCallback", "ConferenceStatusCallback", "WaitUrl"):
        _check_url(form_get(name), 21205, name)
    _warn_unknown_line(from_, "a participant call")
    conference_events: set[str] = set()
    for value in request.form.getlist("ConferenceStatusCallbackEvent"):
        conference_events.update(value.split())
    options = {
        "start_conference_on_enter": parse_bool(form_get("StartConferenceOnEnter"), default=True),
        "end_conference_on_exit": parse_bool(form_get("EndConferenceOnExit"), default=False),
        "muted": parse_bool(form_get("Muted"), default=False),
        "beep": form_get("Beep") or "true",
        "early_media": parse_bool(form_get("EarlyMedia"), default=True),
        "wait_url": form_get("WaitUrl"),
        "wait_method": (form_get("WaitMethod") or "POST").upper(),
        "label": form_get("Label"),
        "coaching": parse_bool(form_get("Coaching"), default=False),
        "call_sid_to_coach": form_get("CallSidToCoach"),
        "conference_status_callback": form_get("ConferenceStatusCallback"),
        "conference_status_callback_method": (
            form_get("ConferenceStatusCallbackMethod") or "POST"
        ).upper(),
        "conference_status_callback_events": conference_events or {"start", "end"},
    }
    status_callback = form_get("StatusCallback")
    try:
        timeout = float(form_get("Timeout", "60") or 60)
    except ValueError:
        timeout = 60.0
    call_options = {
        "from_": from_,
        "to": to,
        "timeout": min(max(timeout, 1.0), 600.0),
        "status_callback": status_callback,
        "status_callback_method": (form_get("StatusCallbackMethod") or "POST").upper(),
        "status_callback_events": _call_events({"completed"}) if status_callback else set(),
    }
    # Render the new participant before the simulation can move its call on (Twilio answers
    # with the participant as queued), so hold the simulator's lock across both.
    with simulator.lock:
        _, participant, _ = simulator.create_participant(conference, options, call_options)
        return created(res.participant_json(participant, simulator.config.account_sid))


@bp.get("/Conferences/<conference>/Participants/<participant>.json")
@authenticated
def fetch_participant(conference: str, participant: str) -> Any:
    """Participants(call_sid or label).fetch."""
    simulator = sim()
    _, found = simulator.participant_or_404(conference, participant)
    return jsonify(res.participant_json(found, simulator.config.account_sid))


@bp.post("/Conferences/<conference>/Participants/<participant>.json")
@authenticated
def update_participant(conference: str, participant: str) -> Any:
    """Participants(...).update: Hold, HoldUrl, Muted, AnnounceUrl, EndConferenceOnExit."""
    simulator = sim()
    found_conference, found = simulator.participant_or_404(conference, participant)
    for name in ("HoldUrl", "AnnounceUrl"):
        if form_get(name):
            _check_url(form_get(name), 21205, name)
    simulator.update_participant(found_conference, found, {k: v for k, v in request.form.items()})
    return jsonify(res.participant_json(found, simulator.config.account_sid))


@bp.delete("/Conferences/<conference>/Participants/<participant>.json")
@authenticated
def delete_participant(conference: str, participant: str) -> Any:
    """Participants(...).delete: the call leaves the conference."""
    simulator = sim()
    found_conference, found = simulator.participant_or_404(conference, participant)
    simulator.kick_participant(found_conference, found)
    return "", 204


# ---------------------------------------------------------------------- Recordings


_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@bp.get("/Recordings/<recording>")
def fetch_recording(account_sid: str, recording: str) -> Any:
    """A recording's "audio": the text the caller typed; with `.wav` (or a recorded
    conference), a generated WAV as long as the recording, in its channels (a recorded
    conference has two: the caller, and everyone else). As Twilio's media host:
    `RequestedChannels=1` downmixes, `RequestedChannels=2` of a mono recording is refused
    (Twilio's 16113), and a Range request is answered with 206 and its Content-Range
    (recording URLs need no auth)."""
    sid, _, extension = recording.partition(".")
    found = sim().recordings.get(sid)
    if found is None:
        raise GatewayError(
            404, 20404, f"The requested resource /Recordings/{recording} was not found"
        )
    if not (extension == "wav" or (found.conference_sid and extension != "txt")):
        return Response(found.text, mimetype="text/plain")
    requested = request.args.get("RequestedChannels")
    if requested not in (None, "1", "2"):
        raise GatewayError(400, 20001, "RequestedChannels must be 1 or 2")
    if requested == "2" and found.channels != 2:
        raise GatewayError(
            400, 16113, "Cannot download a dual-channel presentation of a mono recording"
        )
    channels = int(requested) if requested else found.channels
    downmix = found.channels == 2 and channels == 1
    return _ranged(tone_wav(found.duration, channels, downmix=downmix), "audio/x-wav")


def _ranged(body: bytes, mimetype: str) -> Response:
    """The whole body, or the byte range the request asks for (206; 416 when it cannot be
    given), with Accept-Ranges as a file host sends it."""
    headers = {"Accept-Ranges": "bytes"}
    wanted = _BYTE_RANGE.match(request.headers.get("Range", "").strip())
    if wanted is None:
        return Response(body, mimetype=mimetype, headers=headers)
    first, last = wanted.groups()
    size = len(body)
    if first == "" and last == "":
        return Response(body, mimetype=mimetype, headers=headers)
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return Response(
            status=416, headers={**headers, "Content-Range": f"bytes */{size}"}, mimetype=mimetype
        )
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(body[start : end + 1], status=206, mimetype=mimetype, headers=headers)


@bp.delete("/Recordings/<recording>.json")
@authenticated
def delete_recording(recording: str) -> Any:
    """Recordings(sid).delete (retention, erasure)."""
    if not sim().delete_recording(recording):
        raise GatewayError(
            404, 20404, f"The requested resource /Recordings/{recording}.json was not found"
        )
    return "", 204


@bp.route("/<path:anything>", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
def not_emulated(account_sid: str, anything: str) -> Any:
    """Anything else: Twilio's 404, and a warning for the developer."""
    sim().add_problem(
        "warning",
        "20404",
        f"REST {request.method} {request.path} is not emulated by the dev gateway",
    )
    return error(
        404,
        20404,
        f"The requested resource {request.path} was not found (not emulated by the dev gateway)",
    )
