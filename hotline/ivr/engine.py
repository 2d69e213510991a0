"""The IVR engine: a pure function from (script, call state, input) to the next step.

No database, no Flask, no Twilio here, so every elderly-first rule is enforced (and tested) in
one place whatever the script says:
- a person is one key away (0) and silence or nonsense twice reaches a person;
- `*` repeats the current prompt and is never counted as a mistake;
- a call that keeps going round the menus is sent to a person after `max_steps` inputs;
- a known caller is greeted by name; a caller who asked for it goes straight to a person;
- when the line is closed, wherever the caller would reach a person they reach the voicemail;
- emergency words are heard at every prompt: one sentence with the number to dial (120, 119,
  110), then a person at once, at emergency priority;
- a blocked caller hears a short polite greeting and the voicemail (no queue place, no reason);
- a consented family contact is greeted as calling for their elder, and may ask for a callback
  to the elder by key or by word when they hold that permission.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace

from hotline.ivr.schema import (
    FAMILY_CALLBACK_WORDS,
    GATHER_KINDS,
    EmergencyKind,
    Node,
    Script,
    ScriptSet,
)

#: Spoken words that mean "say that again", per language, beside the `*` key.
REPEAT_WORDS = {
    "zh-CN": ("重复", "再说一遍", "再说一次", "没听清", "再讲一遍"),
    "yue-HK": ("重复", "再讲一次", "再讲一遍", "听唔清"),
    "en-US": ("repeat", "say again", "again"),
}
#: Speech below this confidence is treated as not understood rather than guessed at.
MIN_SPEECH_CONFIDENCE = 0.3
#: Safety net against a mis-built script: nodes visited in one step before giving up.
MAX_NODES_PER_STEP = 25


@dataclass(frozen=True)
class CallContext:
    """What the engine needs to know about the caller and the line at this moment."""

    is_open: bool = True
    caller_name: str | None = None
    #: Per-caller overrides (hard of hearing: slower speech, more time to press a key).
    rate_percent: int | None = None
    timeout_seconds: int | None = None
    #: The caller's language is stored on their profile: do not offer the other languages.
    language_known: bool = False
    #: A supervisor's block is in force on this caller (the service checks its expiry).
    blocked: bool = False
    #: A consented family contact is calling: how the line names their elder ("王阿姨").
    proxy_for: str | None = None
    #: ...and they may ask for a callback to the elder.
    proxy_may_request_callbacks: bool = False
    #: An elder enrolled in check-ins whose check-in today is still to come: offered the
    #: script's checkin_key ("check in now").
    checkin_offer: bool = False
    #: The line records conversations with operators: the greeting says so (recording_notice;
    #: `flask ivr check` counts it in the speech budget).
    is_recorded: bool = False


@dataclass(frozen=True)
class CallState:
    """Where a call is in its script, stored on the Call row between webhooks."""

    language: str
    node: str | None = None
    failures: int = 0
    steps: int = 0


@dataclass(frozen=True)
class SayAction:
    text: str
    language: str
    voice: str
    rate_percent: int
    audio_url: str | None = None


@dataclass(frozen=True)
class GatherAction:
    node_id: str
    language: str
    timeout_seconds: int
    hints: tuple[str, ...]
    prompts: tuple[SayAction, ...]


@dataclass(frozen=True)
class EnqueueAction:
    language: str
    scenario: str | None
    #: Why the caller is going to a person: "chosen", "key_0", "silence_twice",
    #: "invalid_twice", "loop_cap", "straight_to_person", "emergency".
    reason: str
    #: "emergency" when the caller said an emergency word: the service queues them as urgent.
    priority: str | None = None


@dataclass(frozen=True)
class RecordAction:
    language: str
    max_length_seconds: int


@dataclass(frozen=True)
class HangupAction:
    pass


Action = SayAction | GatherAction | EnqueueAction | RecordAction | HangupAction


@dataclass
class Step:
    """The result of one engine call: what to play and the new call state, plus effects."""

    state: CallState
    actions: list[Action] = field(default_factory=list)
    #: Scenario to record on the call (the latest choice wins).
    scenario: str | None = None
    #: The caller asked to be put straight through to a person from now on.
    set_straight_to_person: bool = False
    #: The caller chose another language.
    language_changed: bool = False
    #: One entry for the call's menu path: node, what came in, what happened.
    path_entry: dict | None = None
    #: The kind of emergency the caller's words revealed (medical, fire, police).
    emergency: str | None = None
    #: A family contact asked for a callback to their elder.
    callback_for_elder: bool = False
    #: What the caller said at a "no menu" intake prompt, kept for the operator.
    caller_words: str | None = None
    #: An enrolled elder pressed the checkin_key: today's check-in is confirmed.
    checked_in: bool = False

    @property
    def enqueue(self) -> EnqueueAction | None:
        return next((a for a in self.actions if isinstance(a, EnqueueAction)), None)

    @property
    def record(self) -> RecordAction | None:
        return next((a for a in self.actions if isinstance(a, RecordAction)), None)


def _say(script: Script, ctx: CallContext, text: str, audio_url: str | None = None) -> SayAction:
    return SayAction(
        text=text,
        language=script.language,
        voice=script.voice,
        rate_percent=ctx.rate_percent or script.rate_percent,
        audio_url=audio_url,
    )


def _prompt(script: Script, ctx: CallContext, node: Node) -> SayAction:
    return _say(script, ctx, node.prompt.text, node.prompt.audio_url)


def _timeout(script: Script, ctx: CallContext, node: Node) -> int:
    # Every prompt waits 8-10 s (mission rule 4), the language offer too: a short wait there
    # cut off the slow callers it was meant to let through.
    base = node.timeout_seconds or script.input_timeout_seconds
    return max(base, ctx.timeout_seconds or 0)


def _gather(
    script: Script,
    ctx: CallContext,
    node: Node,
    before: list[SayAction],
    *,
    retry: bool = False,
) -> GatherAction:
    """Wait for input at `node`; `retry` plays the short prompt after a silence or mistake."""
    # Emergency words as hints too: recognising 救命 matters more than any menu word.
    hints = tuple(k for c in node.choices + node.languages for k in c.keywords) + tuple(
        w for kind in script.emergency for w in kind.words
    )
    if retry and node.retry_prompt is not None:
        prompts = [_say(script, ctx, node.retry_prompt.text, node.retry_prompt.audio_url)]
    else:
        prompts = [_prompt(script, ctx, node)]
        if node.languages_prompt is not None and not ctx.language_known and not retry:
            offer = node.languages_prompt
            prompts.append(_say(script, ctx, offer.text, offer.audio_url))
    return GatherAction(
        node_id=node.id,
        language=script.language,
        timeout_seconds=_timeout(script, ctx, node),
        hints=hints,
        prompts=tuple(before) + tuple(prompts),
    )


def _run(
    script: Script,
    ctx: CallContext,
    node_id: str,
    state: CallState,
    step: Step,
    *,
    reason: str = "chosen",
    scenario: str | None = None,
) -> Step:
    """Walk from `node_id` through nodes that need no input, until the call waits or ends."""
    pending: list[SayAction] = []
    current: str | None = node_id
    for _ in range(MAX_NODES_PER_STEP):
        node = script.nodes.get(current or "")
        if node is None:
            break
        if node.kind in ("say", "preference"):
            pending.append(_prompt(script, ctx, node))
            if node.kind == "preference":
                step.set_straight_to_person = True
            current = node.next
        elif node.kind == "hours":
            current = node.open if ctx.is_open else node.closed
        elif node.kind == "queue":
            if not ctx.is_open:
                current = script.closed_route
                continue
            if node.prompt.text or node.prompt.audio_url:
                pending.append(_prompt(script, ctx, node))
            step.actions.extend(pending)
            step.actions.append(
                EnqueueAction(
                    language=script.language,
                    scenario=node.scenario or scenario or step.scenario,
                    reason=reason,
                )
            )
            step.state = replace(state, language=script.language, node=node.id, failures=0)
            return step
        elif node.kind == "voicemail":
            step.actions.extend(pending)
            step.actions.append(_prompt(script, ctx, node))
            step.actions.append(RecordAction(script.language, node.max_length_seconds))
            step.actions.append(_say(script, ctx, script.messages["voicemail_thanks"]))
            step.actions.append(HangupAction())
            step.state = replace(state, language=script.language, node=node.id, failures=0)
            return step
        elif node.kind == "goodbye":
            step.actions.extend(pending)
            step.actions.append(_prompt(script, ctx, node))
            step.actions.append(HangupAction())
            step.state = replace(state, language=script.language, node=node.id, failures=0)
            return step
        else:  # menu, language, ask: wait for input
            step.actions.append(_gather(script, ctx, node, pending))
            step.state = replace(state, language=script.language, node=node.id, failures=0)
            return step
    # Only a broken script gets here (the checker rejects such scripts): a person, always.
    return to_person(script, ctx, state, step, reason="loop_cap", prefix=pending)


def to_person(
    script: Script,
    ctx: CallContext,
    state: CallState,
    step: Step | None = None,
    *,
    reason: str,
    prefix: list[SayAction] | None = None,
) -> Step:
    """Send the caller to a person (or, when the line is closed, to the voicemail)."""
    step = step or Step(state=state)
    if not ctx.is_open:
        step.actions.extend(prefix or [])
        return _run(script, ctx, script.closed_route, state, step, reason=reason)
    step.actions.extend(prefix or [])
    step.actions.append(_say(script, ctx, script.messages["to_person"]))
    step.actions.append(EnqueueAction(script.language, step.scenario, reason))
    step.state = replace(state, language=script.language, node=None, failures=0)
    return step


def voicemail_node(script: Script) -> str:
    """The voicemail node at the end of the script's closed route (straight to the message)."""
    current: str | None = script.closed_route
    for _ in range(MAX_NODES_PER_STEP):
        node = script.nodes.get(current or "")
        if node is None or node.kind == "voicemail":
            break
        current = node.next or node.closed
    return current or script.closed_route


