"""Simulated callers and operators that drive the real hotline the way Twilio and a browser do.

One simulated call (`Simulation.call`) follows the TwiML it gets back, like Twilio:

caller leg (the line's number, inbound)
  1. POST /twilio/voice                      incoming call: the first prompt, one <Gather> of
     8-10 s that offers a person (0), the topics and the other languages (issue 17)
     status callback `ringing` (SequenceNumber 0)
  2. silence: POST the <Redirect> after the <Gather>        -> the first prompt's short retry
     status callback `in-progress` (1)
  3. key 2 at the retry (travel and public services)                  -> the submenu
  4. key 0 in the submenu: ask for a person                           -> <Enqueue>
  5. waitUrl polls with Twilio's queue parameters, following each <Redirect> (`--polls`);
     then an operator takes the caller through the console's JSON API (take-next). The app
     rings the operator and dequeues this caller by CallSid through the REST stub; the stub
     hands the dequeue URL to this call, which then (like Twilio):
  6. POST the <Enqueue> action with QueueResult=redirected
  7. POST the dequeue URL                                             -> <Dial><Conference>
  8. conference status `participant-join`, the conference waitUrl once
  9. (the operator joins and talks; then hangs up)
 10. conference `participant-leave`, the <Dial> action                -> goodbye, <Hangup>
     status callback `completed` (2) with CallDuration
operator leg (outbound-api, placed by the app through the stub)
  status `initiated`, `ringing`; POST the call's Url (answered)        -> whisper + conference
  status `in-progress`; conference `conference-start`, `participant-join`; talk; hang up:
  conference `participant-leave`, `conference-end`; the <Dial> action  -> <Hangup>;
  status `completed`; the operator presses "ready" (wrap-up done) and may take the next caller.

Every webhook is signed with RequestValidator(token).compute_signature over the exact URL and
form, as Twilio signs. A non-2xx answer, a TwiML document that fails the grammar check, or a
document of the wrong shape (e.g. the fallback voicemail where a menu was due) is an error, and
the call stops there (it is counted as failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

from bench.httpclient import HttpClient, HttpError, Response, Session
from bench.stats import Recorder

ROOT = Path(__file__).resolve().parent.parent


def _load_twiml_checker() -> Callable[[str, str], list[str]]:
    """The test suite's TwiML grammar check (derived from the twilio SDK), else a basic one."""
    tests_dir = str(ROOT / "tests")
    if tests_dir not in sys.path:
        sys.path.append(tests_dir)
    try:
        from twiml_grammar import check_twiml  # type: ignore[import-not-found]

        return check_twiml
    except Exception:  # noqa: BLE001 - a fresh clone always has it; stay usable without

        def basic(document: str, _kind: str = "voice") -> list[str]:
            try:
                root = ET.fromstring(document)
            except ET.ParseError as exc:
                return [f"not XML: {exc}"]
            return [] if root.tag == "Response" else [f"root is <{root.tag}>"]

        return basic


check_twiml = _load_twiml_checker()

#: Webhook kinds, in the order a call produces them (the report lists latencies per kind).
CALLER_KINDS = (
    "voice.incoming",
    "voice.input.first_silence",
    "voice.input.menu",
    "voice.input.submenu_person",
    "voice.wait",
    "voice.queue_exit",
    "queue.join",
    "queue.conference_wait",
    "queue.after_call",
    "voice.status",
)
OPERATOR_KINDS = (
    "queue.operator",
    "queue.operator_status",
    "queue.conference_status",
    "queue.operator_done",
)


class CallFailed(Exception):
    """A step of a simulated call went wrong (already recorded as an error)."""


@dataclass
class Options:
    """How the simulated callers behave."""

    #: waitUrl requests each caller makes before asking for an operator.
    polls: int = 3
    #: Seconds between waitUrl requests (Twilio: the length of the wait document; compressed).
    poll_interval: float = 0.0
    #: Seconds the operator and the caller talk.
    talk_seconds: float = 0.0
    #: Seconds between an operator console's polls of GET /console/api/queue.
    console_interval: float = 1.0
    #: How long a caller waits for an operator before the call counts as failed.
    take_timeout: float = 30.0
    #: Leave out the callbacks the app asks for but does not act on (the operator leg's
    #: initiated/ringing/in-progress, the conference's start/leave/end): what the load would be
    #: if the app asked Twilio only for what it uses. Off by default (the app asks for them).
    only_used_callbacks: bool = False


