"""Draw an IVR script as a picture: a standalone SVG, laid out left to right in layers.

Script authors write YAML; this shows them the menu a caller will walk. One box per node (its
id, kind and the first words of its prompt); a menu box lists each choice with its key, label,
scenario and spoken keywords, and where silence and invalid input go. Every way out of a box
leaves from its own row, so an arrow can be traced back to the key that takes it. Boxes that
reach a person are green, voicemail amber; a node that does not exist is drawn red and dashed,
so broken scripts can be drawn too.

Pure Python on purpose (no Graphviz, no cairo): the project must run on a machine that has only
Python. The layout is a small Sugiyama-style layered drawing:
1. layers by longest path from the start (back edges of loops found by depth-first search and
   routed below the drawing instead);
2. edges spanning several layers get dummy points in each layer they cross, so a line never
   runs through a box;
3. a few barycentre sweeps order each layer to cut crossings;
4. boxes are stacked in their layer (sizes come from the text, a CJK character counting about
   twice a Latin one), so boxes cannot overlap whatever the script.

The output is deterministic: the same script gives the same bytes (no hashing, no clocks, every
number formatted the same way), so diagrams can be committed and diffed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hotline.ivr.schema import Node, Script

FONT_FAMILY = "'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"

#: Labels drawn by the diagram itself, in the console's two languages.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "say": "say",
        "menu": "menu",
        "language": "language choice",
        "ask": "ask (no menu): words kept for the operator",
        "preference": "preference",
        "hours": "opening hours",
        "queue": "person (operator queue)",
        "voicemail": "voicemail",
        "goodbye": "goodbye",
        "external": "other language's script",
        "missing": "MISSING NODE",
        "waits": "waits {seconds} s for a key or a word",
        "start": "start",
        "closed_route": "closed_route: the line is closed",
        "person": "= person, always",
        "says": "says: ",
        "silence_row": "silence ×2",
        "invalid_row": "invalid input ×2",
        "silence": "silence",
        "invalid": "invalid",
        "next": "next",
        "open": "open",
        "closed": "closed",
        "keep": "silence: keep {language}",
        "repeat": "* repeats the prompt",
        "continues": "continues at '{node}'",
        "queue_note": "waits for an operator",
        "scenario": "scenario: {scenario}",
        "voicemail_note": "records up to {seconds} s, then a callback",
        "goodbye_note": "hangs up",
        "preference_note": "next time: straight to a person",
        "missing_note": "no node has this id",
        "broken": "NODE WITH ERRORS",
        "broken_note": "could not be read: see the checker",
        "audio": "audio: ",
        "settings": "voice {voice} · speed {rate}% · waits {timeout} s for a key · "
        "after {steps} answers: a person",
        "rule_menu": "Every menu: 0 = a person · * repeats · silence or invalid input once: "
        "“{not_understood}” and the prompt again; twice: the arrow",
        "rule_closed": "Line closed: every way to a person goes to closed_route '{closed}'",
        "legend_person": "person",
        "legend_voicemail": "voicemail",
        "legend_menu": "menu",
        "legend_external": "other language",
        "legend_missing": "missing",
    },
    "zh": {
        "say": "播报",
        "menu": "菜单",
        "language": "选语言",
        "ask": "请说事由(无菜单):记给坐席",
        "preference": "记住偏好",
        "hours": "上班时间",
        "queue": "人工(排队)",
        "voicemail": "留言",
        "goodbye": "挂机",
        "external": "另一种语言的脚本",
        "missing": "节点不存在",
        "waits": "等 {seconds} 秒按键或说话",
        "start": "开始",
        "closed_route": "closed_route:下班时走这里",
        "person": "= 人工,必须有",
        "says": "说:",
        "silence_row": "没出声 ×2",
        "invalid_row": "按错/听不懂 ×2",
        "silence": "没出声",
        "invalid": "按错",
        "next": "下一步",
        "open": "上班",
        "closed": "下班",
        "keep": "没出声:保持 {language}",
        "repeat": "* 重听",
        "continues": "从 '{node}' 继续",
        "queue_note": "等人工接听",
        "scenario": "场景:{scenario}",
        "voicemail_note": "最多录 {seconds} 秒,之后回电",
        "goodbye_note": "挂断",
        "preference_note": "以后来电直接转人工",
        "missing_note": "没有这个 id 的节点",
        "broken": "节点有错误",
        "broken_note": "读不出来,见检查结果",
        "audio": "录音:",
        "settings": "语音 {voice} · 语速 {rate}% · 按键等 {timeout} 秒 · 回答 {steps} 次后转人工",
        "rule_menu": "每个菜单:0 = 人工 · * 重听 · 没出声或按错一次:说“{not_understood}”"
        "再听一遍;两次:走箭头",
        "rule_closed": "下班时:所有转人工的路都改走 closed_route '{closed}'",
        "legend_person": "人工",
        "legend_voicemail": "留言",
        "legend_menu": "菜单",
        "legend_external": "其他语言",
        "legend_missing": "不存在",
    },
}

# Colours: (fill, stroke) per kind of box; person green and voicemail amber as in the console.
KIND_COLOURS: dict[str, tuple[str, str]] = {
    "say": ("#f6f8fa", "#57606a"),
    "preference": ("#f6f8fa", "#57606a"),
    "goodbye": ("#f6f8fa", "#24292f"),
    "menu": ("#ddf4ff", "#0b5cad"),
    "language": ("#e0f5f2", "#0f766e"),
    "ask": ("#ddf4ff", "#0b5cad"),
    "hours": ("#fbefff", "#8250df"),
    "queue": ("#dafbe1", "#1a7f37"),
    "voicemail": ("#fff8c5", "#9a6700"),
    "external": ("#ffffff", "#0f766e"),
    "missing": ("#ffebe9", "#b42318"),
    "broken": ("#ffebe9", "#b42318"),
}
TEXT = "#1b1f24"
MUTED = "#57606a"
PERSON = "#1a7f37"
PERSON_BG = "#dafbe1"
AMBER = "#9a6700"
BAD = "#b42318"
TEAL = "#0f766e"
EDGE = "#57606a"
ACCENT = "#0b5cad"

# Geometry, in SVG px.
MARGIN = 32
PAD_X = 10
PAD_Y = 8
MIN_BOX_WIDTH = 150
#: Widest text in a box: about 25 CJK characters or 40 Latin ones at 12 px.
MAX_TEXT_WIDTH = 300
BOX_GAP = 24
DUMMY_GAP = 8
LAYER_GAP = 64
LABEL_ROOM = 36
LANE_GAP = 12
SWEEPS = 4
PROMPT_LINES = 2
KEYWORD_LINES = 2

#: Keys of boxes that are not script nodes start with NUL, which no real node id contains.
PSEUDO = "\x00"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --------------------------------------------------------------------------- text


def _clean(text: str) -> str:
    """Drop characters XML cannot carry and fold runs of whitespace."""
    return " ".join(_XML_INVALID.sub("", str(text)).split())


def _esc(text: str) -> str:
    """Escape text content (the input is already cleaned)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    """A double-quoted, escaped XML attribute value that keeps `text` exactly (spaces too)."""
    value = _esc(_XML_INVALID.sub("", str(text))).replace('"', "&quot;")
    return '"' + value.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;") + '"'


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F", "A")