def _emergency_step(
    script: Script, ctx: CallContext, state: CallState, step: Step, kind: EmergencyKind
) -> Step:
    """One sentence with the number to dial, then a person at once (urgent in the queue)."""
    step.emergency = kind.kind
    step.scenario = "emergency"
    sentence = _say(script, ctx, kind.say)
    step.actions.append(sentence)
    if not ctx.is_open:
        return _run(script, ctx, script.closed_route, state, step, reason="emergency")
    step.actions.append(
        EnqueueAction(script.language, "emergency", "emergency", priority="emergency")
    )
    step.state = replace(state, language=script.language, node=None, failures=0)
    return step


def _contains(said: str, word: str) -> bool:
    """Chinese: anywhere in what was heard; words in Latin letters: as whole words."""
    if word.isascii():
        spaced = " " + re.sub(r"[^a-z0-9]+", " ", said.lower()) + " "
        wanted = re.sub(r"[^a-z0-9]+", " ", word.lower()).strip()
        return bool(wanted) and f" {wanted} " in spaced
    cleaned = _clean(word)
    return bool(cleaned) and cleaned in _clean(said)


def match_emergency(script: Script, speech: str) -> EmergencyKind | None:
    """The emergency kind whose word the caller said (longest word wins), or None."""
    return match_emergency_kinds(script.emergency, speech)