@dataclass
class OperatorAccount:
    username: str
    password: str
    phone: str


@dataclass
class Conversation:
    """What the two legs of one connected call tell each other (by queue entry id)."""

    caller_sid: str = ""
    conference_name: str = ""
    conference_sid: str = ""
    caller_joined: asyncio.Event = field(default_factory=asyncio.Event)
    operator_hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    caller_done: asyncio.Event = field(default_factory=asyncio.Event)


def twiml_root(body: str) -> ET.Element:
    return ET.fromstring(body)


def find_first(root: ET.Element, tag: str) -> ET.Element | None:
    for element in root.iter(tag):
        return element
    return None


class Simulation:
    """Callers, operators and consoles against one hotline server, recording into `recorder`."""

    def __init__(
        self,
        client: HttpClient,
        *,
        auth_token: str,
        account_sid: str,
        line_number: str,
        operators: list[OperatorAccount],
        recorder: Recorder,
        options: Options | None = None,
        consoles: int = 0,
        number_prefix: str = "+86139",
    ) -> None:
        self.client = client
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.line_number = line_number
        self.accounts = operators
        self.recorder = recorder
        self.options = options or Options()
        self.consoles = consoles
        self.number_prefix = number_prefix
        self.loop: asyncio.AbstractEventLoop | None = None
        self._dequeued: dict[str, asyncio.Future] = {}
        self._rung: dict[str, asyncio.Future] = {}
        self._conversations: dict[int, Conversation] = {}
        self._sids = itertools.count(1)
        # CallSids unique across runs against the same database (each run is a new Simulation).
        self._sid_prefix = secrets.token_hex(4)
        self._calls = itertools.count(1)
        self._tokens: asyncio.Queue[int] | None = None
        self._sessions: list[tuple[OperatorAccount, Session, str]] = []
        self._stopping = False
        self.recording = True

    # ------------------------------------------------------------------ the REST stub's news

    def on_call_created(self, sid: str, form: dict[str, str]) -> None:
        """(stub thread) The app placed a call: an operator's phone rings."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._resolve, self._rung, form.get("To", ""), (sid, form))

    def on_dequeue(self, call_sid: str, form: dict[str, str]) -> None:
        """(stub thread) The app dequeued a caller: the call fetches the given Url."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._resolve, self._dequeued, call_sid, form.get("Url", ""))

    @staticmethod
    def _resolve(table: dict[str, asyncio.Future], key: str, value) -> None:
        future = table.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            table[key] = future
        if not future.done():
            future.set_result(value)

    def _waiter(self, table: dict[str, asyncio.Future], key: str) -> asyncio.Future:
        future = table.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            table[key] = future
        return future

    # ------------------------------------------------------------------ requests

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def webhook(
        self,
        kind: str,
        url: str,
        params: dict[str, str],
        *,
        expect: Callable[[ET.Element], bool] | None = None,
        status: int | None = None,
    ) -> ET.Element | None:
        """POST a signed webhook like Twilio; check the status and the TwiML. Raises CallFailed."""
        path = self._path(url)
        signature = self.validator.compute_signature(self.client.base_url + path, params)
        try:
            response = await self.client.request(
                "POST",
                path,
                body=urlencode(params).encode(),
                headers={"X-Twilio-Signature": signature},
                content_type="application/x-www-form-urlencoded",
            )
        except HttpError as exc:
            self._fail(kind, str(exc))
        if self.recording:
            self.recorder.add(kind, response.seconds, webhook=True)
        if not 200 <= response.status < 300 or (status is not None and response.status != status):
            self._fail(kind, f"HTTP {response.status}: {response.text[:200]}")
        if response.content_type != "text/xml":
            return None
        body = response.text
        problems = check_twiml(body, "voice")
        if problems:
            self._fail(kind, f"invalid TwiML {problems[:3]}: {body[:300]}")
        root = twiml_root(body)
        if expect is not None and not expect(root):
            self._fail(kind, f"unexpected TwiML: {body[:300]}")
        return root

    def _fail(self, kind: str, message: str):
        if self.recording:
            self.recorder.error(kind, message)
        raise CallFailed(f"{kind}: {message}")

    async def console(
        self, kind: str, session: Session, method: str, path: str, form=None, csrf: str = ""
    ) -> Response:
        """A request of an operator's browser; non-2xx is an error."""
        try:
            if method == "GET":
                response = await session.get(path)
            else:
                response = await session.post(path, form or {}, headers={"X-CSRFToken": csrf})
        except HttpError as exc:
            self._fail(kind, str(exc))
        if self.recording:
            self.recorder.add(kind, response.seconds, webhook=False)
        if not 200 <= response.status < 300:
            self._fail(kind, f"HTTP {response.status}: {response.text[:200]}")
        return response

    # ------------------------------------------------------------------ operators

    async def login_all(self) -> None:
        """Sign every operator in (not measured)."""
        self.loop = asyncio.get_running_loop()
        self._tokens = asyncio.Queue()
        was = self.recording
        self.recording = False
        try:
            self._sessions = list(
                await asyncio.gather(*(self._login(account) for account in self.accounts))
            )
        finally:
            self.recording = was

    async def _login(self, account: OperatorAccount) -> tuple[OperatorAccount, Session, str]:
        session = Session(self.client)
        page = await session.get("/console/login")
        match = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"', page.text
        ) or re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        if match is None:
            raise RuntimeError(f"no CSRF token on the login page (HTTP {page.status})")
        answer = await session.post(
            "/console/login",
            {"username": account.username, "password": account.password, "csrf_token": match[1]},
        )
        if answer.status != 302:
            raise RuntimeError(f"login of {account.username} failed: HTTP {answer.status}")
        queue_page = await session.get("/console/queue")
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', queue_page.text)
        if queue_page.status != 200 or meta is None:
            raise RuntimeError(f"queue page for {account.username}: HTTP {queue_page.status}")
        return account, session, meta[1]

    async def operator_loop(self, index: int, deadline: float) -> None:
        """One operator: for each caller who waits (a token), take the next caller, handle the
        call to its end, finish wrap-up. Stops at `deadline` (loop time) or when told."""
        assert self._tokens is not None and self.loop is not None
        account, session, csrf = self._sessions[index]
        while not self._stopping and self.loop.time() < deadline:
            try:
                await asyncio.wait_for(self._tokens.get(), timeout=0.2)
            except TimeoutError:
                continue
            try:
                await self._take_and_talk(account, session, csrf)
            except CallFailed:
                pass
            except Exception as exc:  # noqa: BLE001 - a bug here must show, not stop the operator
                if self.recording:
                    self.recorder.error("operator.exception", repr(exc))

    async def _take_and_talk(self, account: OperatorAccount, session: Session, csrf: str) -> None:
        rung = self._waiter(self._rung, account.phone)
        for _attempt in range(40):
            try:
                response = await session.post(
                    "/console/api/queue/take-next", {"via": "phone"}, headers={"X-CSRFToken": csrf}
                )
            except HttpError as exc:
                self._fail("console.take_next", str(exc))
            if self.recording:
                self.recorder.add("console.take_next", response.seconds, webhook=False)
            if response.status == 409 and json.loads(response.body).get("code") in (
                "empty",
                "taken",
            ):
                # Nobody left to take at that instant (another operator was quicker): the
                # operator clicks again a moment later, as at the console. Counted, not an error.
                if self.recording:
                    self.recorder.observations["take_next_answered_empty_or_taken"] += 1
                await asyncio.sleep(0.05)
                continue
            break
        if not 200 <= response.status < 300:
            self._fail("console.take_next", f"HTTP {response.status}: {response.text[:200]}")
        entry_id = int(json.loads(response.body)["entry_id"])
        try:
            call_sid, form = await asyncio.wait_for(rung, timeout=10)
        except TimeoutError:
            self._fail("stub.operator_call", "the app did not ring the operator")
        finally:
            self._rung.pop(account.phone, None)
        talk = self._conversations.setdefault(entry_id, Conversation())
        params = {
            "CallSid": call_sid,
            "AccountSid": self.account_sid,
            "From": form.get("From", self.line_number),
            "To": account.phone,
            "Caller": form.get("From", self.line_number),
            "Called": account.phone,
            "CallStatus": "queued",
            "ApiVersion": "2010-04-01",
            "Direction": "outbound-api",
        }
        status_url = form["StatusCallback"]
        started = time.time()

        async def leg_status(status: str, sequence: int, **extra: str) -> None:
            await self.webhook(
                "queue.operator_status",
                status_url,
                {
                    **params,
                    "CallStatus": status,
                    "SequenceNumber": str(sequence),
                    "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                    "CallbackSource": "call-progress-events",
                    **extra,
                },
                status=204,
            )

        lean = self.options.only_used_callbacks
        if not lean:
            await leg_status("initiated", 0)
            await leg_status("ringing", 1)
        params["CallStatus"] = "in-progress"
        root = await self.webhook(
            "queue.operator",
            form["Url"],
            params,
            expect=lambda r: find_first(r, "Conference") is not None,
        )
        assert root is not None
        dial = find_first(root, "Dial")
        conference = find_first(root, "Conference")
        assert dial is not None and conference is not None
        if not lean:
            await leg_status("in-progress", 2)
        talk.conference_name = conference.text or ""
        talk.conference_sid = "CF" + f"{entry_id:032x}"
        conference_url = conference.get("statusCallback", "")
        if not lean:
            await self.conference_event(talk, conference_url, "conference-start", None)
        await self.conference_event(talk, conference_url, "participant-join", call_sid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(talk.caller_joined.wait(), timeout=10)
        if self.options.talk_seconds:
            await asyncio.sleep(self.options.talk_seconds)
        # The operator hangs up: their leg leaves, the conference ends (endConferenceOnExit).
        if not lean:
            await self.conference_event(talk, conference_url, "participant-leave", call_sid)
            await self.conference_event(talk, conference_url, "conference-end", None)
        talk.operator_hung_up.set()
        await self.webhook(
            "queue.operator_done",
            dial.get("action", ""),
            {**params, "DialCallStatus": "completed"},
            expect=lambda r: find_first(r, "Hangup") is not None,
        )
        duration = str(max(1, int(time.time() - started)))
        await leg_status("completed", 3, CallDuration=duration, Duration="1")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(talk.caller_done.wait(), timeout=10)
        self._conversations.pop(entry_id, None)
        await self.console(
            "console.wrap_up_done", session, "POST", "/console/api/wrap-up/done", {}, csrf
        )

    async def conference_event(
        self, talk: Conversation, url: str, event: str, call_sid: str | None
    ) -> None:
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": talk.conference_sid,
            "FriendlyName": talk.conference_name,
            "StatusCallbackEvent": event,
            "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "SequenceNumber": str(next(self._sids)),
        }
        if call_sid:
            params.update(
                CallSid=call_sid,
                Muted="false",
                Hold="false",
                Coaching="false",
                EndConferenceOnExit="true",
                StartConferenceOnEnter="true",
            )
        await self.webhook("queue.conference_status", url, params, status=204)

    async def console_loop(self, index: int, deadline: float) -> None:
        """An operator's open console: GET /console/api/queue every `console_interval` s."""
        assert self.loop is not None
        _account, session, _csrf = self._sessions[index]
        interval = self.options.console_interval
        # Spread the consoles over the interval, as real browsers are.
        await asyncio.sleep(interval * index / max(1, self.consoles))
        while not self._stopping and self.loop.time() < deadline:
            started = self.loop.time()
            with contextlib.suppress(CallFailed):
                response = await self.console(
                    "console.poll_queue", session, "GET", "/console/api/queue"
                )
                if "waiting" not in json.loads(response.body):
                    self._fail("console.poll_queue", "no 'waiting' in the console's JSON")
            await asyncio.sleep(max(0.0, interval - (self.loop.time() - started)))

    # ------------------------------------------------------------------ one caller

    def new_call_sid(self) -> str:
        return "CA" + self._sid_prefix + f"{next(self._sids):024x}"

    async def call(self, number: int | None = None) -> bool:
        """One whole call; True when every step succeeded."""
        n = next(self._calls) if number is None else number
        self.recorder.started_calls += 1
        try:
            await self._call(n)
        except CallFailed:
            self.recorder.failed_calls += 1
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in the simulation is an error too
            self.recorder.error("call.exception", repr(exc))
            self.recorder.failed_calls += 1
            return False
        self.recorder.completed_calls += 1
        return True

    async def _call(self, n: int) -> None:
        sid = self.new_call_sid()
        caller = f"{self.number_prefix}{n % 100_000_000:08d}"
        params = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": caller,
            "To": self.line_number,
            "Caller": caller,
            "Called": self.line_number,
            "CallStatus": "ringing",
            "ApiVersion": "2010-04-01",
            "Direction": "inbound",
            "FromCountry": "CN",
            "ToCountry": "CN",
        }
        started = time.time()
        sequence = itertools.count(0)
        status_url = "/twilio/voice/status"

        async def status(call_status: str, **extra: str) -> None:
            await self.webhook(
                "voice.status",
                status_url,
                {
                    **params,
                    "CallStatus": call_status,
                    "SequenceNumber": str(next(sequence)),
                    "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                    "CallbackSource": "call-progress-events",
                    **extra,
                },
                status=204,
            )

        has_menu = _gather_and_redirect
        root = await self.webhook("voice.incoming", "/twilio/voice", params, expect=_first_prompt)
        await status("ringing")
        params["CallStatus"] = "in-progress"
        # Silence at the first prompt: Twilio goes on to the <Redirect>, which asks again once
        # (a second silence would put the caller through to a person).
        root = await self.webhook(
            "voice.input.first_silence", root.find("Redirect").text, params, expect=has_menu
        )
        await status("in-progress")
        root = await self.webhook(
            "voice.input.menu",
            root.find("Gather").get("action"),
            {**params, "Digits": "2"},
            expect=has_menu,
        )
        dequeued = self._waiter(self._dequeued, sid)
        exit_url = "/twilio/voice/queue-exit"
        queue_started = time.time()
        # One operator turn per caller in the queue, given after the caller's polls (or when
        # the caller fails while waiting): every take-next then finds someone waiting.
        token = _Token(self._tokens)
        try:
            root = await self.webhook(
                "voice.input.submenu_person",
                root.find("Gather").get("action"),
                {**params, "Digits": "0"},
                expect=lambda r: r.find("Enqueue") is not None,
            )
            token.is_due = True
            enqueue = root.find("Enqueue")
            wait_url = enqueue.get("waitUrl")
            exit_url = enqueue.get("action")
            queue_started = time.time()
            for i in range(self.options.polls):
                if dequeued.done():
                    break
                if i and self.options.poll_interval:
                    await asyncio.sleep(self.options.poll_interval)
                    if dequeued.done():
                        break
                waited = str(int(time.time() - queue_started))
                wait_root = await self.webhook(
                    "voice.wait",
                    wait_url,
                    {
                        **params,
                        "QueueSid": "QU" + "0" * 31 + "1",
                        "QueuePosition": "1",
                        "QueueTime": waited,
                        "AvgQueueTime": waited,
                        "CurrentQueueSize": "1",
                        "MaxQueueSize": "100",
                    },
                    expect=_wait_document,
                )
                redirect = wait_root.find("Redirect")
                if redirect is None:
                    break  # "connecting": an operator already took this caller
                wait_url = redirect.text
            token.give()
            try:
                join_url = await asyncio.wait_for(dequeued, timeout=self.options.take_timeout)
            except TimeoutError:
                self._fail(
                    "stub.dequeue", f"no operator took the caller in {self.options.take_timeout} s"
                )
        except CallFailed:
            if token.is_due:
                # Like a real caller who gives up: hang up, so the queue does not keep them.
                await self._hang_up_in_queue(params, exit_url, status, queue_started)
            raise
        finally:
            self._dequeued.pop(sid, None)
            token.give()
        try:
            queue_time = str(int(time.time() - queue_started))
            await self.webhook(
                "voice.queue_exit",
                exit_url,
                {
                    **params,
                    "QueueResult": "redirected",
                    "QueueSid": "QU" + "0" * 31 + "1",
                    "QueueTime": queue_time,
                },
            )
            root = await self.webhook(
                "queue.join",
                join_url,
                params,
                expect=lambda r: find_first(r, "Conference") is not None,
            )
            entry_id = int(re.search(r"[?&]entry=(\d+)", join_url)[1])
            talk = self._conversations.setdefault(entry_id, Conversation())
            talk.caller_sid = sid
            dial = root.find("Dial")
            conference = find_first(root, "Conference")
            conference_url = conference.get("statusCallback", "")
            talk.conference_name = talk.conference_name or (conference.text or "")
            talk.conference_sid = talk.conference_sid or "CF" + f"{entry_id:032x}"
            await self.conference_event(talk, conference_url, "participant-join", sid)
            await self.webhook("queue.conference_wait", conference.get("waitUrl", ""), params)
            talk.caller_joined.set()
            try:
                await asyncio.wait_for(
                    talk.operator_hung_up.wait(), timeout=self.options.take_timeout
                )
            except TimeoutError:
                self._fail("queue.conversation", "the operator never hung up")
            if not self.options.only_used_callbacks:
                await self.conference_event(talk, conference_url, "participant-leave", sid)
            await self.webhook(
                "queue.after_call",
                dial.get("action", ""),
                {**params, "DialCallStatus": "completed"},
                expect=lambda r: r.find("Hangup") is not None,
            )
            talk.caller_done.set()
        except CallFailed:
            # The caller's line drops here: Twilio would still send the final status.
            with contextlib.suppress(CallFailed):
                await status("completed", CallDuration="1", Duration="1")
            raise
        duration = str(max(1, int(time.time() - started)))
        await status("completed", CallDuration=duration, Duration="1")

    async def _hang_up_in_queue(self, params, exit_url, status, queue_started) -> None:
        """The caller hangs up while waiting: the <Enqueue> action (QueueResult=hangup) and the
        final status callback, best effort (their own failures are recorded, not raised)."""
        waited = str(int(time.time() - queue_started))
        with contextlib.suppress(CallFailed):
            await self.webhook(
                "voice.queue_exit",
                exit_url,
                {
                    **params,
                    "QueueResult": "hangup",
                    "QueueSid": "QU" + "0" * 31 + "1",
                    "QueueTime": waited,
                },
            )
        with contextlib.suppress(CallFailed):
            await status("completed", CallDuration=waited, Duration="1")

    # ------------------------------------------------------------------ load modes

    def stop(self) -> None:
        self._stopping = True


