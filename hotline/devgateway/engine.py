"""One thread per call leg that plays Twilio's part: fetch TwiML, follow it, wait, bridge.

A call thread blocks in `CallActor.wait_for` whenever Twilio would be waiting (a prompt being
spoken, a Gather listening, hold music, a bridge). Other threads (the REST API, the dev phone
API, other calls) only ever post events to its inbox; they never run its TwiML. Events that end
what the call is doing (a hang-up, a REST redirect, a dequeue) unwind the interpreter as
exceptions, and each construct (queue, dial, conference) cleans up on the way out, which is how
a hang-up "at any moment" reaches the Enqueue action, the peer and the conference correctly.
"""

from __future__ import annotations

import contextlib
import threading
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotline.devgateway import twiml as tw
from hotline.devgateway.model import Call, Conference, Participant
from hotline.devgateway.util import new_sid, parse_bool, rfc2822
from hotline.devgateway.webhooks import Exchange, WebhookClient, resolve_url

if TYPE_CHECKING:
    from hotline.devgateway.simulator import Simulator

API_VERSION = "2010-04-01"
APPLICATION_ERROR_TEXT = "We are sorry, an application error has occurred. Goodbye."
#: Twilio's SIP-style codes in the final status callback.
SIP_CODES = {
    "completed": "200",
    "busy": "486",
    "no-answer": "480",
    "canceled": "487",
    "failed": "500",
}


class Shutdown(Exception):
    """The gateway is stopping: leave without sending anything."""


class CallEnded(Exception):
    """The call is over (caller hung up, <Hangup>, REST completed); unwinds to the top."""

    def __init__(self, reason: str) -> None:
        """Remember why, for the transcript and the developer page."""
        super().__init__(reason)
        self.reason = reason


class Redirected(Exception):
    """A REST update gave the call new TwiML; whatever it was doing stops."""

    def __init__(self, target: DocRef) -> None:
        """Where the call goes next."""
        super().__init__(target.url or "inline TwiML")
        self.target = target


class Interrupt(Exception):
    """An event that ends the current construct (dequeued, conference over, peer hung up)."""

    def __init__(self, event: Event) -> None:
        """Carry the event up to the construct that asked for it."""
        super().__init__(event.kind)
        self.event = event


class LeaveQueue(Exception):
    """<Leave> in an Enqueue waitUrl document."""


class AppError(Exception):
    """The app failed a TwiML request: HTTP error, timeout, unparsable TwiML, a loop."""

    def __init__(self, code: str, message: str, url: str | None) -> None:
        """Twilio's error code, a readable message and the URL at fault."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.url = url


@dataclass
class Event:
    """Something that happened to a call, posted to its inbox."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DocRef:
    """Where a call's next TwiML document comes from."""

    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    #: voice, answer, fallback, action, gather, redirect, dial, record, enqueue, wait, ...
    kind: str = "action"
    extra: list[tuple[str, str]] = field(default_factory=list)
    #: The number's Voice URL or the REST Url: failures there go to the fallback URL.
    primary: bool = False
    fallback: bool = False


@dataclass
class DialResult:
    """How a <Dial> ended, for its action URL."""

    status: str
    dial_call_sid: str | None = None
    duration: int = 0
    bridged: bool = False


