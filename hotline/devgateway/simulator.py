"""The simulated telephone network: every call, queue, conference and SMS, behind one lock.

Threads: one per call leg (`engine.CallActor`) and one job runner for asynchronous webhooks
(SMS, message and conference status callbacks, announcements). HTTP handlers only change state
under the lock and post events; they never wait for the app, so the app may call the REST API
from inside a webhook without a deadlock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from typing import Any

from hotline.devgateway import twiml as tw
from hotline.devgateway.clock import Clock, ManualClock, RealClock
from hotline.devgateway.config import GatewayConfig
from hotline.devgateway.engine import API_VERSION, CallActor, DocRef
from hotline.devgateway.model import (
    Call,
    Conference,
    Message,
    Participant,
    Problem,
    Queue,
    QueueMember,
    Recording,
    RestRecord,
    TranscriptEvent,
)
from hotline.devgateway.util import iso8601, new_sid, rfc2822, sms_segments
from hotline.devgateway.webhooks import Exchange, WebhookClient

#: Keywords Twilio handles itself on long codes (Advanced Opt-Out off).
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP", "OPTIN"}
OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from this "
    "number. Reply START to resubscribe."
)
OPT_IN_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
    "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)
#: Conference status events and the statusCallbackEvent word that enables each.
CONFERENCE_EVENT_WORDS = {
    "conference-start": "start",
    "conference-end": "end",
    "participant-join": "join",
    "participant-leave": "leave",
    "participant-mute": "mute",
    "participant-unmute": "mute",
    "participant-hold": "hold",
    "participant-unhold": "hold",
}


class GatewayError(Exception):
    """A request the gateway refuses; REST handlers turn it into Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """HTTP status, Twilio error code, message."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class JobRunner:
    """A single thread running delayed jobs in order (asynchronous webhooks)."""

    def __init__(self, sim: Simulator) -> None:
        """Jobs are (due, sequence, function) in a heap; the thread starts on first use."""
        self.sim = sim
        self.cond = threading.Condition(sim.lock)
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self.sequence = itertools.count()
        self.busy = False
        self.waiting = False
        self.thread: threading.Thread | None = None
        self.client: WebhookClient | None = None

    def schedule(self, delay: float, job: Callable[[], None]) -> None:
        """Run `job` after `delay` simulated seconds (lock may be held)."""
        with self.sim.lock:
            if self.sim.stopped:
                return
            heapq.heappush(self.heap, (self.sim.clock.now() + delay, next(self.sequence), job))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="devgateway-jobs", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def next_deadline(self) -> float | None:
        """When the next job is due (lock held)."""
        return self.heap[0][0] if self.heap else None

    def is_idle(self, now: float) -> bool:
        """No job running and none due (lock held)."""
        return not self.busy and not (self.heap and self.heap[0][0] <= now)

    def run(self) -> None:
        """Take due jobs one by one until the gateway stops."""
        sim = self.sim
        self.client = WebhookClient(
            sim.config.auth_token,
            connect_timeout=sim.config.webhook_connect_timeout,
            timeout=sim.config.webhook_timeout,
        )
        try:
            while True:
                with sim.lock:
                    while not sim.stopped and not (
                        self.heap and self.heap[0][0] <= sim.clock.now()
                    ):
                        self.waiting = True
                        sim.changed.notify_all()
                        sim.clock.wait(self.cond, self.next_deadline())
                        self.waiting = False
                    if sim.stopped:
                        return
                    _, _, job = heapq.heappop(self.heap)
                    self.busy = True
                try:
                    job()
                except Exception as exc:  # a failing job must not stop the others
                    sim.add_problem("warning", "GW-JOB", f"dev gateway job failed: {exc!r}")
                finally:
                    with sim.lock:
                        self.busy = False
                        sim.changed.notify_all()
        finally:
            self.client.close()


class Simulator:
    """All state of the emulated Twilio account and the phones around it."""

    def __init__(self, config: GatewayConfig, clock: Clock | None = None) -> None:
        """Empty network; nothing runs until the first call or message."""
        self.config = config
        if clock is None:
            clock = ManualClock() if config.clock == "manual" else RealClock(config.time_scale)
        self.clock = clock
        self.lock = threading.RLock()
        #: Notified whenever a thread goes idle; `wait_idle` waits on it.
        self.changed = threading.Condition(self.lock)
        self.stopped = False
        self.calls: dict[str, Call] = {}
        self.actors: dict[str, CallActor] = {}
        self.queues: dict[str, Queue] = {}
        self.conferences: dict[str, Conference] = {}
        self.messages: dict[str, Message] = {}
        self.recordings: dict[str, Recording] = {}
        self.rest_log: deque[RestRecord] = deque(maxlen=2000)
        self.problems: deque[Problem] = deque(maxlen=500)
        self.exchanges: deque[Exchange] = deque(maxlen=500)
        self.phones: dict[str, float] = {}
        self.phone_ttls: dict[str, float] = {}
        self.calls_by_phone: dict[str, list[str]] = {}
        self.opted_out: set[tuple[str, str]] = set()
        self._ids = itertools.count(1)
        self.jobs = JobRunner(self)
        #: A harness running the hotline in this process may say when the hotline still has
        #: work after a response (the REST requests it makes once Twilio has its answer), so
        #: that "idle" waits for them as a person at the dev phone would (tests: no races).
        self.external_busy: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------ bookkeeping

    def next_id(self) -> int:
        """A process-wide increasing id (events, exchanges, problems, REST records)."""
        return next(self._ids)

    def add_event(self, call: Call, kind: str, text: str = "", **fields: Any) -> TranscriptEvent:
        """Append a transcript event to a call."""
        with self.lock:
            event = TranscriptEvent(
                id=self.next_id(), at=self.clock.now(), call_sid=call.sid, kind=kind, text=text,
                **fields,
            )  # fmt: skip
            call.transcript.append(event)
            if len(call.transcript) > 3000:
                del call.transcript[:1000]
            return event

    def new_exchange(self, kind: str, url: str, method: str, params: list[tuple[str, str]], *,
                     call_sid: str | None = None, message_sid: str | None = None,
                     conference_sid: str | None = None) -> Exchange:  # fmt: skip
        """A webhook about to be sent."""
        return Exchange(
            id=self.next_id(), at=self.clock.now(), kind=kind, method=method.upper(), url=url,
            params=list(params), signature="", call_sid=call_sid, message_sid=message_sid,
            conference_sid=conference_sid,
        )  # fmt: skip

    def record_exchange(self, exchange: Exchange, call: Call | None = None) -> None:
        """Keep a sent webhook for the developer page."""
        with self.lock:
            self.exchanges.append(exchange)
            if call is not None:
                call.exchanges.append(exchange)

    def add_problem(self, severity: str, code: str, message: str, *, call_sid: str | None = None,
                    url: str | None = None, detail: str = "") -> None:  # fmt: skip
        """Record something the developer must see."""
        with self.lock:
            self.problems.append(
                Problem(
                    self.next_id(), self.clock.now(), severity, code, message, call_sid, url, detail
                )
            )

    def record_rest(self, record: RestRecord) -> None:
        """Keep a received REST request."""
        with self.lock:
            self.rest_log.append(record)

    # ------------------------------------------------------------------ phones

    def touch_phone(self, number: str, ttl: float | None = None) -> None:
        """A dev phone page for `number` is open (it polled just now)."""
        with self.lock:
            self.phones[number] = time.monotonic()
            self.phone_ttls[number] = ttl if ttl is not None else self.config.phone_ttl

    def phone_is_registered(self, number: str) -> bool:
        """True while a dev phone page for `number` keeps polling."""
        with self.lock:
            seen = self.phones.get(number)
            ttl = self.phone_ttls.get(number, self.config.phone_ttl)
            return seen is not None and time.monotonic() - seen <= ttl

    def phone_is_busy(self, number: str, except_sid: str) -> bool:
        """A registered dev phone that is already on another call answers busy."""
        if number in self.config.auto_answer_numbers or not self.phone_is_registered(number):
            return False
        with self.lock:
            for sid in self.calls_by_phone.get(number, []):
                call = self.calls[sid]
                if sid != except_sid and not call.is_ended and call.status != "queued":
                    return True
        return False

    # ------------------------------------------------------------------ calls

    #: Finished calls and messages kept in memory (a long benchmark must not fill it up).
    MAX_CALLS_KEPT = 5000
    MAX_MESSAGES_KEPT = 5000

    def _forget_old(self) -> None:
        """Drop the oldest finished calls and messages beyond the limits (lock held)."""
        if len(self.calls) > self.MAX_CALLS_KEPT:
            for sid in list(self.calls)[: len(self.calls) - self.MAX_CALLS_KEPT]:
                actor = self.actors.get(sid)
                if actor is not None and actor.finished:
                    call = self.calls.pop(sid)
                    self.actors.pop(sid, None)
                    if call.phone in self.calls_by_phone:
                        self.calls_by_phone[call.phone] = [
                            s for s in self.calls_by_phone[call.phone] if s != sid
                        ]
        if len(self.messages) > self.MAX_MESSAGES_KEPT:
            for sid in list(self.messages)[: len(self.messages) - self.MAX_MESSAGES_KEPT]:
                if self.messages[sid].status in ("delivered", "received", "failed", "undelivered"):
                    self.messages.pop(sid)

    def _start(self, call: Call) -> Call:
        """Register a call and start its thread."""
        with self.lock:
            if self.stopped:
                raise GatewayError(503, 20503, "the dev gateway is shutting down")
            self._forget_old()
            call.updated_at = call.created_at
            self.calls[call.sid] = call
            if call.phone:
                self.calls_by_phone.setdefault(call.phone, []).append(call.sid)
            actor = CallActor(self, call)
            self.actors[call.sid] = actor
        actor.start()
        return call

    def place_inbound_call(self, from_: str, to: str) -> Call:
        """A dev phone dials a line: Twilio requests the line's Voice URL."""
        if to not in self.config.lines:
            raise GatewayError(
                404,
                21211,
                f"{to} is not a hotline number here (LINES: {', '.join(self.config.lines)})",
            )
        call = Call(
            sid=new_sid("CA"), account_sid=self.config.account_sid, from_=from_, to=to,
            direction="inbound", created_at=self.clock.now(), phone=from_,
            status_callback=self.config.voice_status_url,
            status_callback_events={"completed"},
        )  # fmt: skip
        return self._start(call)

    def create_rest_call(self, *, to: str, from_: str, url: str | None, twiml: str | None,
                         method: str, fallback_url: str | None, fallback_method: str,
                         status_callback: str | None, status_callback_method: str,
                         status_callback_events: set[str], timeout: float,
                         machine_detection: str | None) -> Call:  # fmt: skip
        """Calls.create: ring `to`, then run the TwiML."""
        call = Call(
            sid=new_sid("CA"), account_sid=self.config.account_sid, from_=from_, to=to,
            direction="outbound-api", created_at=self.clock.now(), phone=to, url=url,
            twiml=twiml, method=method, fallback_url=fallback_url, fallback_method=fallback_method,
            status_callback=status_callback, status_callback_method=status_callback_method,
            status_callback_events=status_callback_events, timeout=timeout,
            machine_detection=machine_detection,
        )  # fmt: skip
        return self._start(call)

    def start_child_leg(
        self, parent: Call, to: str, from_: str, timeout: float, options: dict[str, Any]
    ) -> Call:
        """<Dial><Number|Client>: an outbound-dial leg ringing `to`."""
        call = Call(
            sid=new_sid("CA"), account_sid=self.config.account_sid, from_=from_, to=to,
            direction="outbound-dial", created_at=self.clock.now(), phone=to,
            parent_call_sid=parent.sid, timeout=timeout,
            status_callback=options.get("status_callback"),
            status_callback_method=options.get("status_callback_method", "POST"),
            status_callback_events=options.get("status_callback_events", set()),
        )  # fmt: skip
        return self._start(call)

    def call_or_404(self, sid: str) -> Call:
        """The call with this SID, or Twilio's 20404."""
        call = self.calls.get(sid)
        if call is None:
            raise GatewayError(404, 20404, f"The requested resource /Calls/{sid} was not found")
        return call

    def post(self, target: str, kind: str, /, **data: Any) -> bool:
        """Post an event to a live call; False if there is no such live call."""
        actor = self.actors.get(target)
        if actor is None or actor.finished:
            return False
        actor.post(kind, **data)
        return True

    def hang_up(self, sid: str, *, reason: str, by_phone: bool) -> Call:
        """End a call from outside: the dev phone's red button or REST Status=completed."""
        with self.lock:
            call = self.call_or_404(sid)
            if call.is_ended:
                return call
            if call.answered_at is None and call.direction != "inbound":
                self.post(sid, "decline" if by_phone else "cancel")
            else:
                self.post(sid, "hangup", reason=reason)
            return call

    def redirect(self, sid: str, target: DocRef) -> Call:
        """REST update with Url or Twiml: a live call runs it now, a ringing one when answered."""
        with self.lock:
            call = self.call_or_404(sid)
            if call.is_ended:
                raise GatewayError(400, 21220, "Call is not in-progress. Cannot redirect.")
            if call.answered_at is None and call.direction == "outbound-api":
                call.url, call.method, call.twiml = target.url, target.method, target.twiml
            else:
                self.post(sid, "redirect", target=target)
            return call

    def answer(self, sid: str, answered_by: str | None = None) -> Call:
        """The dev phone picks up a ringing call."""
        with self.lock:
            call = self.call_or_404(sid)
            if call.status != "ringing" or call.direction == "inbound":
                raise GatewayError(409, 20409, f"call {sid} is not ringing ({call.status})")
            self.post(sid, "answer", answered_by=answered_by)
            return call

    def press(self, sid: str, digit: str) -> None:
        """The caller presses one key."""
        with self.lock:
            call = self.call_or_404(sid)
            if call.is_ended:
                raise GatewayError(409, 20409, "the call has ended")
            self.add_event(call, "key", digit)
            self.post(sid, "digit", digit=digit)

    def speak(
        self, sid: str, text: str, *, confidence: float = 0.9, finish_key: str | None = None
    ) -> None:
        """The caller says something (typed on the dev phone)."""
        with self.lock:
            call = self.call_or_404(sid)
            if call.is_ended:
                raise GatewayError(409, 20409, "the call has ended")
            self.add_event(call, "speech", text, data={"confidence": confidence})
            self.post(sid, "speech", text=text, confidence=confidence, finish_key=finish_key)

    def timeout_now(self, sid: str) -> bool:
        """Make the timer the call is waiting on (prompt, Gather, Pause, ringing) expire now."""
        with self.lock:
            self.call_or_404(sid)
            actor = self.actors.get(sid)
            if actor is None or actor.finished or actor.deadline is None:
                return False
            actor.force_timeout = True
            actor.cond.notify_all()
            return True

    def peers_of(self, call: Call) -> list[Call]:
        """The calls that hear this one: its bridge peer or the others in its conference."""
        with self.lock:
            peers = [self.calls[sid] for sid in call.bridged_with if sid in self.calls]
            conference = self.conferences.get(call.conference_sid or "")
            if conference is not None and conference.status == "in-progress":
                me = conference.participants.get(call.sid)
                if me is not None and not me.muted and not me.hold:
                    peers += [
                        self.calls[p.call_sid] for p in conference.connected()
                        if p.call_sid != call.sid and not p.hold and p.call_sid in self.calls
                    ]  # fmt: skip
            return peers

    # ------------------------------------------------------------------ queues

    def queue_by_name(self, name: str) -> Queue | None:
        """The queue with this friendly name (lock held or not)."""
        with self.lock:
            for queue in self.queues.values():
                if queue.friendly_name == name:
                    return queue
            return None

    def create_queue(self, name: str, max_size: int | None = None) -> Queue:
        """A new queue (REST create or the first <Enqueue> of a name)."""
        with self.lock:
            now = self.clock.now()
            queue = Queue(new_sid("QU"), name, now, now, max_size or 100)
            self.queues[queue.sid] = queue
            return queue

    def enqueue(self, call: Call, name: str, max_size: int | None) -> tuple[Queue, int | None]:
        """Put a call at the back of a queue; position None when the queue is full."""
        with self.lock:
            queue = self.queue_by_name(name) or self.create_queue(name, max_size)
            if len(queue.members) >= queue.max_size:
                return queue, None
            now = self.clock.now()
            queue.members.append(QueueMember(call.sid, now))
            queue.updated_at = now
            call.queue_sid = queue.sid
            call.enqueued_at = now
            return queue, len(queue.members)

    def dequeue(self, call: Call) -> None:
        """Take a call out of whatever queue it is in (idempotent)."""
        with self.lock:
            queue = self.queues.get(call.queue_sid or "")
            if queue is not None:
                queue.members = [m for m in queue.members if m.call_sid != call.sid]
                queue.updated_at = self.clock.now()
            call.queue_sid = None
            call.enqueued_at = None

    def take_front(self, name: str) -> str | None:
        """<Dial><Queue>: remove and return the caller at the head of the queue."""
        with self.lock:
            queue = self.queue_by_name(name)
            if queue is None or not queue.members:
                return None
            member = queue.members.pop(0)
            queue.updated_at = self.clock.now()
            self.calls[member.call_sid].queue_sid = None
            return member.call_sid

    def queue_params(self, call: Call, queue_sid: str) -> list[tuple[str, str]]:
        """What Twilio tells an Enqueue waitUrl about the caller's place."""
        with self.lock:
            queue = self.queues[queue_sid]
            now = self.clock.now()
            position = next(
                (i + 1 for i, m in enumerate(queue.members) if m.call_sid == call.sid), 0
            )
            waits = [now - m.enqueued_at for m in queue.members]
            mine = now - call.enqueued_at if call.enqueued_at is not None else 0
            return [
                ("QueuePosition", str(position)),
                ("QueueSid", queue.sid),
                ("QueueTime", str(int(mine))),
                ("AvgQueueTime", str(int(sum(waits) / len(waits))) if waits else "0"),
                ("CurrentQueueSize", str(len(queue.members))),
                ("MaxQueueSize", str(queue.max_size)),
            ]

    def rest_dequeue(self, queue_sid: str, member: str, url: str, method: str) -> dict[str, Any]:
        """Queue member update: that caller leaves the queue and runs the TwiML at `url`."""
        with self.lock:
            queue = self.queue_or_404(queue_sid)
            if member == "Front":
                found = queue.members[0] if queue.members else None
            else:
                found = next((m for m in queue.members if m.call_sid == member), None)
            if found is None:
                raise GatewayError(
                    404,
                    20404,
                    f"The requested resource /Queues/{queue_sid}/Members/{member} was not found",
                )
            snapshot = self.member_snapshot(queue, found)
            queue.members.remove(found)
            queue.updated_at = self.clock.now()
            self.calls[found.call_sid].queue_sid = None
            self.post(found.call_sid, "dequeue", url=url, method=method)
            return snapshot

    def member_snapshot(self, queue: Queue, member: QueueMember) -> dict[str, Any]:
        """A member's place and wait, as the REST API reports them."""
        return {
            "call_sid": member.call_sid,
            "queue_sid": queue.sid,
            "position": queue.members.index(member) + 1,
            "wait_time": int(self.clock.now() - member.enqueued_at),
            "date_enqueued": member.enqueued_at,
        }

    def queue_or_404(self, sid: str) -> Queue:
        """The queue with this SID, or Twilio's 20404."""
        queue = self.queues.get(sid)
        if queue is None:
            raise GatewayError(404, 20404, f"The requested resource /Queues/{sid} was not found")
        return queue

    # ------------------------------------------------------------------ conferences

    def conference_by_ident(self, ident: str) -> Conference | None:
        """A conference by SID, or the live one with this friendly name."""
        with self.lock:
            if ident in self.conferences:
                return self.conferences[ident]
            for conference in reversed(list(self.conferences.values())):
                if conference.friendly_name == ident and conference.status != "completed":
                    return conference
            return None

    def _conference_for_join(self, ident: str) -> Conference:
        """The live conference to join, created when needed (lock held)."""
        conference = self.conference_by_ident(ident)
        if conference is not None and conference.status != "completed":
            return conference
        name = conference.friendly_name if conference is not None else ident
        now = self.clock.now()
        conference = Conference(new_sid("CF"), name, now, now)
        self.conferences[conference.sid] = conference
        return conference

    def create_participant(
        self, ident: str, options: dict[str, Any], call_options: dict[str, Any]
    ) -> tuple[Conference, Participant, Call]:
        """Participants.create: ring a phone and put it into the conference when answered."""
        with self.lock:
            conference = self._conference_for_join(ident)
            self._set_conference_callback(conference, options)
            now = self.clock.now()
            call = Call(
                sid=new_sid("CA"), account_sid=self.config.account_sid,
                from_=call_options["from_"], to=call_options["to"], direction="outbound-api",
                created_at=now, phone=call_options["to"], timeout=call_options["timeout"],
                status_callback=call_options.get("status_callback"),
                status_callback_method=call_options.get("status_callback_method", "POST"),
                status_callback_events=call_options.get("status_callback_events", set()),
                participant=dict(options, conference=conference.sid),
            )  # fmt: skip
            participant = self._new_participant(call.sid, conference, options, status="queued")
            conference.participants[call.sid] = participant
            self._start(call)
            return conference, participant, call

    def _new_participant(
        self, call_sid: str, conference: Conference, options: dict[str, Any], *, status: str
    ) -> Participant:
        """A participant record from join options."""
        now = self.clock.now()
        return Participant(
            call_sid=call_sid, conference_sid=conference.sid, created_at=now, updated_at=now,
            status=status, label=options.get("label"), muted=bool(options.get("muted")),
            start_conference_on_enter=options.get("start_conference_on_enter", True),
            end_conference_on_exit=options.get("end_conference_on_exit", False),
            beep=str(options.get("beep") or "true"), coaching=bool(options.get("coaching")),
            call_sid_to_coach=options.get("call_sid_to_coach"),
            wait_url=options.get("wait_url"), wait_method=options.get("wait_method", "POST"),
        )  # fmt: skip

    def _set_conference_recording(self, conference: Conference, options: dict[str, Any]) -> None:
        """<Conference record="record-from-start">: the conference is recorded from its start;
        when it ends, a recording exists and its recordingStatusCallback is posted."""
        if conference.is_recorded or options.get("record") != "record-from-start":
            return
        conference.is_recorded = True
        conference.recording_status_callback = options.get("recording_status_callback")
        conference.recording_status_callback_method = options.get(
            "recording_status_callback_method", "POST"
        )
        if conference.status == "in-progress":
            conference.recording_started_at = self.clock.now()

    def _set_conference_callback(self, conference: Conference, options: dict[str, Any]) -> None:
        """The first participant that names a conference status callback sets it."""
        if conference.status_callback is None and options.get("conference_status_callback"):
            conference.status_callback = options["conference_status_callback"]
            conference.status_callback_method = options.get(
                "conference_status_callback_method", "POST"
            )
            conference.status_callback_events = set(
                options.get("conference_status_callback_events") or {"start", "end"}
            )

    def join_conference(
        self, call: Call, ident: str, options: dict[str, Any]
    ) -> tuple[Conference, Participant]:
        """A call enters a conference (Dial Conference, or an answered REST participant)."""
        with self.lock:
            conference = self._conference_for_join(ident)
            self._set_conference_callback(conference, options)
            self._set_conference_recording(conference, options)
            participant = conference.participants.get(call.sid)
            if participant is None:
                participant = self._new_participant(
                    call.sid, conference, options, status="connected"
                )
                conference.participants[call.sid] = participant
            participant.status = "connected"
            participant.updated_at = self.clock.now()
            call.conference_sid = conference.sid
            self.conference_event(conference, "participant-join", participant)
            if participant.start_conference_on_enter and conference.status == "init":
                conference.status = "in-progress"
                conference.updated_at = self.clock.now()
                if conference.is_recorded:
                    conference.recording_started_at = self.clock.now()
                self.conference_event(conference, "conference-start")
            self._notify_conference(
                conference, f"{call.phone or call.sid} 加入会议 (joined)", except_sid=call.sid
            )
            return conference, participant

    def _notify_conference(
        self, conference: Conference, text: str, *, except_sid: str | None = None
    ) -> None:
        """Tell every connected participant that the room changed (lock held)."""
        for participant in conference.connected():
            if participant.call_sid == except_sid:
                continue
            call = self.calls.get(participant.call_sid)
            if call is not None:
                self.add_event(call, "note", text)
            self.post(participant.call_sid, "conf_update")

    def leave_conference(self, conference: Conference, call_sid: str, reason: str) -> None:
        """A participant leaves (hung up, kicked, redirected); the room may end with them."""
        with self.lock:
            participant = conference.participants.pop(call_sid, None)
            if participant is None:
                return
            participant.status = "complete"
            participant.updated_at = self.clock.now()
            call = self.calls[call_sid]
            if call.conference_sid == conference.sid:
                call.conference_sid = None
            self.conference_event(
                conference, "participant-leave", participant,
                ReasonParticipantLeft=reason, ParticipantCallStatus=call.status,
            )  # fmt: skip
            self._notify_conference(conference, f"{call.phone or call_sid} 离开会议 (left)")
            if conference.status == "in-progress":
                if participant.end_conference_on_exit:
                    self.end_conference(
                        conference, "participant-with-end-conference-on-exit-left", call_sid
                    )
                elif not conference.connected():
                    self.end_conference(conference, "last-participant-left", call_sid)
            elif conference.status == "init" and not conference.participants:
                conference.status = "completed"
                conference.reason_ended = "last-participant-left"
                conference.updated_at = self.clock.now()

    def end_conference(self, conference: Conference, reason: str, ending_sid: str | None) -> None:
        """The conference ends: everyone still in it leaves (their Dial completes)."""
        with self.lock:
            if conference.status == "completed":
                return
            conference.status = "completed"
            conference.reason_ended = reason
            conference.call_sid_ending = ending_sid
            conference.updated_at = self.clock.now()
            for participant in list(conference.participants.values()):
                conference.participants.pop(participant.call_sid)
                call = self.calls.get(participant.call_sid)
                if participant.status == "connected":
                    participant.status = "complete"
                    self.conference_event(
                        conference, "participant-leave", participant,
                        ReasonParticipantLeft=reason.replace("-", "_"),
                        ParticipantCallStatus=call.status if call else "completed",
                    )  # fmt: skip
                    self.post(participant.call_sid, "conf_end")
                else:
                    self.post(participant.call_sid, "cancel")
            extra = {"ReasonConferenceEnded": reason}
            if ending_sid:
                extra["CallSidEndingConference"] = ending_sid
            self.conference_event(conference, "conference-end", **extra)
            self._finish_conference_recording(conference)

    def _finish_conference_recording(self, conference: Conference) -> None:
        """A recorded conference ended: keep the recording (dual channel: the caller, and
        everyone else; as long as the conference was recorded) and post its
        recordingStatusCallback (lock held)."""
        if not conference.is_recorded or conference.recording_started_at is None:
            return
        now = self.clock.now()
        duration = max(1, round(now - conference.recording_started_at))
        recording = Recording(
            new_sid("RE"), "", "", duration, now, conference_sid=conference.sid, channels=2
        )
        self.recordings[recording.sid] = recording
        conference.recording_started_at = None
        url = conference.recording_status_callback
        if not url:
            return
        method = conference.recording_status_callback_method
        params = [
            ("AccountSid", self.config.account_sid),
            ("ConferenceSid", conference.sid),
            ("RecordingSid", recording.sid),
            ("RecordingUrl", self.recording_url(recording.sid)),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", str(duration)),
            ("RecordingChannels", str(recording.channels)),
            ("RecordingSource", "Conference"),
            ("RecordingStartTime", rfc2822(now - duration) or ""),
        ]
        self.jobs.schedule(0, lambda: self._job_webhook("recording-status", url, method, params,
                                                        conference_sid=conference.sid))  # fmt: skip

    def participant_ringing(self, call: Call) -> None:
        """A REST participant's phone rings."""
        if call.participant is None:
            return
        with self.lock:
            conference = self.conferences.get(call.participant.get("conference", ""))
            participant = conference.participants.get(call.sid) if conference else None
            if participant is not None and participant.status == "queued":
                participant.status = "ringing"
                participant.updated_at = self.clock.now()

    def participant_failed(self, call: Call, outcome: str) -> None:
        """A REST participant never answered: it leaves the room's list."""
        if call.participant is None:
            return
        with self.lock:
            conference = self.conferences.get(call.participant.get("conference", ""))
            if conference is None:
                return
            participant = conference.participants.pop(call.sid, None)
            if participant is not None:
                participant.status = "failed"
            if conference.status == "init" and not conference.participants:
                conference.status = "completed"
                conference.reason_ended = "last-participant-left"

    def participant_or_404(
        self, conference_ident: str, ident: str
    ) -> tuple[Conference, Participant]:
        """A participant by call SID or label."""
        with self.lock:
            conference = self.conference_by_ident(conference_ident)
            if conference is None:
                raise GatewayError(
                    404,
                    20404,
                    f"The requested resource /Conferences/{conference_ident} was not found",
                )
            participant = conference.participants.get(ident) or next(
                (p for p in conference.participants.values() if p.label and p.label == ident), None
            )
            if participant is None:
                raise GatewayError(
                    404,
                    20404,
                    f"The requested resource /Conferences/{conference.sid}/Participants/{ident} was not found",
                )
            return conference, participant

    def update_participant(
        self, conference: Conference, participant: Participant, form: dict[str, str]
    ) -> None:
        """Participant update: Hold/HoldUrl, Muted, AnnounceUrl, EndConferenceOnExit."""
        with self.lock:
            call = self.calls[participant.call_sid]
            if "Muted" in form:
                muted = form["Muted"].lower() == "true"
                if muted != participant.muted:
                    participant.muted = muted
                    self.add_event(
                        call, "note", "你已被静音 (muted)" if muted else "已取消静音 (unmuted)"
                    )
                    self.conference_event(
                        conference,
                        "participant-mute" if muted else "participant-unmute",
                        participant,
                    )
            if "HoldUrl" in form:
                participant.hold_url = form["HoldUrl"]
            if "HoldMethod" in form:
                participant.hold_method = form["HoldMethod"].upper()
            if "Hold" in form:
                hold = form["Hold"].lower() == "true"
                if hold != participant.hold:
                    participant.hold = hold
                    self.conference_event(
                        conference,
                        "participant-hold" if hold else "participant-unhold",
                        participant,
                    )
                    self.post(participant.call_sid, "conf_update")
            if "EndConferenceOnExit" in form:
                participant.end_conference_on_exit = form["EndConferenceOnExit"].lower() == "true"
            if "Coaching" in form:
                participant.coaching = form["Coaching"].lower() == "true"
            if "CallSidToCoach" in form:
                participant.call_sid_to_coach = form["CallSidToCoach"] or None
            participant.updated_at = self.clock.now()
            if form.get("AnnounceUrl"):
                self.announce(
                    conference,
                    [participant.call_sid],
                    form["AnnounceUrl"],
                    form.get("AnnounceMethod", "POST"),
                )

    def kick_participant(self, conference: Conference, participant: Participant) -> None:
        """Participant delete: the call leaves the room and goes on after its <Dial>."""
        with self.lock:
            if participant.status != "connected":
                conference.participants.pop(participant.call_sid, None)
                self.hang_up(
                    participant.call_sid, reason="removed from the conference", by_phone=False
                )
                return
            self.leave_conference(conference, participant.call_sid, "participant_kicked")
            self.post(participant.call_sid, "conf_end")

    def announce(self, conference: Conference, call_sids: list[str], url: str, method: str) -> None:
        """AnnounceUrl: fetch TwiML once (asynchronously) and let the participants hear it."""

        def job() -> None:
            """Fetch the announcement and add its prompts to each participant's transcript."""
            params = [("AccountSid", self.config.account_sid), ("ConferenceSid", conference.sid),
                      ("FriendlyName", conference.friendly_name)]  # fmt: skip
            exchange = self._job_webhook(
                "announce", url, method, params, conference_sid=conference.sid
            )
            try:
                if not exchange.ok:
                    raise tw.TwimlError(11200, f"HTTP {exchange.status_code or exchange.error}")
                verbs = tw.parse_document(exchange.response_body)
            except tw.TwimlError as exc:
                self.add_problem(
                    "error", str(exc.code), f"announcement failed: {exc.message}", url=url
                )
                return
            with self.lock:
                for sid in call_sids:
                    call = self.calls.get(sid)
                    if call is None or call.is_ended:
                        continue
                    for verb in verbs:
                        if verb.tag == "Say":
                            speech = tw.speech_of_say(verb)
                            self.add_event(
                                call, "say", speech.text, language=speech.language,
                                speech_lang=tw.browser_language(speech.language),
                                rate=speech.rate, segments=[s.as_dict() for s in speech.segments],
                            )  # fmt: skip
                        elif verb.tag == "Play":
                            self.add_event(call, "play", verb.text or "", url=verb.text)

        self.jobs.schedule(0, job)

    def conference_event(
        self,
        conference: Conference,
        event: str,
        participant: Participant | None = None,
        **extra: str,
    ) -> None:
        """Queue a conference status callback if the conference asked for this event."""
        with self.lock:
            word = CONFERENCE_EVENT_WORDS.get(event, event)
            if not conference.status_callback or word not in conference.status_callback_events:
                return
            params = [
                ("AccountSid", self.config.account_sid),
                ("ConferenceSid", conference.sid),
                ("FriendlyName", conference.friendly_name),
                ("SequenceNumber", str(conference.sequence_number)),
                ("StatusCallbackEvent", event),
                ("Timestamp", rfc2822(self.clock.now()) or ""),
            ]
            conference.sequence_number += 1
            if participant is not None:
                params += [
                    ("CallSid", participant.call_sid),
                    ("Coaching", _bool(participant.coaching)),
                    ("EndConferenceOnExit", _bool(participant.end_conference_on_exit)),
                    ("Hold", _bool(participant.hold)),
                    ("Muted", _bool(participant.muted)),
                    ("StartConferenceOnEnter", _bool(participant.start_conference_on_enter)),
                ]
                if participant.label:
                    params.append(("ParticipantLabel", participant.label))
            params += list(extra.items())
            url, method = conference.status_callback, conference.status_callback_method
            self.jobs.schedule(0, lambda: self._job_webhook("conference-status", url, method, params,
                                                            conference_sid=conference.sid))  # fmt: skip

    def conference_summary_text(self, conference: Conference, my_sid: str) -> str:
        """ "In the conference with ..." for a participant's transcript."""
        with self.lock:
            others = [
                (self.calls[p.call_sid].phone or p.call_sid) + (" (保持 hold)" if p.hold else "")
                for p in conference.connected() if p.call_sid != my_sid and p.call_sid in self.calls
            ]  # fmt: skip
        if not others:
            return f"会议 {conference.friendly_name}: 只有你一人 (conference: only you)"
        return f"会议 {conference.friendly_name}: 与 {', '.join(others)} 通话中 (connected)"

    def _job_webhook(self, kind: str, url: str, method: str, params: list[tuple[str, str]], *,
                     message_sid: str | None = None, conference_sid: str | None = None) -> Exchange:  # fmt: skip
        """Send a webhook from the job runner thread and record it."""
        exchange = self.new_exchange(kind, url, method, params, message_sid=message_sid,
                                     conference_sid=conference_sid)  # fmt: skip
        assert self.jobs.client is not None
        self.jobs.client.send(exchange)
        if kind.endswith("status"):
            exchange.note = "status callback: the body is ignored"
        self.record_exchange(exchange)
        if not exchange.ok and kind != "sms":
            self.add_problem(
                "warning",
                "11200",
                f"{kind} webhook failed: {exchange.error or exchange.status_code}",
                url=exchange.url,
            )
        return exchange

    # ------------------------------------------------------------------ recordings

    def add_recording(self, call: Call, text: str, duration: int) -> Recording:
        """Keep what the caller "recorded"."""
        with self.lock:
            recording = Recording(new_sid("RE"), call.sid, text, duration, self.clock.now())
            self.recordings[recording.sid] = recording
            return recording

    def delete_recording(self, sid: str) -> bool:
        """Recordings(sid).delete: False when there is no such recording."""
        with self.lock:
            return self.recordings.pop(sid, None) is not None

    def recording_url(self, sid: str) -> str:
        """Where the app can fetch a recording (its text; `.wav`: a generated WAV)."""
        return f"{self.config.public_url}/2010-04-01/Accounts/{self.config.account_sid}/Recordings/{sid}"

    # ------------------------------------------------------------------ SMS

    def send_rest_message(self, *, to: str, from_: str, body: str, messaging_service_sid: str | None,
                          status_callback: str | None) -> Message:  # fmt: skip
        """Messages.create: queued now, then sent and delivered (with status callbacks)."""
        with self.lock:
            if (to, from_ or self.config.lines[0]) in self.opted_out:
                raise GatewayError(400, 21610, "Attempt to send to unsubscribed recipient")
            now = self.clock.now()
            # A Messaging Service picks the sender itself: the first line here.
            status = "accepted" if messaging_service_sid and not from_ else "queued"
            from_ = from_ or self.config.lines[0]
            message = Message(
                sid=new_sid("SM"), account_sid=self.config.account_sid, from_=from_, to=to,
                body=body, direction="outbound-api", created_at=now, updated_at=now,
                status=status,
                num_segments=sms_segments(body), messaging_service_sid=messaging_service_sid,
                status_callback=status_callback,
            )  # fmt: skip
            self.messages[message.sid] = message
            self.jobs.schedule(0, lambda: self._deliver(message))
            return message

    def _deliver(self, message: Message) -> None:
        """Move an outgoing message through sent and delivered, calling back each time."""
        for status in ("sent", "delivered"):
            with self.lock:
                message.status = status
                message.updated_at = self.clock.now()
                if status == "sent":
                    message.sent_at = message.updated_at
            if message.status_callback:
                params = [
                    ("AccountSid", message.account_sid),
                    ("ApiVersion", API_VERSION),
                    ("From", message.from_),
                    ("MessageSid", message.sid),
                    ("MessageStatus", status),
                    ("SmsSid", message.sid),
                    ("SmsStatus", status),
                    ("To", message.to),
                ]
                if message.messaging_service_sid:
                    params.append(("MessagingServiceSid", message.messaging_service_sid))
                self._job_webhook(
                    "sms-status", message.status_callback, "POST", params, message_sid=message.sid
                )

    def send_phone_message(self, from_: str, to: str, body: str) -> Message:
        """A dev phone texts a line: Twilio posts it to the line's messaging webhook."""
        if to not in self.config.lines:
            raise GatewayError(404, 21211, f"{to} is not a hotline number here")
        with self.lock:
            now = self.clock.now()
            message = Message(
                sid=new_sid("SM"), account_sid=self.config.account_sid, from_=from_, to=to,
                body=body, direction="inbound", created_at=now, updated_at=now,
                status="received", sent_at=now, num_segments=sms_segments(body),
            )  # fmt: skip
            self.messages[message.sid] = message
            keyword = body.strip().upper()
            opt = None
            if keyword in OPT_OUT_WORDS:
                self.opted_out.add((from_, to))
                opt = "STOP"
            elif keyword in OPT_IN_WORDS:
                self.opted_out.discard((from_, to))
                opt = "START"
            if opt:
                self._store_reply(to, from_, OPT_OUT_REPLY if opt == "STOP" else OPT_IN_REPLY)
        self.jobs.schedule(0, lambda: self._post_incoming_sms(message, opt))
        return message

    def _post_incoming_sms(self, message: Message, opt: str | None) -> None:
        """Deliver an incoming SMS to the app and send any <Message> replies it returns."""
        params = [
            ("AccountSid", message.account_sid),
            ("ApiVersion", API_VERSION),
            ("Body", message.body),
            ("From", message.from_),
            ("MessageSid", message.sid),
            ("NumMedia", "0"),
            ("NumSegments", str(message.num_segments)),
            ("SmsMessageSid", message.sid),
            ("SmsSid", message.sid),
            ("SmsStatus", "received"),
            ("To", message.to),
        ]
        if opt:
            params.append(("OptOutType", opt))
        exchange = self._job_webhook(
            "sms", self.config.sms_url, "POST", params, message_sid=message.sid
        )
        if exchange.error or not exchange.ok:
            self.add_problem("error", "11200", f"the SMS webhook failed: {exchange.error or exchange.status_code}",
                             url=exchange.url, detail="Twilio logs the error; the sender gets no reply")  # fmt: skip
            return
        if not exchange.response_body.strip():
            return
        try:
            verbs = tw.parse_document(exchange.response_body)
        except tw.TwimlError as exc:
            self.add_problem("error", str(exc.code), f"SMS reply: {exc.message}", url=exchange.url)
            return
        for verb in verbs:
            if verb.tag != "Message":
                self.add_problem(
                    "warning",
                    "12200",
                    f"<{verb.tag}> in a messaging response is not emulated",
                    url=exchange.url,
                )
                continue
            body_element = verb.find("Body")
            text = (body_element.text if body_element is not None else verb.text) or ""
            with self.lock:
                if (verb.get("to") or message.from_, message.to) in self.opted_out:
                    self.add_problem(
                        "warning",
                        "21610",
                        "reply to an unsubscribed recipient dropped",
                        url=exchange.url,
                    )
                    continue
            self._store_reply(
                verb.get("from") or message.to, verb.get("to") or message.from_, text.strip()
            )

    def _store_reply(self, from_: str, to: str, body: str) -> Message:
        """A reply that reaches the phone at once (TwiML <Message> or Twilio's opt-out text)."""
        with self.lock:
            now = self.clock.now()
            message = Message(
                sid=new_sid("SM"), account_sid=self.config.account_sid, from_=from_, to=to,
                body=body, direction="outbound-reply", created_at=now, updated_at=now,
                status="delivered", sent_at=now, num_segments=sms_segments(body),
            )  # fmt: skip
            self.messages[message.sid] = message
            return message

    def message_or_404(self, sid: str) -> Message:
        """The message with this SID, or Twilio's 20404."""
        message = self.messages.get(sid)
        if message is None:
            raise GatewayError(404, 20404, f"The requested resource /Messages/{sid} was not found")
        return message

    # ------------------------------------------------------------------ time and idleness

    def is_idle(self) -> bool:
        """Every call waits on something outside the gateway and no job is due (lock held)."""
        now = self.clock.now()
        return (
            all(actor.is_settled(now) for actor in self.actors.values())
            and self.jobs.is_idle(now)
            and not self.external_busy()
        )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until `is_idle` (True) or `timeout` real seconds (False)."""
        limit = time.monotonic() + timeout
        with self.lock:
            while not self.is_idle():
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.05))
            return True

    def wait_settled(self, sid: str, timeout: float = 10.0) -> bool:
        """Block until one call waits on something outside itself (or has ended)."""
        limit = time.monotonic() + timeout
        with self.lock:
            actor = self.actors.get(sid)
            if actor is None:
                return True
            while not actor.is_settled(self.clock.now()):
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.05))
            return True

    def advance(self, seconds: float, *, timeout: float = 30.0) -> float:
        """Manual clock: move time forward, firing every timer in order, waiting in between."""
        if not isinstance(self.clock, ManualClock):
            raise GatewayError(409, 20409, "advance needs GATEWAY_CLOCK=manual")
        with self.lock:
            target = self.clock.now() + max(seconds, 0.0)
        while True:
            self.wait_idle(timeout)
            with self.lock:
                deadlines = [
                    a.deadline
                    for a in self.actors.values()
                    if not a.finished and a.deadline is not None
                ]
                if self.jobs.next_deadline() is not None:
                    deadlines.append(self.jobs.next_deadline())
                due = [d for d in deadlines if d <= target]
                step = min(due) if due else target
                self.clock.set(max(step, self.clock.now()))
                self._notify_all()
                if not due:
                    break
        self.wait_idle(timeout)
        return self.clock.now()

    def _notify_all(self) -> None:
        """Wake every waiting thread so it re-reads the clock (lock held)."""
        for actor in self.actors.values():
            actor.cond.notify_all()
        self.jobs.cond.notify_all()
        self.changed.notify_all()

    def shutdown(self) -> None:
        """Stop every thread without sending anything more."""
        with self.lock:
            self.stopped = True
            self._notify_all()
            threads = [a.thread for a in self.actors.values() if a.thread is not None]
            if self.jobs.thread is not None:
                threads.append(self.jobs.thread)
        # Bounded in total: a call stuck in a slow webhook must not hold up the exit.
        limit = time.monotonic() + 5.0
        for thread in threads:
            thread.join(timeout=max(0.0, limit - time.monotonic()))

    def reset(self) -> None:
        """Forget calls that are over, messages and logs (live calls are hung up first)."""
        with self.lock:
            for sid, call in list(self.calls.items()):
                if not call.is_ended:
                    self.hang_up(sid, reason="gateway reset", by_phone=False)
        self.wait_idle(10)
        with self.lock:
            for sid in [sid for sid, actor in self.actors.items() if actor.finished]:
                self.actors.pop(sid)
                self.calls.pop(sid, None)
            self.calls_by_phone = {
                number: [sid for sid in sids if sid in self.calls]
                for number, sids in self.calls_by_phone.items()
            }
            self.messages.clear()
            self.recordings.clear()
            self.rest_log.clear()
            self.problems.clear()
            self.exchanges.clear()
            self.opted_out.clear()
            for conference_sid in [
                c.sid for c in self.conferences.values() if c.status == "completed"
            ]:
                self.conferences.pop(conference_sid)

    # ------------------------------------------------------------------ views for the JSON API

    def call_view(
        self, call: Call, *, transcript: bool = False, exchanges: bool = False
    ) -> dict[str, Any]:
        """A call as the dev phone and scripts see it."""
        with self.lock:
            queue = self.queues.get(call.queue_sid or "")
            queue_view = None
            if queue is not None:
                position = next(
                    (i + 1 for i, m in enumerate(queue.members) if m.call_sid == call.sid), None
                )
                queue_view = {"sid": queue.sid, "name": queue.friendly_name, "position": position,
                              "size": len(queue.members)}  # fmt: skip
            conference = self.conferences.get(call.conference_sid or "")
            view: dict[str, Any] = {
                "sid": call.sid,
                "from": call.from_,
                "to": call.to,
                "direction": call.direction,
                "status": call.status,
                "activity": call.activity,
                "phone": call.phone,
                "parent_call_sid": call.parent_call_sid,
                "created_at": iso8601(call.created_at),
                "answered_at": iso8601(call.answered_at),
                "ended_at": iso8601(call.ended_at),
                "duration": call.duration,
                "end_reason": call.end_reason,
                "expecting": call.expecting,
                "queue": queue_view,
                "connected_with": [
                    {"call_sid": sid, "number": self.calls[sid].phone}
                    for sid in call.bridged_with
                    if sid in self.calls
                ],
                "conference": self.conference_view(conference) if conference else None,
                "error": call.error,
            }
            if transcript:
                view["transcript"] = [e.as_dict() for e in call.transcript]
            if exchanges:
                view["exchanges"] = [e.as_dict() for e in call.exchanges]
            return view

    def conference_view(self, conference: Conference) -> dict[str, Any]:
        """A conference and who is in it."""
        with self.lock:
            return {
                "sid": conference.sid,
                "name": conference.friendly_name,
                "status": conference.status,
                "participants": [
                    {
                        "call_sid": p.call_sid,
                        "number": self.calls[p.call_sid].phone
                        if p.call_sid in self.calls
                        else None,
                        "label": p.label,
                        "status": p.status,
                        "muted": p.muted,
                        "hold": p.hold,
                    }
                    for p in conference.participants.values()
                ],
            }

    def message_view(self, message: Message) -> dict[str, Any]:
        """An SMS as the dev phone shows it."""
        return {
            "sid": message.sid,
            "from": message.from_,
            "to": message.to,
            "body": message.body,
            "direction": message.direction,
            "status": message.status,
            "segments": message.num_segments,
            "created_at": iso8601(message.created_at),
            "status_callback": message.status_callback,
        }

    def phone_state(self, number: str, since: int = 0) -> dict[str, Any]:
        """Everything a dev phone page needs in one poll."""
        with self.lock:
            sids = self.calls_by_phone.get(number, [])
            calls = [self.calls[sid] for sid in sids if sid in self.calls]
            ringing = [c for c in calls if c.status == "ringing" and c.direction != "inbound"]
            active = [
                c for c in calls if not c.is_ended and c not in ringing and c.status != "queued"
            ]
            events = [e.as_dict() for c in calls for e in c.transcript if e.id > since]
            events.sort(key=lambda e: e["id"])
            last = calls[-1] if calls else None
            return {
                "number": number,
                "registered": self.phone_is_registered(number),
                "now": iso8601(self.clock.now()),
                "call": self.call_view(active[-1]) if active else None,
                "last_call": self.call_view(last) if last else None,
                "incoming": [{"call_sid": c.sid, "from": c.from_, "to": c.to} for c in ringing],
                "events": events,
                "last_event_id": max([e["id"] for e in events], default=since),
                "messages": [
                    self.message_view(m)
                    for m in self.messages.values()
                    if number in (m.to, m.from_) and m.status not in ("queued", "accepted")
                ],  # fmt: skip
                "problems": len([p for p in self.problems if p.severity == "error"]),
            }


def _bool(value: bool) -> str:
    """Twilio's spelling of booleans in webhooks."""
    return "true" if value else "false"


def inline_twiml_ref(twiml: str) -> DocRef:
    """A DocRef for TwiML given inline (REST Twiml parameter)."""
    return DocRef(twiml=twiml, kind="inline")


def parse_twiml_or_error(body: str) -> list[ET.Element]:
    """Validate inline TwiML for the REST API (Twilio checks it at request time)."""
    try:
        return tw.parse_document(body)
    except tw.TwimlError as exc:
        raise GatewayError(400, 21232 if exc.code == 11750 else 12100, exc.message) from exc