def _char_width(ch: str) -> float:
    """Advance of one character in em, erring wide so text stays inside its box."""
    if unicodedata.combining(ch):
        return 0.0
    if _is_wide(ch):
        return 1.0
    if ch == " ":
        return 0.3
    if ch in "ilj.,;:!|'`()[]{}":
        return 0.35
    if ch in "mwMW@%&" or ch.isupper():
        return 0.8
    return 0.6


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Estimated width of `text` at font size `size` (CJK characters count about 2x Latin)."""
    width = sum(_char_width(ch) for ch in text) * size
    return width * 1.08 if bold else width


def _tokens(text: str) -> list[str]:
    """Words for wrapping: each wide (CJK) character alone, Latin words whole, spaces apart."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch == " " or _is_wide(ch):
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def _ellipsis(text: str, size: float, max_width: float, *, bold: bool = False) -> str:
    """`text` cut with "…" so that it fits in `max_width`."""
    if text_width(text, size, bold=bold) <= max_width:
        return text
    out = text
    while out and text_width(out + "…", size, bold=bold) > max_width:
        out = out[:-1]
    return out.rstrip() + "…"


def _with_ellipsis(text: str, size: float, max_width: float) -> str:
    """`text` followed by "…" (cut as needed to fit): the text goes on but there is no room."""
    out = text.rstrip()
    while out and text_width(out + "…", size) > max_width:
        out = out[:-1].rstrip()
    return out + "…"


def wrap(text: str, size: float, max_width: float, max_lines: int) -> list[str]:
    """Greedy line breaking between CJK characters or Latin words; when the text needs more
    than `max_lines` lines, the last one ends with "…"."""
    lines: list[str] = []
    current = ""
    for token in _tokens(_clean(text)):
        if not current and token == " ":
            continue
        if text_width(current + token, size) <= max_width:
            current += token
            continue
        if current:
            lines.append(current.rstrip())
            current = ""
        if token == " ":
            continue
        while text_width(token, size) > max_width:  # a word longer than a line: split it
            cut = 1
            while cut < len(token) and text_width(token[: cut + 1], size) <= max_width:
                cut += 1
            lines.append(token[:cut])
            token = token[cut:]
        current = token
    if current.strip():
        lines.append(current.rstrip())
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_with_ellipsis(lines[max_lines - 1], size, max_width)]
    return lines