class _Token:
    """An operator's turn, given once per caller: after the caller's polls, or when it ends."""

    def __init__(self, queue: asyncio.Queue | None) -> None:
        self.queue = queue
        self.given = False
        #: The caller is in the queue (its entry exists): a turn is owed.
        self.is_due = False

    def give(self) -> None:
        if self.is_due and not self.given and self.queue is not None:
            self.given = True
            self.queue.put_nowait(1)


def _gather_and_redirect(root: ET.Element) -> bool:
    gather = root.find("Gather")
    return gather is not None and gather.get("action") and root.find("Redirect") is not None


def _first_prompt(root: ET.Element) -> bool:
    """The first prompt of issue 17: a <Gather> (and its <Redirect>) that waits 8-10 s for a
    key or words, the person offered in it (key 0)."""
    gather = root.find("Gather")
    if not _gather_and_redirect(root) or gather is None:
        return False
    spoken = "".join(gather.itertext())
    return 8 <= int(gather.get("timeout") or 0) <= 10 and ("0" in spoken or "零" in spoken)


def _wait_document(root: ET.Element) -> bool:
    """A wait round (<Gather>s and the <Redirect> to the next round) or, once an operator was
    chosen, "connecting" (speech and a pause). Never a <Leave> or a <Record> here."""
    if root.find("Leave") is not None or find_first(root, "Record") is not None:
        return False
    redirect = root.find("Redirect")
    if redirect is not None:
        return "/twilio/voice/wait" in (redirect.text or "")
    return root.find("Pause") is not None


