"""Loading and validating IVR scripts.

`check_directory` returns every problem it finds, each naming the file and (where there is one)
the node, e.g. `main.zh-CN.yaml: node 'main_menu': menu has 5 choices; at most 4 are allowed`.
The rules enforce mission.md's elderly-first call design, so a script that would let an older
caller dead-end, loop or wait through deep menus cannot be deployed.

Beyond the graph, every script is played through the engine (`walk`): silence and an unknown
key must reach a person (closed: the voicemail) within SPEECH_BUDGET_SECONDS of estimated
speech (`speech_seconds`, SPEECH_RATE) at the script's rate, silence within 2 prompts. The
shared emergency words (emergency.yaml) and a script's own additions are checked too.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from hotline.ivr.schema import (
    CHECKIN_MESSAGES,
    LANGUAGES,
    NODE_KINDS,
    REQUIRED_MESSAGES,
    SCENARIOS,
    SPEC_VERSION,
    CheckinScript,
    Choice,
    EmergencyKind,
    Node,
    Prompt,
    Script,
    ScriptSet,
)

FILE_PATTERN = re.compile(
    r"^(?P<line>[a-z0-9_\-]+)\.(?P<language>[A-Za-z]{2,3}-[A-Za-z]{2})\.ya?ml$"
)
#: Key timeouts allowed for menus: Twilio's 5 s default cuts off slow callers (mission rule 4).
TIMEOUT_RANGE = (8, 10)
MAX_CHOICES = 4
MAX_MENU_LEVELS = 2
PROMPTED_KINDS = ("say", "menu", "language", "ask", "preference", "voicemail", "goodbye")
#: The shared emergency words and sentences (a script may add to them).
EMERGENCY_FILE = Path(__file__).with_name("emergency.yaml")
VALID_KEYS = set("0123456789")


class ScriptErrors(Exception):
    """Raised by load_scripts when the scripts directory has errors."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class _Reporter:
    def __init__(self, name: str):
        self.name = name
        self.errors: list[str] = []

    def file(self, message: str) -> None:
        self.errors.append(f"{self.name}: {message}")

    def node(self, node_id: str, message: str) -> None:
        self.errors.append(f"{self.name}: node '{node_id}': {message}")


def _prompt(raw: Any, language: str) -> Prompt | None:
    """Read `say`/`audio` into a Prompt; `say` may be text or a {language: text} mapping."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return Prompt(text=raw.strip())
    if isinstance(raw, dict):
        text = raw.get(language)
        return Prompt(text=text.strip()) if isinstance(text, str) else None
    return None


def _target(raw: dict, name: str, report: _Reporter) -> str | None:
    """A node id field; anything but a string is reported and ignored."""
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value
    report.node(raw["id"], f"{name} must be a node id, got {value!r}")
    return None


def parse_file(path: Path) -> tuple[Script | None, list[str]]:
    """Read one script file as the checker does (no graph checks): (script, errors)."""
    report = _Reporter(path.name)
    return _parse(path, report), report.errors


def _pacing(data: dict, report: _Reporter) -> tuple[int, int]:
    """The script's key timeout and speaking rate, within what older callers need."""
    timeout = data.get("input_timeout", 9)
    if not isinstance(timeout, int) or not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        report.file(
            f"input_timeout must be {TIMEOUT_RANGE[0]}-{TIMEOUT_RANGE[1]} seconds for older "
            f"callers, got {timeout!r}"
        )
        timeout = 9
    rate = data.get("rate", 85)
    if not isinstance(rate, int) or not 50 <= rate <= 100:
        report.file(f"rate must be a percentage from 50 to 100, got {rate!r}")
        rate = 85
    return timeout, rate