def match_emergency_kinds(kinds: tuple[EmergencyKind, ...], speech: str) -> EmergencyKind | None:
    """The kind among `kinds` whose word was said (longest word wins), or None."""
    best: tuple[int, EmergencyKind] | None = None
    for kind in kinds:
        for word in kind.words:
            if _contains(speech, word) and (best is None or len(word) > best[0]):
                best = (len(word), kind)
    return best[1] if best else None


def _family_callback(script: Script, ctx: CallContext, state: CallState, step: Step) -> Step:
    """A family contact asked for a callback to their elder: confirm and say goodbye."""
    step.callback_for_elder = True
    text = script.message("family_callback_done").format(elder=ctx.proxy_for or "")
    step.actions.extend([_say(script, ctx, text), HangupAction()])
    step.state = replace(state, language=script.language, node=None, failures=0)
    return step


def begin(
    scripts: ScriptSet,
    line: str,
    language: str,
    ctx: CallContext,
    *,
    straight_to_person: bool = False,
) -> Step:
    """The first step of an inbound call."""
    script = _script(scripts, line, language)
    state = CallState(language=script.language)
    step = Step(state=state)
    if ctx.blocked:
        # Polite and short; no queue place, and nothing that tells them why.
        step.path_entry = {"node": None, "input": None, "result": "blocked"}
        step.actions.append(_say(script, ctx, script.message("blocked")))
        return _run(script, ctx, voicemail_node(script), state, step, reason="blocked")
    greeting = []
    if ctx.proxy_for:
        elder = ctx.proxy_for
        greeting.append(_say(script, ctx, script.message("greet_family").format(elder=elder)))
        if ctx.proxy_may_request_callbacks and script.family_callback_key:
            offer = script.message("family_callback_offer")
            text = offer.format(elder=elder, key=script.family_callback_key)
            greeting.append(_say(script, ctx, text))
    elif ctx.caller_name:
        greeting.append(
            _say(script, ctx, script.messages["greet_known"].format(name=ctx.caller_name))
        )
    if ctx.is_recorded and ctx.is_open:  # closed: nobody to talk to, nothing recorded
        greeting.append(_say(script, ctx, script.message("recording_notice")))
    if ctx.checkin_offer and script.checkin_key and not ctx.proxy_for:
        offer = script.message("checkin_offer").format(key=script.checkin_key)
        greeting.append(_say(script, ctx, offer))
    if straight_to_person:
        step.path_entry = {"node": None, "input": None, "result": "straight_to_person"}
        return to_person(script, ctx, state, step, reason="straight_to_person", prefix=greeting)
    step.path_entry = {"node": script.start, "input": None, "result": "start"}
    if ctx.proxy_for:
        # Shown to the operator: a family contact calling about this elder.
        step.path_entry["proxy_for"] = ctx.proxy_for
    _run(script, ctx, script.start, state, step)
    if greeting:
        _prepend(step, greeting)
    return step