# --------------------------------------------------------------------------- baseline load


def baseline_params(n: int, account_sid: str) -> dict[str, str]:
    """A voice webhook's form, as the hotline runs send (same size, same signing cost)."""
    return {
        "CallSid": "CA" + f"{n:032x}",
        "AccountSid": account_sid,
        "From": f"+86139{n % 100_000_000:08d}",
        "To": "+861012345678",
        "Caller": f"+86139{n % 100_000_000:08d}",
        "Called": "+861012345678",
        "CallStatus": "in-progress",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "FromCountry": "CN",
        "ToCountry": "CN",
        "Digits": "2",
    }


async def baseline_worker(
    client: HttpClient,
    validator: RequestValidator,
    recorder: Recorder,
    counter: itertools.count,
    total: int,
    account_sid: str,
    deadline: float,
) -> None:
    """Closed loop: POST signed forms to the bare Flask route until `total` were sent."""
    loop = asyncio.get_running_loop()
    path = "/twilio/voice/input?node=main_menu&lang=zh-CN&turn=1"
    while loop.time() < deadline:
        n = next(counter)
        if n >= total:
            return
        params = baseline_params(n, account_sid)
        signature = validator.compute_signature(client.base_url + path, params)
        try:
            response = await client.request(
                "POST",
                path,
                body=urlencode(params).encode(),
                headers={"X-Twilio-Signature": signature},
                content_type="application/x-www-form-urlencoded",
            )
        except HttpError as exc:
            recorder.error("baseline", str(exc))
            continue
        recorder.add("baseline", response.seconds, webhook=True)
        if response.status != 200 or check_twiml(response.text, "voice"):
            recorder.error("baseline", f"HTTP {response.status}: {response.text[:100]}")