def _n(value: float) -> str:
    """One way to print every coordinate, so the same drawing gives the same bytes."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


# --------------------------------------------------------------------------- model


@dataclass
class _Row:
    """One line inside a box."""

    text: str
    style: str  # title, kind, badge, prompt, choice, keywords, exit, note
    key: str | None = None
    tone: str | None = None  # person, start, closed, bad
    suffix: str = ""
    is_port: bool = False

    @property
    def size(self) -> float:
        return {"title": 13.0, "keywords": 11.0, "kind": 11.0, "note": 11.0, "badge": 11.0}.get(
            self.style, 12.0
        )

    @property
    def height(self) -> float:
        return self.size + (8.0 if self.style in ("choice", "badge") else 6.0)

    @property
    def indent(self) -> float:
        return 24.0 if self.style == "keywords" else 0.0

    def width(self) -> float:
        bold = self.style == "title"
        width = self.indent + text_width(self.text, self.size, bold=bold)
        if self.key is not None:
            width += self._pill_width() + 6
        if self.suffix:
            width += 6 + text_width(self.suffix, self.size, bold=True)
        if self.style == "badge":
            width += 12
        return width

    def _pill_width(self) -> float:
        return max(18.0, text_width(self.key or "", self.size, bold=True) + 8)


@dataclass
class _Box:
    """A node of the drawing: a script node, another language's script, or a missing node."""

    key: str
    node_id: str
    kind: str
    rows: list[_Row]
    tooltip: str
    href: str | None = None
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0

    def measure(self) -> None:
        widest = max((row.width() for row in self.rows), default=0.0)
        self.width = max(MIN_BOX_WIDTH, widest + 2 * PAD_X)
        self.height = sum(row.height for row in self.rows) + 2 * PAD_Y

    def row_top(self, index: int) -> float:
        return self.y + PAD_Y + sum(row.height for row in self.rows[:index])

    def port_y(self, index: int) -> float:
        return self.row_top(index) + self.rows[index].height / 2


@dataclass
class _Edge:
    """A way out of a node: from a row of `source` to `target`."""

    source: str
    row: int
    target: str
    kind: str  # choice, language, next, silence, invalid, open, closed
    label: str
    key: str | None = None
    is_back: bool = False


@dataclass
class _Vertex:
    """A box or a dummy point in one layer."""

    key: str
    layer: int
    height: float
    box: _Box | None = None
    y: float = 0.0


@dataclass
class _Layout:
    boxes: dict[str, _Box]
    edges: list[_Edge]
    layers: list[list[_Vertex]] = field(default_factory=list)
    layer_x: list[float] = field(default_factory=list)
    layer_width: list[float] = field(default_factory=list)
    #: (source box, target box) -> dummy vertex keys, one per layer crossed.
    chains: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


# --------------------------------------------------------------------------- boxes


def _prompt_rows(node: Node, labels: dict[str, str]) -> list[_Row]:
    rows: list[_Row] = []
    if node.prompt.audio_url:
        audio = labels["audio"] + _clean(node.prompt.audio_url)
        rows.append(_Row(_ellipsis(audio, 12, MAX_TEXT_WIDTH), "prompt"))
    text = _clean(node.prompt.text)
    if text:
        for line in wrap("“" + text + "”", 12, MAX_TEXT_WIDTH, PROMPT_LINES):
            rows.append(_Row(line, "prompt"))
    return rows


def _keyword_rows(keywords: tuple[str, ...], labels: dict[str, str]) -> list[_Row]:
    if not keywords:
        return []
    text = labels["says"] + ", ".join(_clean(k) for k in keywords)
    return [_Row(line, "keywords") for line in wrap(text, 11, MAX_TEXT_WIDTH - 24, KEYWORD_LINES)]


def _node_box(script: Script, node: Node, labels: dict[str, str], edges: list[_Edge]) -> _Box:
    """The box for one script node; appends the edges leaving it (each from its own row)."""
    rows: list[_Row] = []
    if node.id == script.start:
        rows.append(_Row(labels["start"], "badge", tone="start"))
    if node.id == script.closed_route:
        rows.append(_Row(labels["closed_route"], "badge", tone="closed"))
    rows.append(_Row(_ellipsis(_clean(node.id), 13, MAX_TEXT_WIDTH, bold=True), "title"))
    kind = labels.get(node.kind, node.kind)
    if node.kind == "menu":
        seconds = node.timeout_seconds or script.input_timeout_seconds
        kind += " · " + labels["waits"].format(seconds=seconds)
    rows.append(_Row(_ellipsis(kind, 11, MAX_TEXT_WIDTH), "kind"))
    rows.extend(_prompt_rows(node, labels))

    def port(row: _Row, target: object, kind: str, label: str, key: str | None = None) -> None:
        row.is_port = True
        rows.append(row)
        # str(): in a broken script a target may be a number or a list; draw it, don't crash.
        edges.append(_Edge(node.id, len(rows) - 1, str(target), kind, label, key))

    tooltip = [f"{node.id} ({node.kind})"]
    if node.prompt.text:
        tooltip.append(node.prompt.text)
    # A menu's `languages` are drawn like a language node's choices (they switch script).
    for choice in node.choices + node.languages:
        if node.kind == "language" or choice in node.languages:
            text = f"→ {_clean(choice.language or '?')}"
            target = f"{PSEUDO}lang:{choice.language or '?'}"
            row = _Row("", "choice", key=_clean(choice.key))
            row.text = _ellipsis(text, 12, MAX_TEXT_WIDTH - row.width())
            port(
                row,
                target,
                "language",
                f"{_clean(choice.key)} → {_clean(choice.language or '?')}",
                choice.key,
            )
        else:
            text = _clean(choice.label) or _clean(choice.next)
            if choice.scenario:
                text += f" · {_clean(choice.scenario)}"
            is_person = choice.key == "0"
            row = _Row(
                "",
                "choice",
                key=_clean(choice.key),
                tone="person" if is_person else None,
                suffix=labels["person"] if is_person else "",
            )
            row.text = _ellipsis(text, 12, MAX_TEXT_WIDTH - row.width())
            port(row, choice.next, "choice", _clean(choice.key), choice.key)
        rows.extend(_keyword_rows(choice.keywords, labels))
        words = ", ".join(choice.keywords)
        tooltip.append(f"{choice.key}: {choice.label or choice.language or ''} {words}".strip())
    if node.next:
        if node.kind == "language":
            text = labels["keep"].format(language=script.language)
            port(_Row(text, "exit"), node.next, "next", labels["next"])
        else:
            port(_Row(labels["next"], "exit"), node.next, "next", labels["next"])
    if node.on_timeout:
        port(_Row(labels["silence_row"], "exit"), node.on_timeout, "silence", labels["silence"])
    if node.on_invalid:
        port(_Row(labels["invalid_row"], "exit"), node.on_invalid, "invalid", labels["invalid"])
    if node.open:
        port(_Row(labels["open"], "exit"), node.open, "open", labels["open"])
    if node.closed:
        port(_Row(labels["closed"], "exit"), node.closed, "closed", labels["closed"])
    if node.kind == "menu":
        rows.append(_Row(labels["repeat"], "note"))
    elif node.kind == "queue":
        rows.append(_Row(labels["queue_note"], "note", tone="person"))
        if node.scenario:
            text = labels["scenario"].format(scenario=_clean(node.scenario))
            rows.append(_Row(_ellipsis(text, 11, MAX_TEXT_WIDTH), "note"))
    elif node.kind == "voicemail":
        text = labels["voicemail_note"].format(seconds=node.max_length_seconds)
        rows.append(_Row(text, "note"))
    elif node.kind == "goodbye":
        rows.append(_Row(labels["goodbye_note"], "note"))
    elif node.kind == "preference":
        rows.append(_Row(labels["preference_note"], "note"))
    return _Box(
        key=node.id,
        node_id=node.id,
        kind=node.kind if node.kind in KIND_COLOURS else "say",
        rows=rows,
        tooltip="\n".join(tooltip),
    )