def _parse(path: Path, report: _Reporter) -> Script | None:
    """Parse one file into a Script, reporting structural problems."""
    match = FILE_PATTERN.match(path.name)
    if not match:
        report.file("file name must be <line>.<language>.yaml, e.g. main.zh-CN.yaml")
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        report.file(f"not valid YAML{where}")
        return None
    if not isinstance(data, dict):
        report.file("must be a mapping with spec_version, start and nodes")
        return None
    if data.get("spec_version") != SPEC_VERSION:
        report.file(f"spec_version must be {SPEC_VERSION}, got {data.get('spec_version')!r}")
        return None
    language = data.get("language")
    if language not in LANGUAGES:
        report.file(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        return None
    if language != match["language"] or data.get("line") != match["line"]:
        report.file(
            f"line/language ({data.get('line')!r}, {language!r}) do not match the file name"
        )
        return None
    messages = data.get("messages") or {}
    if not isinstance(messages, dict):
        report.file("messages must be a mapping")
        messages = {}
    for name in REQUIRED_MESSAGES:
        if not isinstance(messages.get(name), str) or not messages[name].strip():
            report.file(f"message '{name}' is missing")
    timeout, rate = _pacing(data, report)
    max_steps = data.get("max_steps", 12)
    if not isinstance(max_steps, int) or max_steps < 2:
        report.file(f"max_steps must be a whole number of at least 2, got {max_steps!r}")
        max_steps = 12

    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        report.file("nodes must be a non-empty list")
        return None
    nodes: dict[str, Node] = {}
    broken: set[str] = set()
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_nodes, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            report.file(f"node #{index} has no id")
            continue
        node_id = raw["id"]
        if node_id in first_seen:
            report.node(
                node_id, f"duplicate node id (first defined as node #{first_seen[node_id]})"
            )
            continue
        first_seen[node_id] = index
        kind = raw.get("type")
        if kind not in NODE_KINDS:
            report.node(node_id, f"unknown type {kind!r}; expected one of {', '.join(NODE_KINDS)}")
            broken.add(node_id)
            continue
        prompt = _prompt(raw.get("say"), language)
        audio = raw.get("audio")
        if audio is not None and not isinstance(audio, str):
            report.node(node_id, "audio must be a URL")
            audio = None
        if kind in PROMPTED_KINDS and not audio and (prompt is None or not prompt.text):
            report.node(node_id, f"no prompt in {language}")
        choices = _choices(raw.get("choices"), node_id, report)
        languages = _choices(raw.get("languages"), node_id, report)
        retry = _prompt(raw.get("retry_say"), language)
        offer = _prompt(raw.get("languages_say"), language)
        node_timeout = raw.get("timeout")
        nodes[node_id] = Node(
            id=node_id,
            kind=kind,
            prompt=Prompt(text=prompt.text if prompt else "", audio_url=audio),
            next=_target(raw, "next", report),
            choices=tuple(choices),
            on_timeout=_target(raw, "on_timeout", report),
            on_invalid=_target(raw, "on_invalid", report),
            open=_target(raw, "open", report),
            closed=_target(raw, "closed", report),
            scenario=raw.get("scenario"),
            max_length_seconds=int(raw.get("max_length", 120)),
            timeout_seconds=node_timeout if isinstance(node_timeout, int) else None,
            retry_prompt=retry if retry and retry.text else None,
            languages=tuple(languages),
            languages_prompt=offer if offer and offer.text else None,
        )
    start = data.get("start")
    closed_route = data.get("closed_route")
    family_key = data.get("family_callback_key")
    if family_key is not None and str(family_key) not in VALID_KEYS:
        report.file(f"family_callback_key must be a single digit, got {family_key!r}")
        family_key = None
    checkin_key = data.get("checkin_key")
    if checkin_key is not None and (
        str(checkin_key) not in VALID_KEYS or str(checkin_key) in ("0", str(family_key))
    ):
        report.file(f"checkin_key must be a free single digit (not 0), got {checkin_key!r}")
        checkin_key = None
    return Script(
        path=str(path),
        line=match["line"],
        language=language,
        spec_version=SPEC_VERSION,
        voice=str(data.get("voice", "")),
        rate_percent=rate,
        input_timeout_seconds=timeout,
        max_steps=max_steps,
        start=start if isinstance(start, str) else "",
        closed_route=closed_route if isinstance(closed_route, str) else "",
        messages={k: str(v) for k, v in messages.items()},
        nodes=nodes,
        broken_ids=frozenset(broken),
        emergency=_emergency(data.get("emergency"), language, report),
        family_callback_key=str(family_key) if family_key is not None else None,
        checkin_key=str(checkin_key) if checkin_key is not None else None,
    )


def _choices(raw_list: Any, node_id: str, report: _Reporter) -> list[Choice]:
    """Read a node's `choices` (or `languages`) list."""
    choices: list[Choice] = []
    for raw_choice in raw_list or []:
        if not isinstance(raw_choice, dict):
            report.node(node_id, "each choice must be a mapping with key and next")
            continue
        keywords = raw_choice.get("keywords") or []
        if isinstance(keywords, str):
            keywords = [keywords]
        choices.append(
            Choice(
                key=str(raw_choice.get("key", "")),
                next=raw_choice["next"] if isinstance(raw_choice.get("next"), str) else "",
                keywords=tuple(str(k) for k in keywords),
                label=str(raw_choice.get("label", "")),
                scenario=raw_choice.get("scenario"),
                language=raw_choice.get("language"),
            )
        )
    return choices


def _words(raw: Any) -> tuple[str, ...] | None:
    """A list of non-empty words, or None when it is anything else."""
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        return None
    return tuple(w.strip() for w in raw)


def read_emergency_file(path: Path = EMERGENCY_FILE) -> tuple[dict, list[str]]:
    """The shared emergency words: ({kind: {language: (say, words)}}, errors).

    Every kind needs one sentence and at least one word in each of LANGUAGES.
    """
    report = _Reporter(path.name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        report.file("cannot be read as YAML")
        return {}, report.errors
    kinds = data.get("kinds") if isinstance(data, dict) else None
    if not isinstance(kinds, dict) or not kinds:
        report.file("kinds must be a mapping of emergency kinds")
        return {}, report.errors
    table: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    for kind, per_language in kinds.items():
        table[kind] = {}
        for language in LANGUAGES:
            entry = per_language.get(language) if isinstance(per_language, dict) else None
            entry = entry if isinstance(entry, dict) else {}
            say, words = entry.get("say"), _words(entry.get("words"))
            if not isinstance(say, str) or not say.strip():
                report.file(f"emergency '{kind}' has no sentence in {language}")
            elif not words:
                report.file(f"emergency '{kind}' has no words in {language}")
            else:
                table[kind][language] = (say.strip(), words)
    return table, report.errors


_SHARED_EMERGENCY: tuple[dict, list[str]] | None = None


def shared_emergency() -> tuple[dict, list[str]]:
    """read_emergency_file() once per process (the file ships with the code)."""
    global _SHARED_EMERGENCY
    if _SHARED_EMERGENCY is None:
        _SHARED_EMERGENCY = read_emergency_file()
    return _SHARED_EMERGENCY


def shared_emergency_kinds(language: str) -> tuple[EmergencyKind, ...]:
    """The shared emergency kinds in `language`, with no script's additions."""
    return _emergency(None, language, _Reporter("emergency.yaml"))


def _emergency(raw: Any, language: str, report: _Reporter) -> tuple[EmergencyKind, ...]:
    """The shared emergency kinds in `language`, with the script's own words and sentences."""
    table, _errors = shared_emergency()
    merged = {kind: per[language] for kind, per in table.items() if language in per}
    if raw is not None and not isinstance(raw, dict):
        report.file("emergency must be a mapping of kinds (medical, fire, police, ...)")
        raw = None
    for kind, entry in (raw or {}).items():
        if not isinstance(entry, dict):
            report.file(f"emergency '{kind}' must be a mapping with say and/or words")
            continue
        say, words = entry.get("say"), entry.get("words")
        base_say, base_words = merged.get(kind, ("", ()))
        if say is not None and (not isinstance(say, str) or not say.strip()):
            report.file(f"emergency '{kind}': say must be one sentence")
            say = None
        extra = _words(words) if words is not None else ()
        if extra is None:
            report.file(f"emergency '{kind}': words must be a list of words")
            extra = ()
        say = say.strip() if isinstance(say, str) else base_say
        if not say:
            report.file(f"emergency '{kind}' has no sentence in {language}")
            continue
        merged[kind] = (say, base_words + tuple(w for w in extra if w not in base_words))
    return tuple(EmergencyKind(kind, words, say) for kind, (say, words) in merged.items())


def _edges(node: Node) -> list[tuple[str, str]]:
    """(label, target) of every way out of a node."""
    out: list[tuple[str, str]] = []
    if node.next:
        out.append(("next", node.next))
    if node.kind != "language":  # language choices continue in another file, at `next`
        for choice in node.choices:
            out.append((f"choice '{choice.key}'", choice.next))
    for label in ("on_timeout", "on_invalid", "open", "closed"):
        target = getattr(node, label)
        if target:
            out.append((label, target))
    return out


def _follow(script: Script, target: str) -> str | None:
    """Follow `target` through nodes that need no input; the kind of node where it stops.

    `say` and `preference` go on to `next`, `hours` to its open branch (for the closed branch
    the engine uses the script's closed_route); a loop or a missing node gives None.
    """
    seen: set[str] = set()
    current: str | None = target
    while current and current not in seen:
        seen.add(current)
        node = script.nodes.get(current)
        if node is None:
            return None
        if node.kind in ("say", "preference"):
            current = node.next
        elif node.kind == "hours":
            current = node.open
        else:
            return node.kind
    return None


def ends_at_person(script: Script, target: str) -> bool:
    """True when `target` reaches the operator queue without waiting for more input."""
    return _follow(script, target) == "queue"


def _ends_at_voicemail(script: Script, target: str) -> bool:
    return _follow(script, target) == "voicemail"


def _check_script(script: Script, report: _Reporter) -> None:
    """Graph rules: targets, start, reachability, menus, paths to a person, levels, loops."""
    nodes = script.nodes
    if not script.start:
        report.file("no start node given")
    elif script.start not in nodes:
        report.file(f"start node '{script.start}' does not exist")
    if not script.closed_route:
        report.file("no closed_route given (where callers go when the line is closed)")
    elif script.closed_route in script.broken_ids:
        pass
    elif script.closed_route not in nodes:
        report.file(f"closed_route '{script.closed_route}' does not exist")
    elif not _ends_at_voicemail(script, script.closed_route):
        report.file(f"closed_route '{script.closed_route}' does not end at a voicemail")

    for node in nodes.values():
        for label, target in _edges(node):
            if target not in nodes and target not in script.broken_ids:
                report.node(node.id, f"{label} goes to '{target}', which does not exist")
        if node.kind in ("say", "preference", "language", "ask") and not node.next:
            report.node(node.id, f"a {node.kind} node needs next")
        if node.kind == "hours" and (not node.open or not node.closed):
            report.node(node.id, "an hours node needs both open and closed")
        scenarios = [c.scenario for c in node.choices if c.scenario] + (
            [node.scenario] if node.scenario else []
        )
        for scenario in scenarios:
            if scenario not in SCENARIOS:
                report.node(node.id, f"unknown scenario '{scenario}'")
        if node.kind == "menu":
            _check_menu(script, node, report)
        if node.kind == "ask" and node.next in nodes and not ends_at_person(script, node.next):
            report.node(node.id, f"next goes to '{node.next}', which does not end at a person")
        _check_emergency_keywords(script, node, report)
        if node.kind == "language":
            for choice in node.choices:
                if choice.language not in LANGUAGES:
                    report.node(node.id, f"choice '{choice.key}' names no known language")

    # Reachability from start (and from the closed route, which the engine enters by itself);
    # without a valid start every node would be "unreachable", which says nothing new.
    if script.start in nodes:
        roots = [r for r in (script.start, script.closed_route) if r in nodes]
        reached: set[str] = set(roots)
        todo = deque(roots)
        while todo:
            for _label, target in _edges(nodes[todo.popleft()]):
                if target in nodes and target not in reached:
                    reached.add(target)
                    todo.append(target)
        for node_id in nodes:
            if node_id not in reached:
                report.node(node_id, "unreachable from start")

    # Menu depth: the fewest menus a caller passes through to hear this one.
    if script.start in nodes:
        depth: dict[str, int] = {}
        start_depth = 1 if nodes[script.start].kind == "menu" else 0
        depth[script.start] = start_depth
        todo = deque([script.start])
        while todo:
            current = nodes[todo.popleft()]
            for _label, target in _edges(current):
                if target not in nodes:
                    continue
                d = depth[current.id] + (1 if nodes[target].kind == "menu" else 0)
                if target not in depth or d < depth[target]:
                    depth[target] = d
                    todo.append(target)
        for node_id, d in depth.items():
            if nodes[node_id].kind == "menu" and d > MAX_MENU_LEVELS:
                report.node(
                    node_id, f"menu is {d} levels deep; at most {MAX_MENU_LEVELS} are allowed"
                )

    # A chain of nodes that never waits for input and never ends would loop forever.
    for node in nodes.values():
        seen: list[str] = []
        current: str | None = node.id
        while current in nodes and nodes[current].kind in ("say", "preference"):
            if current in seen:
                if current == node.id:
                    report.node(node.id, "loops back to itself without waiting for input")
                break
            seen.append(current)
            current = nodes[current].next


def _check_menu(script: Script, node: Node, report: _Reporter) -> None:
    keys = [c.key for c in node.choices]
    topics = [c for c in node.choices if c.key != "0"]
    if len(topics) > MAX_CHOICES:
        report.node(
            node.id,
            f"menu has {len(topics)} choices besides 0; at most {MAX_CHOICES} are allowed",
        )
    for key in keys:
        if key in ("*", "#"):
            report.node(node.id, f"key '{key}' is reserved ('*' repeats the prompt)")
        elif key not in VALID_KEYS:
            report.node(node.id, f"key '{key}' is not a single digit")
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        report.node(node.id, f"key '{key}' is used twice")
    for offer in node.languages:
        if offer.language not in LANGUAGES:
            report.node(node.id, f"language key '{offer.key}' names no known language")
        elif offer.key in keys or offer.key not in VALID_KEYS:
            report.node(node.id, f"language key '{offer.key}' is not a free single digit")
    family = script.family_callback_key
    if family is not None and family in keys + [c.key for c in node.languages]:
        report.node(node.id, f"key '{family}' is the family_callback_key; choose another key")
    checkin_key = script.checkin_key
    if checkin_key is not None and checkin_key in keys + [c.key for c in node.languages]:
        report.node(node.id, f"key '{checkin_key}' is the checkin_key; choose another key")
    zero = next((c for c in node.choices if c.key == "0"), None)
    if zero is None:
        report.node(node.id, "key 0 must lead to a person")
    elif zero.next in script.nodes and not ends_at_person(script, zero.next):
        report.node(node.id, f"key 0 goes to '{zero.next}', which does not end at a person")
    for label in ("on_timeout", "on_invalid"):
        target = getattr(node, label)
        if not target:
            report.node(node.id, f"no {label} path (it must lead to a person)")
        elif target in script.nodes and not ends_at_person(script, target):
            report.node(node.id, f"{label} goes to '{target}', which does not end at a person")
    if node.timeout_seconds is not None and not (
        TIMEOUT_RANGE[0] <= node.timeout_seconds <= TIMEOUT_RANGE[1] + 5
    ):
        report.node(node.id, f"timeout {node.timeout_seconds} s is outside 8-15 s")


def _check_languages(scripts: list[Script], report_for: dict[str, _Reporter]) -> None:
    """Languages offered by a language node must have a script that continues at `next`."""
    by_key = {(s.line, s.language): s for s in scripts}
    for script in scripts:
        for node in script.nodes.values():
            if node.kind not in ("language", "menu"):
                continue
            for choice in node.choices if node.kind == "language" else node.languages:
                if choice.language not in LANGUAGES:
                    continue
                other = by_key.get((script.line, choice.language))
                report = report_for[script.path]
                if other is None:
                    report.node(
                        node.id,
                        f"offers {choice.language} but {script.line}.{choice.language}.yaml "
                        "does not exist",
                    )
                elif node.kind == "language" and node.next and node.next not in other.nodes:
                    report.node(
                        node.id,
                        f"offers {choice.language} but {script.line}.{choice.language}.yaml "
                        f"has no node '{node.next}' to continue at",
                    )


def _check_emergency_keywords(script: Script, node: Node, report: _Reporter) -> None:
    """A menu keyword holding an emergency word would never be chosen: the emergency wins."""
    from hotline.ivr.engine import _contains  # the engine's own matching, not a copy

    for choice in node.choices:
        for keyword in choice.keywords:
            if any(_contains(keyword, w) for kind in script.emergency for w in kind.words):
                report.node(
                    node.id,
                    f"keyword '{keyword}' is an emergency word (heard at every prompt); "
                    "remove it from the choice",
                )


#: Speech speed at 100 % rate, per language: Chinese characters (and digits) per second, and
#: words in Latin letters per second. Estimates from typical TTS and news reading (Mandarin and
#: Cantonese about 5 syllables a second, English about 150 words a minute), rounded towards
#: slower so the budget errs on the caller's side. Each punctuation mark adds a pause.
SPEECH_RATE = {"zh-CN": (5.0, 2.5), "yue-HK": (5.0, 2.5), "en-US": (5.0, 2.5)}
PAUSE_SECONDS = 0.2
#: Seconds of speech allowed on the silence and invalid-key paths before a person (or the
#: voicemail when closed), at the script's rate.
SPEECH_BUDGET_SECONDS = 30.0
#: Prompts (waits for input) allowed on the silence path before a person.
MAX_SILENT_PROMPTS = 2
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff0-9]")
_WORD = re.compile(r"[A-Za-z0-9']+")
_PAUSE = re.compile(r"[,.;:!?，。、；：！？]")


def speech_seconds(text: str, language: str, rate_percent: int) -> float:
    """Estimated seconds to speak `text` at `rate_percent` (see SPEECH_RATE)."""
    han_rate, word_rate = SPEECH_RATE.get(language, SPEECH_RATE["zh-CN"])
    han = len(_HAN.findall(text))
    latin = re.sub(_HAN, " ", text)
    words = len(_WORD.findall(latin))
    spoken = (han / han_rate + words / word_rate) / (rate_percent / 100)
    return spoken + PAUSE_SECONDS * len(_PAUSE.findall(text))


def step_speech(step: Any, rate_percent: int | None = None) -> float:
    """Seconds of speech in one engine step (prompts inside a Gather included)."""
    from hotline.ivr.engine import GatherAction, SayAction

    says: list[SayAction] = []
    for action in step.actions:
        if isinstance(action, SayAction):
            says.append(action)
        elif isinstance(action, GatherAction):
            says.extend(action.prompts)
    return sum(
        speech_seconds(s.text, s.language, rate_percent or s.rate_percent)
        for s in says
        if not s.audio_url
    )


#: Inputs a journey may take before walk() gives up (the engine's loop cap ends any call
#: long before).
MAX_WALK_STEPS = 100


def walk(
    scripts: ScriptSet,
    line: str,
    language: str,
    ctx: Any,
    inputs: list[tuple[str | None, str | None]],
    *,
    rate_percent: int | None = None,
) -> tuple[list[Any], float]:
    """Play a journey through the engine: each input is (digits, speech), (None, None) for
    silence, and the last one repeats until the call reaches a person, a voicemail or a hang-up.

    Returns the steps and the seconds of speech heard on the way.
    """
    from hotline.ivr import engine

    step = engine.begin(scripts, line, language, ctx)
    steps, seconds = [step], step_speech(step, rate_percent)
    for index in range(MAX_WALK_STEPS):
        digits, speech = inputs[min(index, len(inputs) - 1)] if inputs else (None, None)
        after = engine.answer(scripts, line, step, ctx, digits=digits, speech=speech)
        if after is None:
            break
        step = after
        steps.append(step)
        seconds += step_speech(step, rate_percent)
    return steps, seconds


def _check_budget(script: Script, report: _Reporter) -> None:
    """Silence and an unknown key must reach a person within the speech budget (open), and
    silence the voicemail (closed); silence within MAX_SILENT_PROMPTS prompts."""
    from hotline.ivr.engine import CallContext, EnqueueAction, GatherAction, RecordAction

    alone = ScriptSet({(script.line, script.language): script})
    journeys = (
        ("silence path", True, (None, None)),
        ("invalid path", True, ("#", None)),
        ("closed silence path", False, (None, None)),
    )
    for name, is_open, answer in journeys:
        # With the recording notice (a line may switch recording on): the longest greeting.
        ctx = CallContext(is_open=is_open, is_recorded=True)
        steps, seconds = walk(alone, script.line, script.language, ctx, [answer])
        last = steps[-1].actions
        goal = EnqueueAction if is_open else RecordAction
        where = "a person" if is_open else "the voicemail"
        # The prompts the caller waited at, in order ("main_menu > main_menu").
        path = " > ".join(
            a.node_id for s in steps for a in s.actions if isinstance(a, GatherAction)
        )
        label = f"{name} ({path or 'no prompt'})"
        if not any(isinstance(a, goal) for a in last):
            report.file(f"{label} does not reach {where}")
            continue
        if seconds > SPEECH_BUDGET_SECONDS:
            report.file(
                f"{label} is {seconds:.1f} s of speech at {script.rate_percent} % before "
                f"reaching {where}; at most {SPEECH_BUDGET_SECONDS:.0f} s are allowed"
            )
        prompts = sum(1 for s in steps for a in s.actions if isinstance(a, GatherAction))
        if name == "silence path" and prompts > MAX_SILENT_PROMPTS:
            report.file(
                f"{label} waits at {prompts} prompts before reaching a person; "
                f"at most {MAX_SILENT_PROMPTS} are allowed"
            )


# --------------------------------------------------------------------------- check-in scripts

#: A check-in script's file name: checkin.<language>.yaml.
CHECKIN_FILE = re.compile(r"^checkin\.(?P<language>[A-Za-z]{2,3}-[A-Za-z]{2})\.ya?ml$")


def parse_checkin(path: Path, report: _Reporter) -> CheckinScript | None:
    """Read a check-in script (see CheckinScript), reporting what is wrong with the file and the
    message named."""
    match = CHECKIN_FILE.match(path.name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        report.file("not valid YAML")
        return None
    if not isinstance(data, dict) or data.get("spec_version") != SPEC_VERSION:
        report.file(f"must be a mapping with spec_version {SPEC_VERSION}")
        return None
    language = data.get("language")
    if language not in LANGUAGES or match is None or match["language"] != language:
        report.file(f"language must be one of {', '.join(LANGUAGES)} and match the file name")
        return None
    messages = data.get("messages") if isinstance(data.get("messages"), dict) else {}
    for name in CHECKIN_MESSAGES:
        if not isinstance(messages.get(name), str) or not messages[name].strip():
            report.node(name, f"no message in {language}")
    greet = str(messages.get("greet", ""))
    if greet and "{name}" not in greet:
        report.node("greet", "must greet the elder by {name}")
    ok_words = _words(data.get("ok_words"))
    if not ok_words:
        report.node("ok_words", "must list the words that mean all is well")
        ok_words = ()
    timeout, rate = _pacing(data, report)
    return CheckinScript(
        path=str(path),
        language=language,
        voice=str(data.get("voice", "")),
        rate_percent=rate,
        input_timeout_seconds=timeout,
        messages={k: str(v).strip() for k, v in messages.items()},
        ok_words=ok_words,
        emergency=_emergency(None, language, report),
    )


#: The longest name the speech budget is measured with ("{name}" in the greeting).
BUDGET_NAME = "欧阳阿姨"


def check_checkin(script: CheckinScript, report: _Reporter) -> None:
    """An "all is well" word must not be an emergency word; the silence path (greeting,
    question, "not understood", question, "to a person") must fit the speech budget."""
    from hotline.ivr.checkin import _emergency as emergency_in

    for word in script.ok_words:
        if emergency_in(script, word) is not None:
            report.node("ok_words", f"'{word}' is an emergency word")
    if report.errors:
        return
    texts = [
        script.messages["greet"].format(name=BUDGET_NAME, line="长者服务热线"),
        script.messages["question"],
        script.messages["not_understood"],
        script.messages["question"],
        script.messages["to_person"],
    ]
    seconds = sum(speech_seconds(t, script.language, script.rate_percent) for t in texts)
    if seconds > SPEECH_BUDGET_SECONDS:
        report.file(
            f"silence path (question > question) is {seconds:.1f} s of speech at "
            f"{script.rate_percent} % before reaching a person; at most "
            f"{SPEECH_BUDGET_SECONDS:.0f} s are allowed"
        )


#: The language a check-in call falls back to, so its script must exist wherever line scripts do.
CHECKIN_DEFAULT_LANGUAGE = "zh-CN"


def _missing_checkin(paths: list[Path]) -> list[str]:
    """A directory of line scripts without checkin.zh-CN.yaml: the clock's check-in calls would
    have no question in the default language (a broken file reports its own errors)."""
    has_line_scripts = any(not p.name.startswith("checkin.") for p in paths)
    name = f"checkin.{CHECKIN_DEFAULT_LANGUAGE}.yaml"
    if not has_line_scripts or any(p.stem == Path(name).stem for p in paths):
        return []
    messages = ", ".join(CHECKIN_MESSAGES)
    return [
        f"{name}: missing; check-in calls (关爱回访) need it beside the line scripts, with "
        f"the messages {messages} and ok_words in {CHECKIN_DEFAULT_LANGUAGE}"
    ]


def check_directory(directory: str | Path) -> tuple[ScriptSet, list[str]]:
    """Load and validate every script in `directory`; returns the valid scripts and all errors."""
    root = Path(directory)
    if not root.is_dir():
        return ScriptSet(), [f"{root}: not a directory of IVR scripts"]
    reports: dict[str, _Reporter] = {}
    scripts: list[Script] = []
    checkins: dict[str, CheckinScript] = {}
    paths = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
    if not paths:
        return ScriptSet(), [f"{root}: no IVR scripts (*.yaml) found"]
    for path in paths:
        report = _Reporter(path.name)
        reports[str(path)] = report
        if path.name.startswith("checkin."):
            checkin = parse_checkin(path, report)
            if checkin is not None:
                check_checkin(checkin, report)
                if not report.errors:
                    checkins[checkin.language] = checkin
            continue
        script = _parse(path, report)
        if script is not None:
            _check_script(script, report)
            scripts.append(script)
    _check_languages(scripts, reports)
    missing = _missing_checkin(paths)
    for script in scripts:
        report = reports[script.path]
        if not report.errors:  # a broken graph has no meaningful speech budget
            _check_budget(script, report)
    # The shared emergency words are part of every script: their errors block every script.
    shared_errors = shared_emergency()[1]
    errors = [e for r in reports.values() for e in r.errors] + missing + shared_errors
    if shared_errors:
        return ScriptSet(), errors
    valid = ScriptSet(
        {(s.line, s.language): s for s in scripts if not reports[s.path].errors}, checkins
    )
    return valid, errors


def load_scripts(directory: str | Path) -> ScriptSet:
    """Load scripts for serving calls; refuses to serve any script directory with errors."""
    scripts, errors = check_directory(directory)
    if errors:
        raise ScriptErrors(errors)
    return scripts
