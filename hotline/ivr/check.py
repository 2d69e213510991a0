"""Loading and validating IVR scripts.

`check_directory` returns every problem it finds, each naming the file and (where there is one)
the node, e.g. `main.zh-CN.yaml: node 'main_menu': menu has 5 choices; at most 4 are allowed`.
The rules enforce mission.md's elderly-first call design, so a script that would let an older
caller dead-end, loop or wait through deep menus cannot be deployed.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from hotline.ivr.schema import (
    LANGUAGES,
    NODE_KINDS,
    REQUIRED_MESSAGES,
    SCENARIOS,
    SPEC_VERSION,
    Choice,
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
PROMPTED_KINDS = ("say", "menu", "language", "preference", "voicemail", "goodbye")
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
        choices: list[Choice] = []
        for raw_choice in raw.get("choices") or []:
            if not isinstance(raw_choice, dict):
                report.node(node_id, "each choice must be a mapping with key and next")
                continue
            key = str(raw_choice.get("key", ""))
            keywords = raw_choice.get("keywords") or []
            if isinstance(keywords, str):
                keywords = [keywords]
            choices.append(
                Choice(
                    key=key,
                    next=raw_choice["next"] if isinstance(raw_choice.get("next"), str) else "",
                    keywords=tuple(str(k) for k in keywords),
                    label=str(raw_choice.get("label", "")),
                    scenario=raw_choice.get("scenario"),
                    language=raw_choice.get("language"),
                )
            )
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
        )
    start = data.get("start")
    closed_route = data.get("closed_route")
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
    )


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
        if node.kind in ("say", "preference", "language") and not node.next:
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
            if node.kind != "language":
                continue
            for choice in node.choices:
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
                elif node.next and node.next not in other.nodes:
                    report.node(
                        node.id,
                        f"offers {choice.language} but {script.line}.{choice.language}.yaml "
                        f"has no node '{node.next}' to continue at",
                    )


def check_directory(directory: str | Path) -> tuple[ScriptSet, list[str]]:
    """Load and validate every script in `directory`; returns the valid scripts and all errors."""
    root = Path(directory)
    if not root.is_dir():
        return ScriptSet(), [f"{root}: not a directory of IVR scripts"]
    reports: dict[str, _Reporter] = {}
    scripts: list[Script] = []
    paths = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
    if not paths:
        return ScriptSet(), [f"{root}: no IVR scripts (*.yaml) found"]
    for path in paths:
        report = _Reporter(path.name)
        reports[str(path)] = report
        script = _parse(path, report)
        if script is not None:
            _check_script(script, report)
            scripts.append(script)
    _check_languages(scripts, reports)
    errors = [e for r in reports.values() for e in r.errors]
    valid = ScriptSet({(s.line, s.language): s for s in scripts if not reports[s.path].errors})
    return valid, errors


def load_scripts(directory: str | Path) -> ScriptSet:
    """Load scripts for serving calls; refuses to serve any script directory with errors."""
    scripts, errors = check_directory(directory)
    if errors:
        raise ScriptErrors(errors)
    return scripts