def _external_box(
    script: Script, language: str, continue_at: str, labels: dict[str, str], href: str | None
) -> _Box:
    name = f"{script.line}.{language}"
    rows = [
        _Row(_ellipsis(_clean(name), 13, MAX_TEXT_WIDTH, bold=True), "title"),
        _Row(labels["external"], "kind"),
        _Row(
            _ellipsis(labels["continues"].format(node=_clean(continue_at)), 11, MAX_TEXT_WIDTH),
            "note",
        ),
    ]
    return _Box(f"{PSEUDO}lang:{language}", name, "external", rows, f"{name}.yaml", href=href)


def _missing_box(target: str, labels: dict[str, str], *, is_broken: bool) -> _Box:
    """A node that is named but absent, or declared but unreadable (`is_broken`)."""
    kind = "broken" if is_broken else "missing"
    rows = [
        _Row(_ellipsis(_clean(target) or "''", 13, MAX_TEXT_WIDTH, bold=True), "title"),
        _Row(labels[kind], "kind", tone="bad"),
        _Row(labels[f"{kind}_note"], "note"),
    ]
    return _Box(f"{PSEUDO}missing:{target}", target, kind, rows, labels[f"{kind}_note"])


def _build(
    script: Script, labels: dict[str, str], link_for: Callable[[str, str], str | None] | None
) -> tuple[dict[str, _Box], list[_Edge]]:
    """Every box and edge of `script`, in script order."""
    boxes: dict[str, _Box] = {}
    edges: list[_Edge] = []
    for node in script.nodes.values():
        boxes[node.id] = _node_box(script, node, labels, edges)
    for node in script.nodes.values():
        offers = node.choices if node.kind == "language" else node.languages
        # A language node continues at its `next`; a menu at the same menu in the other script.
        continue_at = (node.next or script.start) if node.kind == "language" else node.id
        for choice in offers:
            key = f"{PSEUDO}lang:{choice.language or '?'}"
            if key not in boxes:
                language = choice.language or "?"
                href = link_for(script.line, language) if link_for else None
                boxes[key] = _external_box(script, language, continue_at, labels, href)
    for edge in edges:
        if edge.target not in boxes:
            key = f"{PSEUDO}missing:{edge.target}"
            if key not in boxes:
                is_broken = edge.target in script.broken_ids
                boxes[key] = _missing_box(edge.target, labels, is_broken=is_broken)
            edge.target = key
    for box in boxes.values():
        box.measure()
    return boxes, edges


# --------------------------------------------------------------------------- layout


def _find_back_edges(script: Script, boxes: dict[str, _Box], edges: list[_Edge]) -> None:
    """Mark the edges that close a loop (depth-first search from the start, in script order)."""
    out: dict[str, list[_Edge]] = {key: [] for key in boxes}
    for edge in edges:
        out[edge.source].append(edge)
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    roots = [r for r in (script.start, script.closed_route) if r in boxes] + list(boxes)
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            key, index = stack[-1]
            if index < len(out[key]):
                stack[-1] = (key, index + 1)
                edge = out[key][index]
                if state.get(edge.target) == 1:
                    edge.is_back = True
                elif edge.target not in state:
                    state[edge.target] = 1
                    stack.append((edge.target, 0))
            else:
                state[key] = 2
                stack.pop()