class CallActor:
    """The thread that runs one call leg."""

    def __init__(self, sim: Simulator, call: Call) -> None:
        """Prepare the inbox; `start` runs the thread."""
        self.sim = sim
        self.call = call
        self.inbox: deque[Event] = deque()
        self.cond = threading.Condition(sim.lock)
        self.waiting = False
        self.deadline: float | None = None
        self.force_timeout = False
        self.finished = False
        self.interrupts: set[str] = set()
        self.client: WebhookClient | None = None
        self.thread: threading.Thread | None = None
        self._documents_without_progress = 0
        self._dial_children: list[str] = []
        self._dial_peer: tuple[str, float] | None = None
        self._warned_wait_redirect = False

    # ------------------------------------------------------------------ plumbing

    def start(self) -> None:
        """Run the call in its own daemon thread."""
        self.thread = threading.Thread(
            target=self.run, name=f"devgateway-{self.call.sid[:10]}", daemon=True
        )
        self.thread.start()

    def post(self, kind: str, /, **data: Any) -> None:
        """Deliver an event to this call (any thread)."""
        with self.sim.lock:
            if self.finished:
                return
            self.inbox.append(Event(kind, data))
            self.cond.notify_all()

    def is_settled(self, now: float) -> bool:
        """True when the call waits for something outside itself (or is over). Lock held."""
        if self.finished:
            return True
        if not self.waiting or self.inbox or self.force_timeout:
            return False
        return self.deadline is None or self.deadline > now

    def wait_for(self, accept: set[str], timeout: float | None) -> Event | None:
        """Block until an accepted event arrives (returned) or `timeout` simulated seconds pass.

        Hang-ups and redirects raise; events the current constructs asked for (interrupts)
        raise Interrupt; anything else is dropped with a note in the transcript.
        """
        sim = self.sim
        with sim.lock:
            self.deadline = None if timeout is None else sim.clock.now() + timeout
            try:
                while True:
                    if sim.stopped:
                        raise Shutdown
                    while self.inbox:
                        event = self.inbox.popleft()
                        if self._dispatch(event, accept):
                            self._documents_without_progress = 0
                            return event
                    if self.force_timeout:
                        self.force_timeout = False
                        return None
                    if self.deadline is not None and sim.clock.now() >= self.deadline:
                        if timeout:
                            self._documents_without_progress = 0
                        return None
                    self.waiting = True
                    sim.changed.notify_all()
                    sim.clock.wait(self.cond, self.deadline)
                    self.waiting = False
            finally:
                self.waiting = False
                self.deadline = None
                self.force_timeout = False

    def _dispatch(self, event: Event, accept: set[str]) -> bool:
        """Route one inbox event: True to return it, raise to unwind, False to drop it."""
        if event.kind == "hangup":
            raise self._ended_now(event.data.get("reason", "hung up"), status="completed")
        if event.kind == "redirect":
            raise Redirected(event.data["target"])
        if event.kind in accept:
            return True
        if event.kind in self.interrupts:
            raise Interrupt(event)
        if event.kind in ("decline", "cancel") and self.call.answered_at is not None:
            # Hung up in the instant between ringing and answering: still a hang-up.
            raise self._ended_now(event.data.get("reason", "hung up"), status="completed")
        self._drop(event)
        return False

    def _drop(self, event: Event) -> None:
        """An event nobody listens for: keys outside Gather, speech nobody hears. Lock held."""
        if event.kind == "digit":
            self.emit(
                "note",
                f"按键 {event.data['digit']} 无人接收 (key ignored: no <Gather> is listening)",
            )
        elif event.kind == "speech":
            peers = self.sim.peers_of(self.call)
            if peers:
                for peer in peers:
                    self.sim.add_event(
                        peer, "peer", event.data["text"], data={"from": self.call.phone}
                    )
            else:
                self.emit("note", "没有人在听 (speech ignored: no <Gather> is listening)")

    def check_inbox(self) -> None:
        """Handle pending hang-ups and redirects between verbs without waiting."""
        self.wait_for(set(), 0)

    def timed(self, seconds: float, accept: set[str] | None = None) -> Event | None:
        """Let `seconds` of simulated time pass (a prompt, a pause), unless an event comes."""
        return self.wait_for(accept or set(), max(seconds, 0.0))

    def _ended_now(self, reason: str, *, status: str) -> CallEnded:
        """Mark the call ended right now (lock taken) and build the exception to raise."""
        with self.sim.lock:
            call = self.call
            if not call.is_ended:
                now = self.sim.clock.now()
                call.status = status
                call.ended_at = now
                call.updated_at = now
                call.end_reason = reason
                call.activity = "ended"
                call.expecting = None
                self.emit("status", f"通话结束 (call ended: {reason})", data={"status": status})
        return CallEnded(reason)

    def emit(self, kind: str, text: str = "", **fields: Any) -> None:
        """Add a transcript event to this call."""
        self.sim.add_event(self.call, kind, text, **fields)

    def set_activity(self, activity: str, expecting: dict[str, Any] | None = None) -> None:
        """Record what the call is doing now (for the dev phone)."""
        with self.sim.lock:
            if not self.call.is_ended:
                self.call.activity = activity
                self.call.expecting = expecting

    # ------------------------------------------------------------------ webhooks

    def call_params(self) -> list[tuple[str, str]]:
        """The parameters Twilio sends with every voice request."""
        call = self.call
        params = [
            ("AccountSid", call.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", call.sid),
            ("CallStatus", call.status),
            ("Called", call.to),
            ("Caller", call.from_),
            ("Direction", call.direction),
            ("From", call.from_),
            ("To", call.to),
        ]
        if call.parent_call_sid:
            params.append(("ParentCallSid", call.parent_call_sid))
        if call.answered_by:
            params.append(("AnsweredBy", call.answered_by))
        return params

    def webhook(
        self, kind: str, url: str, method: str, params: list[tuple[str, str]], *, note: str = ""
    ) -> Exchange:
        """Send one signed request for this call and record the exchange."""
        if self.sim.stopped:
            raise Shutdown
        assert self.client is not None
        exchange = self.sim.new_exchange(kind, url, method, params, call_sid=self.call.sid)
        exchange.note = note
        self.client.send(exchange)
        self.sim.record_exchange(exchange, self.call)
        return exchange

    def status_callback(self, event: str) -> None:
        """Send a call progress event if the call asked for it (initiated/ringing/answered/completed)."""
        call = self.call
        if not call.status_callback or event not in call.status_callback_events:
            return
        with self.sim.lock:
            sequence = call.sequence_number
            call.sequence_number += 1
            params = self.call_params()
            if event == "initiated":
                # The Call resource says "queued"; the progress event is named "initiated".
                params = [(k, "initiated" if k == "CallStatus" else v) for k, v in params]
            params += [
                ("CallbackSource", "call-progress-events"),
                ("SequenceNumber", str(sequence)),
                ("Timestamp", rfc2822(self.sim.clock.now()) or ""),
            ]
            if event == "completed":
                params += [
                    ("CallDuration", str(call.duration or 0)),
                    ("Duration", str(-(-(call.duration or 0) // 60))),
                    ("SipResponseCode", SIP_CODES.get(call.status, "200")),
                ]
        exchange = self.webhook(
            "status", call.status_callback, call.status_callback_method, params,
            note="status callback: the body is ignored",
        )  # fmt: skip
        if not exchange.ok:
            self.sim.add_problem(
                "warning", "11200", f"status callback failed: {exchange.error or exchange.status_code}",
                call_sid=call.sid, url=exchange.url,
            )  # fmt: skip

    def load(self, ref: DocRef, context: str) -> tuple[list[ET.Element], str | None]:
        """Fetch (or take inline) a TwiML document and parse it; AppError when Twilio would fail."""
        self._documents_without_progress += 1
        if self._documents_without_progress > self.sim.config.max_documents_without_progress:
            self._documents_without_progress = 0
            raise AppError(
                "GW-LOOP",
                f"the call fetched {self.sim.config.max_documents_without_progress} TwiML documents "
                "in a row without any time passing or any caller input: a Redirect loop",
                ref.url,
            )
        if ref.twiml is not None:
            body, doc_url = ref.twiml, None
        else:
            assert ref.url is not None
            exchange = self.webhook(ref.kind, ref.url, ref.method, self.call_params() + ref.extra)
            doc_url = exchange.url
            if exchange.error:
                code = "11205" if "timed out" in exchange.error else "11200"
                raise AppError(code, exchange.error, exchange.url)
            if not exchange.ok:
                raise AppError(
                    "11200", f"HTTP retrieval failure: the app answered {exchange.status_code}",
                    exchange.url,
                )  # fmt: skip
            body = exchange.response_body
            content_type = exchange.content_type.split(";")[0].strip().lower()
            if content_type == "text/plain" and not body.lstrip().startswith("<"):
                self.sim.add_problem(
                    "warning", "12300", "the app answered text/plain: Twilio reads it with <Say>",
                    call_sid=self.call.sid, url=exchange.url,
                )  # fmt: skip
                say = ET.Element("Say")
                say.text = body
                return [say], doc_url
        try:
            verbs = tw.parse_document(body)
        except tw.TwimlError as exc:
            raise AppError(str(exc.code), exc.message, ref.url) from exc
        for warning in tw.grammar_warnings(verbs, context):
            self.sim.add_problem("warning", "12200", warning, call_sid=self.call.sid, url=ref.url)
            self.emit("warning", warning)
        return verbs, doc_url

    # ------------------------------------------------------------------ the call's life

    def run(self) -> None:
        """The whole life of the call leg."""
        self.client = WebhookClient(
            self.sim.config.auth_token,
            connect_timeout=self.sim.config.webhook_connect_timeout,
            timeout=self.sim.config.webhook_timeout,
        )
        try:
            self._run()
        except Shutdown:
            pass
        except Exception as exc:  # a bug in the gateway must not look like the app's fault
            self.sim.add_problem(
                "error", "GW-BUG", f"dev gateway internal error: {type(exc).__name__}: {exc}",
                call_sid=self.call.sid,
            )  # fmt: skip
            with contextlib.suppress(Exception):
                self._ended_now("dev gateway internal error", status="failed")
        finally:
            with self.sim.lock:
                self.finished = True
                # Whoever tried to take this caller out of a queue must not wait for it forever.
                for event in self.inbox:
                    if event.kind == "dequeue" and event.data.get("by"):
                        self.sim.post(event.data["by"], "peer_hangup", sid=self.call.sid)
                self.inbox.clear()
                self.sim.changed.notify_all()
            self.client.close()

    def _run(self) -> None:
        """Ring or answer, run the TwiML, then report the end."""
        call = self.call
        try:
            if call.direction == "inbound":
                self._set_status("ringing")
                first = DocRef(url=self.sim.config.voice_url, kind="voice", primary=True)
                self.run_documents(first, inbound_first=True)
                raise self._ended_now("the TwiML ran out", status="completed")
            self.status_callback("initiated")
            outcome = self.ring()
            if outcome != "answered":
                self._ended_now(f"not answered: {outcome}", status=outcome)
                if call.direction == "outbound-dial" and call.parent_call_sid:
                    self.sim.post(
                        call.parent_call_sid, "child_failed", sid=call.sid, status=outcome
                    )
                self.sim.participant_failed(call, outcome)
                self._after_end()
                return
            self.answered()
            if call.direction == "outbound-dial":
                self.run_child_leg()
                raise self._ended_now("the other party left", status="completed")
            if call.participant is not None:
                self.join_conference(call.participant["conference"], call.participant, None)
                raise self._ended_now("left the conference", status="completed")
            first = DocRef(
                url=call.url, method=call.method, twiml=call.twiml, kind="answer", primary=True
            )
            self.run_documents(first)
            raise self._ended_now("the TwiML ran out", status="completed")
        except CallEnded:
            self._after_end()

    def _after_end(self) -> None:
        """Everything that follows the end of a call: peers, children, the final callback."""
        with self.sim.lock:
            for child_sid in self._dial_children:
                self.sim.post(child_sid, "cancel")
        self.status_callback("completed")

    def _set_status(self, status: str) -> None:
        """Change the call status (lock taken)."""
        with self.sim.lock:
            self.call.status = status
            self.call.updated_at = self.sim.clock.now()
            self.call.activity = status

    def answered(self) -> None:
        """The far end picked up."""
        with self.sim.lock:
            now = self.sim.clock.now()
            self.call.status = "in-progress"
            self.call.answered_at = now
            self.call.updated_at = now
            self.call.activity = "in-progress"
        self.emit("status", "已接通 (answered)", data={"status": "in-progress"})
        self.status_callback("answered")

    def ring(self) -> str:
        """Ring the far end of an outbound leg: answered, busy, no-answer or canceled."""
        call = self.call
        self._set_status("ringing")
        self.sim.participant_ringing(call)
        self.status_callback("ringing")
        number = call.to
        if self.sim.phone_is_busy(number, call.sid):
            return "busy"
        auto = number in self.sim.config.auto_answer_numbers
        registered = self.sim.phone_is_registered(number)
        self.emit("ring", f"来电 {call.from_} (incoming call)", data={"from": call.from_})
        if not auto and not registered:
            self.sim.add_problem(
                "warning", "GW-NOANSWER",
                f"{number} is ringing but no dev phone is open for it and it is not in "
                "AUTO_ANSWER_NUMBERS: it will not be answered",
                call_sid=call.sid,
            )  # fmt: skip
        timeout = self.sim.config.auto_answer_delay if auto else call.timeout
        if call.direction == "outbound-dial" and not auto:
            # The parent's <Dial timeout> decides, so the two timers cannot race.
            timeout = None
        try:
            event = self.wait_for({"answer", "decline", "cancel"}, timeout)
        except CallEnded:
            return "canceled"
        if event is None:
            if auto:
                with self.sim.lock:
                    call.answered_by = "human" if call.machine_detection else None
                return "answered"
            return "no-answer"
        if event.kind == "answer":
            with self.sim.lock:
                if call.machine_detection:
                    call.answered_by = event.data.get("answered_by") or "human"
            return "answered"
        if event.kind == "decline":
            return "busy"
        return event.data.get("status", "canceled")

    def run_documents(self, ref: DocRef | None, *, inbound_first: bool = False) -> None:
        """Fetch and follow documents until one runs out (Redirects and actions chain)."""
        while ref is not None:
            try:
                verbs, doc_url = self.load(ref, "call")
                if inbound_first:
                    inbound_first = False
                    if not (verbs and verbs[0].tag == "Reject"):
                        self.answered_inbound()
                ref = self.execute(verbs, doc_url, "call")
            except Redirected as redirect:
                ref = redirect.target
            except AppError as error:
                ref = self.application_error(error, ref)

    def answered_inbound(self) -> None:
        """An inbound call is answered once its first TwiML starts."""
        with self.sim.lock:
            now = self.sim.clock.now()
            self.call.status = "in-progress"
            self.call.answered_at = now
            self.call.updated_at = now
        self.emit("status", "已接通 (answered)", data={"status": "in-progress"})

    def application_error(self, error: AppError, ref: DocRef) -> DocRef | None:
        """What Twilio does when the app fails: the fallback URL once, else the error message."""
        call = self.call
        self.sim.add_problem(
            "error", error.code, error.message, call_sid=call.sid, url=error.url,
            detail="the caller would hear Twilio's 'application error' message"
            if not (ref.primary and self._fallback_url()) else "Twilio requests the fallback URL",
        )  # fmt: skip
        with self.sim.lock:
            call.error = {"code": error.code, "message": error.message, "url": error.url}
        self.emit("error", f"⚠ {error.code}: {error.message}", url=error.url)
        fallback = self._fallback_url()
        if ref.primary and not ref.fallback and fallback:
            return DocRef(
                url=fallback, method=call.fallback_method, kind="fallback", fallback=True,
                extra=[("ErrorCode", error.code), ("ErrorUrl", error.url or "")],
            )  # fmt: skip
        if self.call.answered_at is None and self.call.direction == "inbound":
            self.answered_inbound()  # Twilio answers to play its error message
        self.say_text(APPLICATION_ERROR_TEXT, "en-US", kind="error")
        raise self._ended_now("application error", status="completed")

    def _fallback_url(self) -> str | None:
        """The number's fallback URL (inbound) or the REST FallbackUrl (outbound)."""
        if self.call.direction == "inbound":
            return self.sim.config.voice_fallback_url
        return self.call.fallback_url

    def say_text(self, text: str, language: str, *, kind: str = "say") -> None:
        """Speak a fixed text (Twilio's own messages)."""
        speech = tw.Speech(
            text=text, language=language, voice=None, loop=1, segments=[tw.Segment(text)]
        )
        self.emit(kind, text, language=language, speech_lang=tw.browser_language(language),
                  segments=[s.as_dict() for s in speech.segments])  # fmt: skip
        self.timed(tw.speech_seconds(speech))

    def execute(self, verbs: list[ET.Element], doc_url: str | None, context: str) -> DocRef | None:
        """Run verbs in order; a DocRef means the document is replaced (action, Redirect)."""
        allowed = tw.VERBS_BY_CONTEXT[context]
        for verb in verbs:
            self.check_inbox()
            if verb.tag not in allowed or verb.tag in tw.NOT_EMULATED:
                continue
            handler = getattr(self, "verb_" + verb.tag.lower(), None)
            if handler is None:
                continue
            if context == "call":
                self.set_activity("in-progress")
            target = handler(verb, doc_url, context)
            if isinstance(target, DocRef):
                return target
        return None

    # ------------------------------------------------------------------ simple verbs

    def verb_say(
        self, verb: ET.Element, doc_url: str | None, context: str, accept: set[str] | None = None
    ) -> Event | None:
        """<Say>: the caller hears the text for as long as it takes to speak it."""
        speech = tw.speech_of_say(verb)
        loops = speech.loop if speech.loop > 0 else 1000
        seconds = tw.speech_seconds(speech)
        for _ in range(loops):
            if context == "call" and accept is None:
                self.set_activity("speaking")
            self.emit(
                "say", speech.text, language=speech.language,
                speech_lang=tw.browser_language(speech.language), rate=speech.rate,
                voice=speech.voice, segments=[s.as_dict() for s in speech.segments],
            )  # fmt: skip
            event = self.timed(seconds, accept)
            if event is not None:
                return event
        return None

    def verb_play(
        self, verb: ET.Element, doc_url: str | None, context: str, accept: set[str] | None = None
    ) -> Event | None:
        """<Play>: an audio URL (the browser plays it) or DTMF tones."""
        digits = verb.get("digits")
        loops = int(tw.parse_float(verb.get("loop"), 1)) or 1000
        if digits:
            self.emit("play", f"(DTMF {digits})", data={"digits": digits})
            return self.timed(0.1 * len(digits) + 0.4 * digits.count("w"), accept)
        url = resolve_url(doc_url, verb.text or "")
        for _ in range(loops):
            if context == "call" and accept is None:
                self.set_activity("playing")
            self.emit("play", url, url=url)
            event = self.timed(self.sim.config.play_seconds, accept)
            if event is not None:
                return event
        return None

    def verb_pause(
        self, verb: ET.Element, doc_url: str | None, context: str, accept: set[str] | None = None
    ) -> Event | None:
        """<Pause length>: silence (default 1 s)."""
        length = tw.parse_float(verb.get("length"), 1.0)
        self.emit("pause", f"({length:g} s)", data={"seconds": length})
        return self.timed(length, accept)

    def verb_redirect(self, verb: ET.Element, doc_url: str | None, context: str) -> DocRef:
        """<Redirect>: the next document."""
        url = resolve_url(doc_url, verb.text or "")
        return DocRef(
            url=url or doc_url, method=(verb.get("method") or "POST").upper(), kind="redirect"
        )

    def verb_hangup(self, verb: ET.Element, doc_url: str | None, context: str) -> None:
        """<Hangup>."""
        raise self._ended_now("the app hung up (<Hangup>)", status="completed")

    def verb_reject(self, verb: ET.Element, doc_url: str | None, context: str) -> None:
        """<Reject>: refuse the call unanswered (busy); after an answer it acts like <Hangup>."""
        if self.call.answered_at is not None:
            raise self._ended_now("the app rejected the call after answering", status="completed")
        reason = verb.get("reason") or "rejected"
        raise self._ended_now(f"rejected ({reason})", status="busy")

    def verb_leave(self, verb: ET.Element, doc_url: str | None, context: str) -> None:
        """<Leave>: only meaningful in an Enqueue wait document."""
        if context == "queue-wait":
            raise LeaveQueue

    # ------------------------------------------------------------------ Gather

    def verb_gather(self, verb: ET.Element, doc_url: str | None, context: str) -> DocRef | None:
        """<Gather>: prompts that keys or speech interrupt, then wait for input."""
        inputs = set((verb.get("input") or "dtmf").split())
        accept = set()
        if "dtmf" in inputs:
            accept.add("digit")
        if "speech" in inputs:
            accept.add("speech")
        timeout = tw.parse_float(verb.get("timeout"), 5.0)
        num_digits = int(tw.parse_float(verb.get("numDigits"), 0)) or None
        finish_on_key = verb.get("finishOnKey", "#")
        action = resolve_url(doc_url, verb.get("action")) if verb.get("action") else doc_url
        method = (verb.get("method") or "POST").upper()
        language = verb.get("language") or "en-US"
        expecting = {
            "type": "gather",
            "input": sorted(inputs),
            "timeout": timeout,
            "num_digits": num_digits,
            "finish_on_key": finish_on_key,
            "language": language,
            "hints": verb.get("hints"),
        }
        previous_activity = self.call.activity if context != "call" else "in-progress"
        self.set_activity("gathering", expecting)
        digits = ""
        speech: Event | None = None
        finished_by_key = False
        try:
            event = None
            for child in verb:
                handler = {
                    "Say": self.verb_say,
                    "Play": self.verb_play,
                    "Pause": self.verb_pause,
                }.get(child.tag)
                if handler is None:
                    continue
                event = handler(child, doc_url, context, accept)
                if event is not None:
                    self.emit("stop", "(打断 barge-in)")
                    break
            self.set_activity("listening", expecting)
            if event is None:
                self.emit("listen", self._listen_text(expecting), data=expecting)
                event = self.wait_for(accept, timeout)
            while event is not None:
                if event.kind == "speech":
                    speech = event
                    break
                key = event.data["digit"]
                if finish_on_key and key == finish_on_key[0]:
                    finished_by_key = True
                    break
                digits += key
                if num_digits and len(digits) >= num_digits:
                    break
                event = self.wait_for(accept, timeout)
        finally:
            self.set_activity(previous_activity, None)
        if speech is not None:
            extra = [
                ("SpeechResult", speech.data["text"]),
                ("Confidence", f"{speech.data.get('confidence', 0.9):.2f}"),
            ]
            if language:
                extra.append(("Language", language))
            return DocRef(url=action, method=method, extra=extra, kind="gather")
        if digits:
            extra = [("Digits", digits)]
            if finished_by_key:
                extra.append(("FinishedOnKey", finish_on_key[0]))
            return DocRef(url=action, method=method, extra=extra, kind="gather")
        if parse_bool(verb.get("actionOnEmptyResult"), default=False):
            return DocRef(url=action, method=method, kind="gather")
        self.emit("note", "没有输入，继续下一条指令 (no input: continuing with the next verb)")
        return None

    @staticmethod
    def _listen_text(expecting: dict[str, Any]) -> str:
        """A transcript line describing what the Gather waits for."""
        parts = []
        if "dtmf" in expecting["input"]:
            keys = f"{expecting['num_digits']} 位按键" if expecting["num_digits"] else "按键"
            parts.append(f"{keys} (keys)")
        if "speech" in expecting["input"]:
            parts.append(f"语音 {expecting['language']} (speech)")
        return f"等待输入: {' / '.join(parts)}, {expecting['timeout']:g} s"

    # ------------------------------------------------------------------ Record

    def verb_record(self, verb: ET.Element, doc_url: str | None, context: str) -> DocRef | None:
        """<Record>: the caller types what they say; a key, silence or maxLength ends it."""
        action = resolve_url(doc_url, verb.get("action")) if verb.get("action") else doc_url
        method = (verb.get("method") or "POST").upper()
        timeout = tw.parse_float(verb.get("timeout"), 5.0)
        finish_on_key = verb.get("finishOnKey", "1234567890*#")
        max_length = tw.parse_float(verb.get("maxLength"), 3600.0)
        expecting = {
            "type": "record",
            "timeout": timeout,
            "finish_on_key": finish_on_key,
            "max_length": max_length,
        }
        if parse_bool(verb.get("playBeep"), default=True):
            self.emit("record", "嘀 (beep)")
        self.set_activity("recording", expecting)
        self.emit(
            "listen",
            f"录音中 (recording): 说完按 {finish_on_key or '—'}, {timeout:g} s 静音结束",
            data=expecting,
        )
        texts: list[str] = []
        ended_by: str | None = None
        started = self.sim.clock.now()
        try:
            while True:
                remaining = started + max_length - self.sim.clock.now()
                if remaining <= 0:
                    break
                event = self.wait_for({"digit", "speech"}, min(timeout, remaining))
                if event is None:
                    break
                if event.kind == "speech":
                    texts.append(event.data["text"])
                    if event.data.get("finish_key"):
                        ended_by = event.data["finish_key"]
                        break
                    continue
                key = event.data["digit"]
                if key in finish_on_key:
                    ended_by = key
                    break
        except CallEnded:
            if texts and action:
                extra = self._recording_params(" ".join(texts), "hangup")
                self.webhook("record", action, method, self.call_params() + extra,
                             note="the caller hung up: the response is ignored")  # fmt: skip
            raise
        finally:
            self.set_activity("in-progress", None)
        if not texts:
            self.emit("note", "没有录到声音，继续下一条指令 (silence: nothing recorded, next verb)")
            return None
        extra = self._recording_params(" ".join(texts), ended_by)
        return DocRef(url=action, method=method, extra=extra, kind="record")

    def _recording_params(self, text: str, digits: str | None) -> list[tuple[str, str]]:
        """Store the recording and build the Record action parameters."""
        speech = tw.Speech(
            text=text, language="zh-CN", voice=None, loop=1, segments=[tw.Segment(text)]
        )
        recording = self.sim.add_recording(
            self.call, text, max(1, round(tw.speech_seconds(speech)))
        )
        extra = [
            ("RecordingUrl", self.sim.recording_url(recording.sid)),
            ("RecordingDuration", str(recording.duration)),
            ("RecordingSid", recording.sid),
        ]
        if digits:
            extra.append(("Digits", digits))
        return extra

    # ------------------------------------------------------------------ Enqueue

    def verb_enqueue(self, verb: ET.Element, doc_url: str | None, context: str) -> DocRef | None:
        """<Enqueue>: wait in a FIFO queue, hearing the waitUrl, until dequeued or gone."""
        name = (verb.text or "").strip()
        action = resolve_url(doc_url, verb.get("action")) if verb.get("action") else None
        method = (verb.get("method") or "POST").upper()
        wait_attr = verb.get("waitUrl")
        wait_method = (verb.get("waitUrlMethod") or "POST").upper()
        max_size = verb.get("maxQueueSize")
        queue, position = self.sim.enqueue(
            self.call, name, int(tw.parse_float(max_size, 0)) or None
        )
        if position is None:
            self.emit("note", f"队列 {name} 已满 (queue full)")
            return self._enqueue_action(action, method, "queue-full", queue.sid, 0)
        self.emit("queue", f"进入队列 {name}，第 {position} 位 (queued at position {position})",
                  data={"queue": name, "queue_sid": queue.sid, "position": position})  # fmt: skip
        self.set_activity("queued")
        self.interrupts.update({"dequeue"})
        enqueued_at = self.sim.clock.now()
        try:
            self._queue_wait_loop(wait_attr, wait_method, doc_url, queue.sid)
        except Interrupt as interrupt:
            event = interrupt.event
            queue_time = int(self.sim.clock.now() - enqueued_at)
            if event.data.get("by"):
                return self._bridged_from_queue(event, action, method, queue.sid, enqueued_at)
            self.emit("note", "被接出队列 (dequeued by the REST API)")
            self._enqueue_action(
                action, method, "redirected", queue.sid, queue_time, ignore_response=True
            )
            return DocRef(
                url=event.data["url"], method=event.data.get("method", "POST"), kind="dequeue"
            )
        except LeaveQueue:
            self.sim.dequeue(self.call)
            self.emit("note", "离开队列 (<Leave>)")
            return self._enqueue_action(
                action, method, "leave", queue.sid, int(self.sim.clock.now() - enqueued_at)
            )
        except AppError as error:
            self.sim.dequeue(self.call)
            self.application_error_in_wait(error)
            return self._enqueue_action(
                action, method, "error", queue.sid, int(self.sim.clock.now() - enqueued_at)
            )
        except CallEnded:
            self.sim.dequeue(self.call)
            self._enqueue_action(
                action,
                method,
                "hangup",
                queue.sid,
                int(self.sim.clock.now() - enqueued_at),
                ignore_response=True,
            )
            raise
        except Redirected:
            self.sim.dequeue(self.call)
            self._enqueue_action(
                action,
                method,
                "redirected",
                queue.sid,
                int(self.sim.clock.now() - enqueued_at),
                ignore_response=True,
            )
            raise
        finally:
            self.interrupts.discard("dequeue")
            self.sim.dequeue(self.call)
        return None  # pragma: no cover - the wait loop only ends by an exception

    def _queue_wait_loop(
        self, wait_attr: str | None, wait_method: str, doc_url: str | None, queue_sid: str
    ) -> None:
        """Play the waitUrl again and again (or the default music) until an event ends it."""
        if wait_attr is None:
            while True:
                self.emit("music", "♪ 等待音乐 (Twilio's default hold music)")
                self.timed(self.sim.config.hold_music_seconds)
        if wait_attr.strip() == "":
            self.wait_for(set(), None)
        wait_url = resolve_url(doc_url, wait_attr)
        while True:
            ref: DocRef | None = DocRef(url=wait_url, method=wait_method, kind="wait")
            while ref is not None:
                ref.extra = self.sim.queue_params(self.call, queue_sid) + ref.extra
                verbs, url = self.load(ref, "queue-wait")
                ref = self.execute(verbs, url, "queue-wait")
                if ref is not None and ref.kind == "redirect" and not self._warned_wait_redirect:
                    self._warned_wait_redirect = True
                    self.sim.add_problem(
                        "warning", "GW-WAITREDIRECT",
                        "<Redirect> in Enqueue waitUrl TwiML: the gateway keeps the caller in the "
                        "queue, but Twilio may take them out of it (QueueResult=redirected). "
                        "Let the document run out instead (Twilio requests waitUrl again).",
                        call_sid=self.call.sid, url=url,
                    )  # fmt: skip

    def application_error_in_wait(self, error: AppError) -> None:
        """A waitUrl/holdUrl failure: record it loudly (the caller leaves the queue)."""
        self.sim.add_problem("error", error.code, error.message, call_sid=self.call.sid, url=error.url,
                             detail="failed while the caller was waiting")  # fmt: skip
        with self.sim.lock:
            self.call.error = {"code": error.code, "message": error.message, "url": error.url}
        self.emit("error", f"⚠ {error.code}: {error.message}", url=error.url)

    def _enqueue_action(
        self, action: str | None, method: str, result: str, queue_sid: str, queue_time: int,
        *, ignore_response: bool = False,
    ) -> DocRef | None:  # fmt: skip
        """Request the Enqueue action with QueueResult (or continue with the next verb)."""
        if not action:
            return None
        extra = [("QueueResult", result), ("QueueSid", queue_sid), ("QueueTime", str(queue_time))]
        if ignore_response or self.call.is_ended:
            self.webhook("enqueue", action, method, self.call_params() + extra,
                         note="the call left the queue another way: the response is ignored")  # fmt: skip
            return None
        return DocRef(url=action, method=method, extra=extra, kind="enqueue")

    def _bridged_from_queue(
        self, event: Event, action: str | None, method: str, queue_sid: str, enqueued_at: float
    ) -> DocRef | None:
        """Dequeued by a <Dial><Queue>: hear the Queue url, talk, then the Enqueue action."""
        dialer = event.data["by"]
        queue_time = int(self.sim.clock.now() - enqueued_at)
        self.interrupts.add("peer_hangup")
        try:
            if event.data.get("url"):
                extra = [
                    ("QueueSid", queue_sid),
                    ("QueueTime", str(queue_time)),
                    ("DequeingCallSid", dialer),
                ]
                ref: DocRef | None = DocRef(
                    url=event.data["url"],
                    method=event.data.get("method", "POST"),
                    kind="queue-url",
                    extra=extra,
                )
                while ref is not None:
                    verbs, url = self.load(ref, "conference-wait")
                    ref = self.execute(verbs, url, "conference-wait")
            self.sim.post(dialer, "bridge_ready", sid=self.call.sid)
            self.bridge(dialer)
        except Interrupt:
            pass  # the agent hung up before the bridge
        except AppError as error:
            self.application_error_in_wait(error)
            self.sim.post(dialer, "peer_hangup", sid=self.call.sid)
        except (CallEnded, Redirected):
            self.sim.post(dialer, "peer_hangup", sid=self.call.sid)
            if action:
                extra = [
                    ("QueueResult", "bridged"),
                    ("QueueSid", queue_sid),
                    ("QueueTime", str(queue_time)),
                ]
                self.webhook("enqueue", action, method, self.call_params() + extra,
                             note="the caller hung up: the response is ignored")  # fmt: skip
            raise
        finally:
            self.interrupts.discard("peer_hangup")
        return self._enqueue_action(action, method, "bridged", queue_sid, queue_time)

    # ------------------------------------------------------------------ bridging

    def bridge(self, peer_sid: str, *, hangup_on_star: bool = False) -> None:
        """Talk to another leg until it hangs up (or the caller presses * with hangupOnStar)."""
        with self.sim.lock:
            peer = self.sim.calls.get(peer_sid)
            if peer is None or peer.is_ended:
                return
            self.call.bridged_with = [peer_sid]
            self.call.activity = "connected"
            self.call.expecting = None
            label = peer.phone or peer.to
        self.emit(
            "connected", f"已接通 {label} (connected)", data={"with": label, "call_sid": peer_sid}
        )
        accept = {"peer_hangup", "cancel"} | ({"digit"} if hangup_on_star else set())
        try:
            while True:
                event = self.wait_for(accept, None)
                if event.kind == "cancel":
                    self.sim.post(peer_sid, "peer_hangup", sid=self.call.sid)
                    raise self._ended_now("the call was canceled", status="completed")
                if event.kind == "peer_hangup" and event.data.get("sid") == peer_sid:
                    self.emit("status", f"对方已挂断 ({label} hung up)")
                    return
                if event.kind == "digit" and event.data["digit"] == "*":
                    self.sim.post(peer_sid, "peer_hangup", sid=self.call.sid)
                    return
        except (CallEnded, Redirected, Shutdown):
            self.sim.post(peer_sid, "peer_hangup", sid=self.call.sid)
            raise
        finally:
            with self.sim.lock:
                self.call.bridged_with = []
                if not self.call.is_ended:
                    self.call.activity = "in-progress"

    def run_child_leg(self) -> None:
        """A leg created by <Dial><Number|Client>: tell the parent, then talk until one leaves."""
        parent = self.call.parent_call_sid
        assert parent is not None
        self.sim.post(parent, "child_answered", sid=self.call.sid)
        self.bridge(parent)

    # ------------------------------------------------------------------ Dial

    def verb_dial(self, verb: ET.Element, doc_url: str | None, context: str) -> DocRef | None:
        """<Dial> a Number/Client, a Queue or a Conference; then the action or the next verb."""
        action = resolve_url(doc_url, verb.get("action")) if verb.get("action") else None
        method = (verb.get("method") or "POST").upper()
        nouns = [
            child for child in verb if child.tag in ("Number", "Client", "Queue", "Conference")
        ]
        if not nouns and (verb.text or "").strip():
            number = ET.Element("Number")
            number.text = verb.text.strip()
            nouns = [number]
        if not nouns:
            self.sim.add_problem(
                "warning",
                "12200",
                "<Dial> with nothing to dial",
                call_sid=self.call.sid,
                url=doc_url,
            )
            result = DialResult("failed")
        else:
            try:
                kind = nouns[0].tag
                if kind == "Queue":
                    result = self.dial_queue(nouns[0], verb, doc_url)
                elif kind == "Conference":
                    result = self.join_conference(
                        (nouns[0].text or "").strip(),
                        self._conference_options(nouns[0], doc_url),
                        doc_url,
                    )
                else:
                    result = self.dial_numbers(
                        [n for n in nouns if n.tag in ("Number", "Client")], verb, doc_url
                    )
            except CallEnded:
                if action:
                    self.webhook("dial", action, method, self.call_params() + self._dial_params(self._dial_result_at_hangup()),
                                 note="the caller hung up: the response is ignored")  # fmt: skip
                raise
            finally:
                self._dial_peer = None
        if action:
            return DocRef(url=action, method=method, extra=self._dial_params(result), kind="dial")
        return None

    def _dial_result_at_hangup(self) -> DialResult:
        """How the Dial ended when the caller hung up: completed if bridged, else canceled."""
        if self._dial_peer is None:
            return DialResult("canceled")
        peer, started = self._dial_peer
        return DialResult(
            "completed", peer or None, int(self.sim.clock.now() - started), bridged=True
        )

    def _bridged_now(self, peer_sid: str) -> float:
        """Remember who the Dial is bridged to (for an action sent after a hang-up)."""
        started = self.sim.clock.now()
        self._dial_peer = (peer_sid, started)
        return started

    @staticmethod
    def _dial_params(result: DialResult) -> list[tuple[str, str]]:
        """Dial action parameters."""
        params = [
            ("DialCallStatus", result.status),
            ("DialBridged", "true" if result.bridged else "false"),
        ]
        if result.dial_call_sid:
            params += [
                ("DialCallSid", result.dial_call_sid),
                ("DialCallDuration", str(result.duration)),
            ]
        return params

    def dial_numbers(
        self, nouns: list[ET.Element], verb: ET.Element, doc_url: str | None
    ) -> DialResult:
        """Ring every Number/Client at once; the first to answer is bridged, the others canceled."""
        timeout = tw.parse_float(verb.get("timeout"), 30.0)
        caller_id = verb.get("callerId") or self.call.from_
        hangup_on_star = parse_bool(verb.get("hangupOnStar"), default=False)
        children = []
        for noun in nouns:
            target = (noun.text or "").strip()
            if noun.tag == "Client":
                identity = noun.find("Identity")
                target = "client:" + (
                    (identity.text or "").strip() if identity is not None else target
                )
            options = {
                "status_callback": resolve_url(doc_url, noun.get("statusCallback"))
                if noun.get("statusCallback")
                else None,
                "status_callback_method": (noun.get("statusCallbackMethod") or "POST").upper(),
                "status_callback_events": set(
                    (noun.get("statusCallbackEvent") or "completed").split()
                ),
            }
            child = self.sim.start_child_leg(self.call, target, caller_id, timeout, options)
            children.append(child.sid)
        self._dial_children = list(children)
        self.set_activity("dialing")
        self.emit(
            "status", f"正在呼叫 {', '.join(self.sim.calls[c].to for c in children)} (dialing)"
        )
        outcomes: dict[str, str] = {}
        answered: str | None = None
        deadline = self.sim.clock.now() + timeout
        try:
            while answered is None and len(outcomes) < len(children):
                remaining = deadline - self.sim.clock.now()
                event = self.wait_for({"child_answered", "child_failed"}, max(remaining, 0))
                if event is None:
                    break
                if event.data["sid"] not in children:
                    continue
                if event.kind == "child_answered":
                    answered = event.data["sid"]
                else:
                    outcomes[event.data["sid"]] = event.data["status"]
            for sid in children:
                if sid != answered:
                    self.sim.post(sid, "cancel", status="canceled" if answered else "no-answer")
            if answered is None:
                statuses = set(outcomes.values())
                status = (
                    "busy"
                    if statuses == {"busy"}
                    else ("failed" if statuses == {"failed"} else "no-answer")
                )
                self.emit("status", f"无人接听 (dial: {status})")
                return DialResult(status)
            self._dial_children = [answered]
            started = self._bridged_now(answered)
            self.bridge(answered, hangup_on_star=hangup_on_star)
            return DialResult(
                "completed", answered, int(self.sim.clock.now() - started), bridged=True
            )
        finally:
            self._dial_children = []
            for sid in children:
                if sid != answered:
                    self.sim.post(sid, "cancel")

    def dial_queue(self, noun: ET.Element, verb: ET.Element, doc_url: str | None) -> DialResult:
        """<Dial><Queue>: take the caller at the head of the queue and talk to them."""
        name = (noun.text or "").strip()
        member_sid = self.sim.take_front(name)
        if member_sid is None:
            self.emit("status", f"队列 {name} 是空的 (queue empty)")
            return DialResult("no-answer")
        url = resolve_url(doc_url, noun.get("url")) if noun.get("url") else None
        self.sim.post(
            member_sid,
            "dequeue",
            by=self.call.sid,
            url=url,
            method=(noun.get("method") or "POST").upper(),
        )
        self.set_activity("dialing")
        try:
            event = self.wait_for(
                {"bridge_ready", "peer_hangup"}, tw.parse_float(verb.get("timeout"), 30.0)
            )
        except CallEnded:
            self.sim.post(member_sid, "peer_hangup", sid=self.call.sid)
            raise
        if event is None or event.kind != "bridge_ready":
            return DialResult("failed", member_sid)
        started = self._bridged_now(member_sid)
        self.bridge(member_sid, hangup_on_star=parse_bool(verb.get("hangupOnStar"), default=False))
        return DialResult(
            "completed", member_sid, int(self.sim.clock.now() - started), bridged=True
        )

    # ------------------------------------------------------------------ Conference

    @staticmethod
    def _conference_options(noun: ET.Element, doc_url: str | None) -> dict[str, Any]:
        """Read <Conference> attributes into the options join_conference takes."""
        callback = noun.get("statusCallback")
        wait_url = noun.get("waitUrl")
        return {
            "start_conference_on_enter": parse_bool(
                noun.get("startConferenceOnEnter"), default=True
            ),
            "end_conference_on_exit": parse_bool(noun.get("endConferenceOnExit"), default=False),
            "muted": parse_bool(noun.get("muted"), default=False),
            "beep": noun.get("beep") or "true",
            "wait_url": resolve_url(doc_url, wait_url) if wait_url else wait_url,
            "wait_method": (noun.get("waitMethod") or "POST").upper(),
            "conference_status_callback": resolve_url(doc_url, callback) if callback else None,
            "conference_status_callback_method": (
                noun.get("statusCallbackMethod") or "POST"
            ).upper(),
            "conference_status_callback_events": set(
                (noun.get("statusCallbackEvent") or "start end").split()
            ),
            "label": noun.get("participantLabel"),
            "record": noun.get("record") or "do-not-record",
            "recording_status_callback": (
                resolve_url(doc_url, noun.get("recordingStatusCallback"))
                if noun.get("recordingStatusCallback")
                else None
            ),
            "recording_status_callback_method": (
                noun.get("recordingStatusCallbackMethod") or "POST"
            ).upper(),
        }

    def join_conference(
        self, name: str, options: dict[str, Any], doc_url: str | None
    ) -> DialResult:
        """Be in a conference until it ends, this participant is removed, or the call ends."""
        conference, participant = self.sim.join_conference(self.call, name, options)
        self.interrupts.update({"conf_update", "conf_end"})
        joined_at = self._bridged_now("")
        reason = "participant_hung_up"
        try:
            while True:
                with self.sim.lock:
                    if (
                        conference.status == "completed"
                        or self.call.sid not in conference.participants
                    ):
                        break
                    state = (conference.status, participant.hold)
                try:
                    if participant.hold:
                        self.set_activity("on-hold")
                        self.emit("music", "保持中 (on hold)")
                        self._play_loop(participant.hold_url, participant.hold_method)
                    elif state[0] == "init":
                        self.set_activity("conference-waiting")
                        self._play_loop(options.get("wait_url"), options.get("wait_method", "POST"))
                    else:
                        self.set_activity("conference")
                        self.emit("conference", self.sim.conference_summary_text(conference, self.call.sid),
                                  data={"conference_sid": conference.sid, "name": conference.friendly_name})  # fmt: skip
                        self.wait_for(set(), None)
                except Interrupt as interrupt:
                    if interrupt.event.kind == "conf_end":
                        break
            reason = ""
        except Redirected:
            reason = "participant_updated_via_api"
            raise
        finally:
            self.interrupts.difference_update({"conf_update", "conf_end"})
            if reason:
                self.sim.leave_conference(conference, self.call.sid, reason)
            self.set_activity("in-progress")
        self.emit("status", f"已离开会议 {conference.friendly_name} (left the conference)")
        return DialResult("completed", None, int(self.sim.clock.now() - joined_at), bridged=True)

    def _play_loop(self, url: str | None, method: str) -> None:
        """Hold or wait music: the default music, silence (""), or a TwiML URL played in a loop."""
        if url is None:
            while True:
                self.emit("music", "♪ 等待音乐 (default hold music)")
                self.timed(self.sim.config.hold_music_seconds)
        if url.strip() == "":
            self.wait_for(set(), None)
        while True:
            ref: DocRef | None = DocRef(url=url, method=method, kind="wait")
            try:
                while ref is not None:
                    verbs, doc_url = self.load(ref, "conference-wait")
                    ref = self.execute(verbs, doc_url, "conference-wait")
            except AppError as error:
                self.application_error_in_wait(error)
                self.wait_for(set(), None)


def participant_status(participant: Participant, conference: Conference) -> str:
    """A participant's REST status."""
    return participant.status if conference.status != "completed" else "complete"


def new_recording_sid() -> str:
    """A RE... SID."""
    return new_sid("RE")