def _prepend(step: Step, prompts: list[SayAction]) -> None:
    first = step.actions[0] if step.actions else None
    if isinstance(first, GatherAction):
        step.actions[0] = replace(first, prompts=tuple(prompts) + first.prompts)
    else:
        step.actions[:0] = prompts


def _script(scripts: ScriptSet, line: str, language: str) -> Script:
    script = scripts.get(line, language)
    if script is None:
        available = scripts.languages(line)
        if not available:
            raise LookupError(f"no IVR script for line '{line}'")
        script = scripts.get(line, "zh-CN" if "zh-CN" in available else available[0])
    assert script is not None
    return script


def _clean(text: str) -> str:
    """Lower-case, drop punctuation and spaces: "看病。" and "看 病" both become "看病"."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def match_speech(node: Node, speech: str) -> str | None:
    """Return the key of the choice whose keyword the caller said (longest keyword wins)."""
    said = _clean(speech)
    if not said:
        return None
    best: tuple[int, str] | None = None
    for choice in node.choices + node.languages:
        for keyword in choice.keywords:
            word = _clean(keyword)
            if word and word in said and (best is None or len(word) > best[0]):
                best = (len(word), choice.key)
    if best is None and re.fullmatch(r"\d", said):
        return said  # "一"/"1" spoken as a digit is transcribed as the digit
    return best[1] if best else None


def handle_input(
    scripts: ScriptSet,
    line: str,
    state: CallState,
    ctx: CallContext,
    *,
    node_id: str,
    digits: str | None,
    speech: str | None,
    confidence: float | None,
) -> Step:
    """Apply the caller's answer (keys, words, or nothing) at node `node_id`."""
    script = _script(scripts, line, state.language)
    node = script.nodes.get(node_id)
    if node is None or node.kind not in GATHER_KINDS:
        # A stale or unknown node (script changed mid-call): a person, never a dead end.
        step = Step(state=state)
        step.path_entry = {"node": node_id, "input": digits or speech, "result": "unknown_node"}
        return to_person(script, ctx, state, step, reason="invalid_twice")
    failures = state.failures if state.node == node_id else 0
    steps = state.steps + 1
    state = replace(state, node=node_id, failures=failures, steps=steps)
    step = Step(state=state)
    key = (digits or "").strip()[:1] or None
    heard = (speech or "").strip()
    if key is None and heard:
        if confidence is not None and confidence < MIN_SPEECH_CONFIDENCE:
            key = "?"
        elif any(_clean(w) in _clean(heard) for w in REPEAT_WORDS.get(script.language, ())):
            key = "*"
        else:
            key = match_speech(node, heard) or "?"
    entry = {"node": node_id, "input": (digits or heard or None), "result": ""}
    step.path_entry = entry

    # Heard at every prompt, before anything else (even a mumbled one: a false alarm costs an
    # urgent place in the queue, a missed one may cost a life).
    emergency = match_emergency(script, heard) if heard else None
    if emergency is not None:
        entry["result"] = f"emergency:{emergency.kind}"
        return _emergency_step(script, ctx, state, step, emergency)

    if steps > script.max_steps:
        entry["result"] = "loop_cap"
        return to_person(script, ctx, state, step, reason="loop_cap")

    if node.kind == "ask":
        # "No menu" intake: whatever was said (or nothing) goes to the operator, no branching.
        step.caller_words = heard or None
        entry["result"] = "noted" if heard else "no_words"
        return _run(script, ctx, node.next or script.closed_route, state, step)

    if (
        ctx.proxy_may_request_callbacks
        and script.family_callback_key
        and (
            (digits or "").strip()[:1] == script.family_callback_key
            or any(_contains(heard, w) for w in FAMILY_CALLBACK_WORDS.get(script.language, ()))
        )
    ):
        entry["result"] = "family_callback"
        return _family_callback(script, ctx, state, step)

    if (
        ctx.checkin_offer
        and script.checkin_key
        and (digits or "").strip()[:1] == script.checkin_key
    ):
        entry["result"] = "checked_in"
        step.checked_in = True
        step.actions.extend([_say(script, ctx, script.message("checkin_done")), HangupAction()])
        step.state = replace(state, language=script.language, node=None, failures=0)
        return step

    if node.kind == "language":
        choice = next((c for c in node.choices if c.key == key), None)
        if choice and choice.language and scripts.get(script.line, choice.language):
            other = scripts.get(script.line, choice.language)
            assert other is not None
            entry["result"] = f"language:{choice.language}"
            step.language_changed = True
            return _run(
                other, ctx, node.next or other.start, replace(state, language=other.language), step
            )
        entry["result"] = "language:kept"
        return _run(script, ctx, node.next or script.start, state, step)

    if key == "*":
        entry["result"] = "repeat"
        step.actions.append(_gather(script, ctx, node, []))
        return step

    offered = next((c for c in node.languages if c.key == key), None)
    other = scripts.get(script.line, offered.language) if offered and offered.language else None
    if offered is not None and other is not None:
        entry["result"] = f"language:{other.language}"
        step.language_changed = True
        target = node.id if node.id in other.nodes else other.start
        chosen = replace(ctx, language_known=True)  # just chosen: do not offer it again
        return _run(other, chosen, target, replace(state, language=other.language), step)

    choice = next((c for c in node.choices if c.key == key), None)
    if choice is not None:
        entry["result"] = f"choice:{choice.key}"
        if choice.scenario:
            step.scenario = choice.scenario
        reason = "key_0" if choice.key == "0" else "chosen"
        return _run(script, ctx, choice.next, state, step, reason=reason, scenario=choice.scenario)

    kind = "timeout" if key is None else "invalid"
    failures += 1
    state = replace(state, failures=failures)
    step.state = state
    if failures >= 2:
        entry["result"] = f"{kind}_twice"
        target = node.on_timeout if kind == "timeout" else node.on_invalid
        return _run(
            script,
            ctx,
            target or script.closed_route,
            state,
            step,
            reason=f"{'silence' if kind == 'timeout' else 'invalid'}_twice",
        )
    entry["result"] = kind
    step.actions.append(
        _gather(
            script, ctx, node, [_say(script, ctx, script.messages["not_understood"])], retry=True
        )
    )
    return step


def answer(
    scripts: ScriptSet,
    line: str,
    step: Step,
    ctx: CallContext,
    *,
    digits: str | None = None,
    speech: str | None = None,
    confidence: float | None = None,
) -> Step | None:
    """The next step when the caller answers the prompt `step` waits at (None: no prompt)."""
    gather = next((a for a in step.actions if isinstance(a, GatherAction)), None)
    if gather is None:
        return None
    return handle_input(
        scripts,
        line,
        step.state,
        ctx,
        node_id=gather.node_id,
        digits=digits,
        speech=speech,
        confidence=confidence,
    )