def _assign_layers(boxes: dict[str, _Box], edges: list[_Edge]) -> dict[str, int]:
    """Longest path from the sources over the forward edges, in a deterministic order."""
    order = {key: index for index, key in enumerate(boxes)}
    incoming: dict[str, int] = dict.fromkeys(boxes, 0)
    out: dict[str, list[str]] = {key: [] for key in boxes}
    for edge in edges:
        if not edge.is_back:
            incoming[edge.target] += 1
            out[edge.source].append(edge.target)
    layer = dict.fromkeys(boxes, 0)
    ready = sorted((k for k, n in incoming.items() if n == 0), key=order.__getitem__)
    while ready:
        key = ready.pop(0)
        for target in out[key]:
            layer[target] = max(layer[target], layer[key] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
                ready.sort(key=order.__getitem__)
    return layer


def _layout(script: Script, boxes: dict[str, _Box], edges: list[_Edge]) -> _Layout:
    _find_back_edges(script, boxes, edges)
    layer_of = _assign_layers(boxes, edges)
    plan = _Layout(boxes=boxes, edges=edges)
    count = max(layer_of.values(), default=0) + 1
    plan.layers = [[] for _ in range(count)]
    for key, box in boxes.items():
        plan.layers[layer_of[key]].append(_Vertex(key, layer_of[key], box.height, box))

    # Segments between layer i and i+1: (upper vertex, row it leaves from or None, lower vertex).
    # Edges from one box to the same target share their dummies (one line through the layers).
    segments: list[list[tuple[str, int | None, str]]] = [[] for _ in range(count)]
    for edge in edges:
        if edge.is_back:
            continue
        pair = (edge.source, edge.target)
        if pair not in plan.chains:
            dummies = []
            for layer in range(layer_of[edge.source] + 1, layer_of[edge.target]):
                key = f"{PSEUDO}dummy:{len(plan.chains)}:{layer}"
                plan.layers[layer].append(_Vertex(key, layer, 0.0))
                layer_of[key] = layer
                dummies.append(key)
            plan.chains[pair] = dummies
            chain = [*dummies, edge.target]
            for upper, lower in zip(chain, chain[1:], strict=False):
                segments[layer_of[upper]].append((upper, None, lower))
        chain = plan.chains[pair]
        segments[layer_of[edge.source]].append(
            (edge.source, edge.row, chain[0] if chain else edge.target)
        )

    def positions() -> dict[str, float]:
        return {v.key: float(i) for layer in plan.layers for i, v in enumerate(layer)}

    def fraction(upper: str, row: int | None) -> float:
        """Where a port sits down its box (0-1), so ports lower in a box pull lower."""
        box = boxes.get(upper)
        if box is None or row is None:
            return 0.0
        return (box.port_y(row) - box.y) / max(box.height, 1.0)

    def crossings() -> int:
        pos = positions()
        total = 0
        for layer_segments in segments:
            points = [(pos[u] + fraction(u, row), pos[v]) for u, row, v in layer_segments]
            for i, (a1, b1) in enumerate(points):
                for a2, b2 in points[i + 1 :]:
                    if (a1 - a2) * (b1 - b2) < 0:
                        total += 1
        return total

    # Order each layer by barycentres, alternately downwards and upwards; keep the best order.
    best = [list(layer) for layer in plan.layers]
    best_crossings = crossings()
    for sweep in range(SWEEPS * 2):
        downward = sweep % 2 == 0
        for index in range(1, count) if downward else range(count - 2, -1, -1):
            pos = positions()
            weights: dict[str, list[float]] = {}
            for upper, row, lower in segments[index - 1 if downward else index]:
                if downward:
                    weights.setdefault(lower, []).append(pos[upper] + fraction(upper, row))
                else:
                    weights.setdefault(upper, []).append(pos[lower])
            layer = plan.layers[index]
            keyed = sorted(
                (sum(weights[v.key]) / len(weights[v.key]) if v.key in weights else pos[v.key], i)
                for i, v in enumerate(layer)
            )
            plan.layers[index] = [layer[i] for _, i in keyed]
        found = crossings()
        if found < best_crossings:
            best, best_crossings = [list(layer) for layer in plan.layers], found
    plan.layers = best

    # x: one column per layer, wide enough for its widest box and the labels leaving it.
    x = float(MARGIN)
    right = x
    for index, layer in enumerate(plan.layers):
        width = max((v.box.width for v in layer if v.box), default=0.0)
        plan.layer_x.append(x)
        plan.layer_width.append(width)
        room = float(LAYER_GAP)
        for edge in edges:
            if layer_of[edge.source] == index:
                label_end = boxes[edge.source].width + 6 + text_width(edge.label, 11)
                room = max(room, label_end - width + LABEL_ROOM)
        for vertex in layer:
            if vertex.box:
                vertex.box.x = x
        right = x + width + (room if any(layer_of[e.source] == index for e in edges) else 0)
        x += width + room
    back = sum(1 for e in edges if e.is_back)
    plan.width = right + back * 6 + MARGIN

    # y: stack each layer top-down, each vertex pulled towards the ports that lead to it.
    wanted: dict[str, list[float]] = {}
    for index, layer in enumerate(plan.layers):
        previous: _Vertex | None = None
        for vertex in layer:
            pulls = wanted.get(vertex.key)
            top = sum(pulls) / len(pulls) - vertex.height / 2 if pulls else float(MARGIN)
            if previous is not None:
                gap = BOX_GAP if vertex.box and previous.box else DUMMY_GAP
                top = max(top, previous.y + previous.height + gap)
            vertex.y = max(top, float(MARGIN))
            if vertex.box:
                vertex.box.y = vertex.y
            previous = vertex
        by_key = {v.key: v for v in layer}
        for upper, row, lower in segments[index]:
            vertex = by_key[upper]
            y = vertex.box.port_y(row) if vertex.box and row is not None else vertex.y
            wanted.setdefault(lower, []).append(y)

    bottom = max((v.y + v.height for layer in plan.layers for v in layer), default=MARGIN)
    plan.height = bottom + MARGIN + (back + 1) * LANE_GAP * (1 if back else 0)
    return plan


# --------------------------------------------------------------------------- drawing


def _edge_colour(kind: str) -> str:
    colours = {"queue": PERSON, "voicemail": AMBER, "external": TEAL, "missing": BAD, "broken": BAD}
    return colours.get(kind, EDGE)


def _dash(edge: _Edge) -> str:
    if edge.kind in ("silence", "invalid"):
        return ' stroke-dasharray="6 3"'
    if edge.kind in ("closed", "language"):
        return ' stroke-dasharray="2 3"'
    return ""


def _markers(prefix: str) -> list[str]:
    out = ["<defs>"]
    for name, colour in (
        ("grey", EDGE),
        ("person", PERSON),
        ("amber", AMBER),
        ("teal", TEAL),
        ("bad", BAD),
    ):
        out.append(
            f'<marker id="{prefix}-arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    return out


def _marker_name(colour: str) -> str:
    return {EDGE: "grey", PERSON: "person", AMBER: "amber", TEAL: "teal", BAD: "bad"}[colour]


def _draw_edges(plan: _Layout, prefix: str, top: float) -> list[str]:
    """Paths first (under the boxes), each with its label at the row it leaves from."""
    boxes = plan.boxes
    vertex_y = {v.key: v.y for layer in plan.layers for v in layer}
    layer_of = {v.key: v.layer for layer in plan.layers for v in layer}
    bottom = max((v.y + v.height for layer in plan.layers for v in layer), default=MARGIN)

    # Where each edge arrives: arrivals at a box are spread along its left side, ordered by the
    # height they come from, one arrival per chain (edges of a chain share the same line).
    arrivals: dict[str, list[tuple[float, str]]] = {}
    for index, edge in enumerate(plan.edges):
        source = boxes[edge.source]
        if edge.is_back:
            arrivals.setdefault(edge.target, []).append((1e9 + index, f"back:{index}"))
            continue
        dummies = plan.chains[(edge.source, edge.target)]
        if dummies:
            arrival = (vertex_y[dummies[-1]], f"chain:{edge.source}")
        else:
            arrival = (source.port_y(edge.row), f"chain:{edge.source}")
        entries = arrivals.setdefault(edge.target, [])
        if all(name != arrival[1] for _, name in entries):
            entries.append(arrival)
    arrival_y: dict[tuple[str, str], float] = {}
    for target, entries in arrivals.items():
        box = boxes[target]
        entries.sort()
        inner = max(box.height - 16, 1.0)
        for index, (_, name) in enumerate(entries):
            arrival_y[(target, name)] = box.y + 8 + inner * (index + 1) / (len(entries) + 1)

    paths: list[str] = []
    labels: list[str] = []
    back_index = 0
    for index, edge in enumerate(plan.edges):
        source = boxes[edge.source]
        target = boxes[edge.target]
        colour = _edge_colour(target.kind)
        start_x, start_y = source.x + source.width, source.port_y(edge.row)
        if edge.is_back:
            end_y = arrival_y[(edge.target, f"back:{index}")]
            right = plan.layer_x[layer_of[edge.source]] + plan.layer_width[layer_of[edge.source]]
            lane_x = right + 14 + back_index * 6
            lane_y = bottom + LANE_GAP * (back_index + 1)
            left = target.x - 14 - back_index * 6
            back_index += 1
            d = (
                f"M{_n(start_x)},{_n(start_y + top)} L{_n(lane_x)},{_n(start_y + top)} "
                f"L{_n(lane_x)},{_n(lane_y + top)} L{_n(left)},{_n(lane_y + top)} "
                f"L{_n(left)},{_n(end_y + top)} L{_n(target.x - 1)},{_n(end_y + top)}"
            )
        else:
            points = [(start_x, start_y)]
            for dummy in plan.chains[(edge.source, edge.target)]:
                layer = layer_of[dummy]
                points.append((plan.layer_x[layer], vertex_y[dummy]))
                points.append((plan.layer_x[layer] + plan.layer_width[layer], vertex_y[dummy]))
            points.append((target.x - 1, arrival_y[(edge.target, f"chain:{edge.source}")]))
            d = f"M{_n(points[0][0])},{_n(points[0][1] + top)}"
            for i in range(1, len(points)):
                (x0, y0), (x1, y1) = points[i - 1], points[i]
                if i % 2 == 1:  # across a gap between layers: a smooth curve
                    mid = (x0 + x1) / 2
                    d += (
                        f" C{_n(mid)},{_n(y0 + top)} {_n(mid)},{_n(y1 + top)}"
                        f" {_n(x1)},{_n(y1 + top)}"
                    )
                else:  # through a layer, between its boxes
                    d += f" L{_n(x1)},{_n(y1 + top)}"
        key_attr = f" data-key={_attr(edge.key)}" if edge.key is not None else ""
        paths.append(
            f'<g class="ivr-edge" data-from={_attr(edge.source)} data-to={_attr(target.node_id)} '
            f'data-kind="{edge.kind}"{key_attr}>'
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.4"{_dash(edge)} '
            f'marker-end="url(#{prefix}-arrow-{_marker_name(colour)})"/></g>'
        )
        labels.append(
            f'<text class="ivr-edge-label" data-kind="{edge.kind}" x="{_n(start_x + 6)}" '
            f'y="{_n(start_y + top - 4)}" font-size="11" fill="{colour}" stroke="#ffffff" '
            f'stroke-width="3" paint-order="stroke">{_esc(_clean(edge.label))}</text>'
        )
    return paths + labels


def _draw_box(box: _Box, index: int, prefix: str, top: float) -> list[str]:
    fill, stroke = KIND_COLOURS[box.kind]
    dash = ' stroke-dasharray="5 3"' if box.kind in ("external", "missing", "broken") else ""
    y0 = box.y + top
    out = [
        f'<g class="ivr-node" id="{prefix}-n{index}" data-node={_attr(box.node_id)} '
        f'data-kind="{box.kind}">',
        f"<title>{_esc(_clean(box.tooltip))}</title>",
        f'<rect class="ivr-box" x="{_n(box.x)}" y="{_n(y0)}" width="{_n(box.width)}" '
        f'height="{_n(box.height)}" rx="6" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{"2.5" if box.kind in ("queue", "voicemail") else "1.5"}"{dash}/>',
    ]
    for row_index, row in enumerate(box.rows):
        row_top = box.row_top(row_index) + top
        baseline = row_top + row.height / 2 + row.size * 0.36
        x = box.x + PAD_X + row.indent
        if row.style == "badge":
            colour = ACCENT if row.tone == "start" else AMBER
            width = text_width(row.text, row.size) + 12
            out.append(
                f'<rect x="{_n(x)}" y="{_n(row_top + 2)}" width="{_n(width)}" '
                f'height="{_n(row.height - 4)}" rx="8" fill="{colour}"/>'
            )
            out.append(
                f'<text class="ivr-badge" x="{_n(x + 6)}" y="{_n(baseline)}" font-size="11" '
                f'fill="#ffffff">{_esc(row.text)}</text>'
            )
            continue
        group_open = row.key is not None
        if group_open:
            out.append(f'<g class="ivr-choice" data-key={_attr(row.key or "")}>')
            if row.tone == "person":
                out.append(
                    f'<rect x="{_n(box.x + 2)}" y="{_n(row_top + 1)}" '
                    f'width="{_n(box.width - 4)}" height="{_n(row.height - 2)}" rx="3" '
                    f'fill="{PERSON_BG}"/>'
                )
            pill = row._pill_width()
            pill_colour = PERSON if row.tone == "person" else stroke
            out.append(
                f'<rect x="{_n(x)}" y="{_n(row_top + 3)}" width="{_n(pill)}" '
                f'height="{_n(row.height - 6)}" rx="3" fill="{pill_colour}"/>'
            )
            out.append(
                f'<text class="ivr-key" x="{_n(x + pill / 2)}" y="{_n(baseline)}" '
                f'font-size="{_n(row.size)}" font-weight="bold" fill="#ffffff" '
                f'text-anchor="middle">{_esc(row.key or "")}</text>'
            )
            x += pill + 6
        colour = TEXT
        weight = ""
        style = ""
        if row.style == "title":
            weight = ' font-weight="bold"'
        elif row.style in ("kind", "keywords", "note"):
            colour = MUTED
        elif row.style == "exit":
            style = ' font-style="italic"'
        if row.tone == "person" and row.style == "note":
            colour = PERSON
        if row.tone == "bad":
            colour, weight = BAD, ' font-weight="bold"'
        css_class = {"title": "node-id"}.get(row.style, row.style)
        out.append(
            f'<text class="ivr-{css_class}" x="{_n(x)}" y="{_n(baseline)}" '
            f'font-size="{_n(row.size)}" fill="{colour}"{weight}{style}>{_esc(row.text)}</text>'
        )
        if row.suffix:
            x += text_width(row.text, row.size) + 6
            out.append(
                f'<text class="ivr-person-rule" x="{_n(x)}" y="{_n(baseline)}" '
                f'font-size="{_n(row.size)}" font-weight="bold" fill="{PERSON}">'
                f"{_esc(row.suffix)}</text>"
            )
        if group_open:
            out.append("</g>")
        if row.is_port:
            out.append(
                f'<circle cx="{_n(box.x + box.width)}" cy="{_n(row_top + row.height / 2)}" '
                f'r="2.5" fill="{stroke}"/>'
            )
    out.append("</g>")
    if box.href:
        out = [f"<a href={_attr(box.href)}>", *out, "</a>"]
    return out


def _legend(
    script: Script, labels: dict[str, str]
) -> tuple[list[tuple[str, float, str, bool]], float]:
    """The lines above the drawing: name, settings and the rules the engine adds by itself."""
    lines = [
        (f"{script.line}.{script.language}", 15.0, TEXT, True),
        (
            labels["settings"].format(
                voice=script.voice or "-",
                rate=script.rate_percent,
                timeout=script.input_timeout_seconds,
                steps=script.max_steps,
            ),
            12.0,
            MUTED,
            False,
        ),
        (
            labels["rule_menu"].format(not_understood=script.messages.get("not_understood", "")),
            12.0,
            TEXT,
            False,
        ),
        (labels["rule_closed"].format(closed=script.closed_route or "-"), 12.0, TEXT, False),
    ]
    out = [(_clean(text), size, colour, bold) for text, size, colour, bold in lines]
    width = max(text_width(text, size, bold=bold) for text, size, _, bold in out)
    return out, width


def diagram_filename(script: Script, extension: str = "svg") -> str:
    """`main.zh-CN.svg` for the main line's Mandarin script."""
    return f"{script.line}.{script.language}.{extension}"


def render_svg(
    script: Script,
    *,
    lang: str = "en",
    link_for: Callable[[str, str], str | None] | None = None,
    standalone: bool = True,
) -> str:
    """The diagram of `script` as SVG text.

    `lang` picks the language of the diagram's own labels ("en" or "zh"; the script's text is
    shown as written). `link_for(line, language)` gives the link for a switch to another
    language's script (default: the sibling file, `main.yue-HK.svg`). `standalone=False` leaves
    out the XML declaration, for embedding the SVG in an HTML page.
    """
    labels = LABELS.get(lang, LABELS["en"])
    if link_for is None:

        def link_for(line: str, language: str) -> str | None:
            return f"{line}.{language}.svg"

    boxes, edges = _build(script, labels, link_for)
    plan = _layout(script, boxes, edges)
    prefix = "ivr-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{script.line}-{script.language}")

    legend, legend_width = _legend(script, labels)
    legend_height = sum(size + 8 for _, size, _, _ in legend) + 30
    swatches = [
        ("queue", labels["legend_person"]),
        ("voicemail", labels["legend_voicemail"]),
        ("menu", labels["legend_menu"]),
        ("external", labels["legend_external"]),
        ("missing", labels["legend_missing"]),
    ]
    swatch_width = sum(30 + text_width(text, 11) + 16 for _, text in swatches)
    top = legend_height
    width = max(plan.width, MARGIN * 2 + legend_width, MARGIN * 2 + swatch_width)
    height = plan.height + top

    title = f"IVR {script.line}.{script.language}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ivr-diagram" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'font-family="{FONT_FAMILY}" role="img" aria-labelledby="{prefix}-title">',
        f'<title id="{prefix}-title">{_esc(_clean(title))}</title>',
        *_markers(prefix),
        f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
    ]
    y = 12.0
    for text, size, colour, bold in legend:
        y += size + 8
        weight = ' font-weight="bold"' if bold else ""
        out.append(
            f'<text class="ivr-legend" x="{MARGIN}" y="{_n(y - 4)}" font-size="{_n(size)}" '
            f'fill="{colour}"{weight}>{_esc(text)}</text>'
        )
    x = float(MARGIN)
    y += 6
    for kind, text in swatches:
        fill, stroke = KIND_COLOURS[kind]
        dash = ' stroke-dasharray="4 2"' if kind in ("external", "missing") else ""
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="24" height="12" rx="3" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        )
        out.append(
            f'<text class="ivr-legend" x="{_n(x + 30)}" y="{_n(y + 10)}" font-size="11" '
            f'fill="{MUTED}">{_esc(text)}</text>'
        )
        x += 30 + text_width(text, 11) + 16

    out.extend(_draw_edges(plan, prefix, top))
    for index, box in enumerate(plan.boxes.values()):
        out.extend(_draw_box(box, index, prefix, top))
    out.append("</svg>")
    body = "\n".join(out) + "\n"
    if standalone:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return body


# --------------------------------------------------------------------------- files


def drawable_scripts(directory: str | Path) -> tuple[list[Script], list[str]]:
    """Every script in `directory` that can be read, valid or not, and the checker's errors.

    A script with errors is still drawn (missing nodes in red), because seeing the broken menu
    is how its author finds the break.
    """
    from hotline.ivr import check

    _valid, errors = check.check_directory(directory)
    root = Path(directory)
    scripts: list[Script] = []
    if root.is_dir():
        for path in sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml")):
            # The checker's own parser, so the picture shows exactly what the checker read.
            script, _errors = check.parse_file(path)
            if script is not None:
                scripts.append(script)
    return scripts, errors


def write_diagrams(scripts: list[Script], out_dir: str | Path, *, lang: str = "en") -> list[Path]:
    """Write `<line>.<language>.svg` for each script into `out_dir`; returns the paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for script in scripts:
        path = folder / diagram_filename(script)
        path.write_text(render_svg(script, lang=lang), encoding="utf-8")
        written.append(path)
    return written
