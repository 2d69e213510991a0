"""The IVR picture: every shipped script drawn as a readable, well-formed, deterministic SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.ivr.check import check_directory
from hotline.ivr.diagram import (
    KIND_COLOURS,
    MAX_TEXT_WIDTH,
    PAD_X,
    drawable_scripts,
    render_svg,
)
from hotline.ivr.schema import NODE_KINDS, Choice, Node, Prompt, Script

SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"
NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def shipped() -> list[Script]:
    scripts, errors = check_directory(SHIPPED)
    assert errors == []
    assert len(scripts.scripts) >= 3
    return [scripts.scripts[key] for key in sorted(scripts.scripts)]


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == NS + "svg"
    return root


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-node"): g for g in root.iter(NS + "g") if g.get("class") == "ivr-node"}


def _edges(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(NS + "g") if g.get("class") == "ivr-edge"]


def _texts(element: ET.Element, css_class: str | None = None) -> list[str]:
    return [
        "".join(t.itertext())
        for t in element.iter(NS + "text")
        if css_class is None or t.get("class") == css_class
    ]


def _box(group: ET.Element) -> tuple[float, float, float, float]:
    rect = next(r for r in group.iter(NS + "rect") if r.get("class") == "ivr-box")
    return tuple(float(rect.get(a)) for a in ("x", "y", "width", "height"))


def _assert_no_boxes_overlap(root: ET.Element) -> None:
    boxes = {name: _box(group) for name, group in _nodes(root).items()}
    for (a, (ax, ay, aw, ah)), (b, (bx, by, bw, bh)) in combinations(boxes.items(), 2):
        apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
        assert apart, f"boxes {a!r} and {b!r} overlap"


def _assert_inside_canvas(root: ET.Element) -> None:
    width, height = float(root.get("width")), float(root.get("height"))
    for name, group in _nodes(root).items():
        x, y, w, h = _box(group)
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, name


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_diagrams_name_every_node_key_and_keyword(shipped, lang):
    for script in shipped:
        root = _parse(render_svg(script, lang=lang))
        groups = _nodes(root)
        for node in script.nodes.values():
            assert node.id in groups, f"{script.path}: node {node.id} not drawn"
            group = groups[node.id]
            assert node.id in _texts(group, "ivr-node-id")
            assert group.get("data-kind") == node.kind
            if node.kind != "menu":
                continue
            shown = " ".join(_texts(group))
            for choice in node.choices:
                rows = [
                    g
                    for g in group.iter(NS + "g")
                    if g.get("class") == "ivr-choice" and g.get("data-key") == choice.key
                ]
                assert len(rows) == 1, f"{node.id}: key {choice.key} drawn {len(rows)} times"
                assert _texts(rows[0], "ivr-key") == [choice.key]
                assert choice.label in shown
                for keyword in choice.keywords:
                    assert keyword in shown, f"{node.id}: keyword {keyword!r} not shown"
                if choice.scenario:
                    assert choice.scenario in shown
        _assert_no_boxes_overlap(root)
        _assert_inside_canvas(root)


def test_shipped_diagrams_mark_where_silence_and_invalid_input_go(shipped):
    for script in shipped:
        root = _parse(render_svg(script))
        edges = {
            (e.get("data-from"), e.get("data-kind"), e.get("data-key")): e.get("data-to")
            for e in _edges(root)
        }
        labels = {(t.get("data-kind"), "".join(t.itertext())) for t in root.iter(NS + "text")}
        menus = [n for n in script.nodes.values() if n.kind == "menu"]
        assert menus or script.line == "nomenu"
        for menu in menus:
            assert edges[(menu.id, "silence", None)] == menu.on_timeout
            assert edges[(menu.id, "invalid", None)] == menu.on_invalid
            for choice in menu.choices:
                assert edges[(menu.id, "choice", choice.key)] == choice.next
        if menus:
            assert ("silence", "silence") in labels
            assert ("invalid", "invalid") in labels
        for node in script.nodes.values():
            for kind in ("next", "open", "closed"):
                target = getattr(node, kind)
                if target and node.kind != "language":
                    assert edges[(node.id, kind, None)] == target


def test_shipped_diagrams_mark_language_switches_the_closed_route_and_key_zero(shipped):
    for script in (s for s in shipped if s.line == "main"):
        root = _parse(render_svg(script))
        groups = _nodes(root)
        # The languages are offered inside the first menu (no separate language prompt).
        language = next(n for n in script.nodes.values() if n.languages)
        for choice in language.languages:
            other = f"{script.line}.{choice.language}"
            assert groups[other].get("data-kind") == "external"
            edge = next(
                e
                for e in _edges(root)
                if e.get("data-from") == language.id and e.get("data-key") == choice.key
            )
            assert (edge.get("data-kind"), edge.get("data-to")) == ("language", other)
        links = [a.get("href") for a in root.iter(NS + "a")]
        assert sorted(links) == sorted(
            f"{script.line}.{c.language}.svg" for c in language.languages
        )

        closed = groups[script.closed_route]
        assert any("closed_route" in text for text in _texts(closed, "ivr-badge"))
        assert any("closed_route" in text for text in _texts(root, "ivr-legend"))
        assert any(text == "start" for text in _texts(groups[script.start], "ivr-badge"))

        for node in script.nodes.values():
            if node.kind == "menu":
                zero = next(
                    g
                    for g in groups[node.id].iter(NS + "g")
                    if g.get("class") == "ivr-choice" and g.get("data-key") == "0"
                )
                assert _texts(zero, "ivr-person-rule") == ["= person, always"]
            fill = _box_fill(groups[node.id])
            if node.kind == "queue":
                assert fill == KIND_COLOURS["queue"][0], "a person is green"
            if node.kind == "voicemail":
                assert fill == KIND_COLOURS["voicemail"][0], "voicemail is amber"


def _box_fill(group: ET.Element) -> str:
    return next(r for r in group.iter(NS + "rect") if r.get("class") == "ivr-box").get("fill")


def test_the_same_script_gives_the_same_bytes(shipped):
    again, _ = check_directory(SHIPPED)
    for script in shipped:
        first = render_svg(script)
        assert render_svg(script) == first
        assert render_svg(again.get(script.line, script.language)) == first
        assert render_svg(script, lang="zh") == render_svg(script, lang="zh")


def _write_script(folder: Path, nodes_yaml: str, *, line: str = "test") -> Path:
    path = folder / f"{line}.zh-CN.yaml"
    path.write_text(
        f"""spec_version: 1
line: {line}
language: zh-CN
voice: Polly.Zhiyu
start: welcome
closed_route: closed
messages:
  greet_known: "{{name}},您好!"
  not_understood: "<没听清> & \\"再说\\""
  to_person: "转人工"
  queue_wait: "请稍等"
  voicemail_thanks: "谢谢"
nodes:
{nodes_yaml}""",
        encoding="utf-8",
    )
    return path


LONG_CJK = "请您注意听清楚下面的每一个选项然后再按键" * 12


def test_xml_special_characters_and_long_cjk_text_are_escaped_and_fit(tmp_path):
    _write_script(
        tmp_path,
        f"""  - id: welcome
    type: say
    say: "<script>alert('x')</script> & \\"quotes\\" {LONG_CJK}"
    next: "menu<&>"
  - id: "menu<&>"
    type: menu
    say: "{LONG_CJK}"
    choices:
      - {{key: "0", label: "人工 & <客服>", keywords: ["<人工>", "a&b"], next: operator}}
      - {{key: "1", label: "{LONG_CJK}", scenario: medical, keywords: [{", ".join(["看病挂号找医生"] * 30)}], next: operator}}
      - {{key: "2", label: "Very long English label that just keeps on going and going", next: nowhere}}
    on_timeout: operator
    on_invalid: operator
  - id: operator
    type: queue
  - id: closed
    type: say
    say: "下班了"
    next: voicemail
  - id: voicemail
    type: voicemail
    say: "请留言"
""",
    )
    scripts, errors = drawable_scripts(tmp_path)
    assert any("nowhere" in e for e in errors), "the checker still reports the broken script"
    (script,) = scripts
    svg = render_svg(script)
    assert "<script" not in svg and "alert('x')</script>" not in svg
    assert "&lt;script&gt;" in svg
    root = _parse(svg)  # well-formed: everything was escaped
    groups = _nodes(root)
    assert set(groups) >= {"welcome", "menu<&>", "operator", "closed", "voicemail", "nowhere"}
    assert _texts(groups["menu<&>"], "ivr-node-id") == ["menu<&>"]
    assert groups["nowhere"].get("data-kind") == "missing"
    shown = _texts(groups["menu<&>"])
    assert any("人工 & <客服>" in text for text in shown)
    assert any("<人工>, a&b" in text for text in shown)
    assert any('“<没听清> & "再说"”' in text for text in _texts(root, "ivr-legend"))

    # Long text is wrapped to a few lines and cut with "…", so boxes stay a readable size.
    prompt_lines = _texts(groups["welcome"], "ivr-prompt")
    assert len(prompt_lines) == 2 and prompt_lines[-1].endswith("…")
    for group in groups.values():
        assert _box(group)[2] <= MAX_TEXT_WIDTH + 2 * PAD_X + 1
    _assert_no_boxes_overlap(root)
    _assert_inside_canvas(root)


def test_nodes_with_errors_are_drawn_as_broken_and_odd_targets_as_missing(tmp_path):
    _write_script(
        tmp_path,
        """  - id: welcome
    type: say
    say: "你好"
    next: oops
  - id: oops
    type: wrong
  - id: closed
    type: say
    say: "下班了"
    next: 42
""",
    )
    (script,), errors = drawable_scripts(tmp_path)
    assert any("oops" in e for e in errors)
    root = _parse(render_svg(script, lang="zh"))
    groups = _nodes(root)
    assert groups["oops"].get("data-kind") == "broken"
    assert "节点有错误" in _texts(groups["oops"])
    # A target that is not a node id is the checker's error, not an arrow to nowhere.
    assert any("next must be a node id, got 42" in e for e in errors)
    assert "42" not in groups
    _assert_no_boxes_overlap(root)


# A script of any shape (loops, dead ends, missing nodes, many choices) still draws cleanly.
_ids = st.lists(
    st.text(alphabet="abc长者服务热线&<>\"' _-", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool),
    min_size=1,
    max_size=28,
    unique=True,
)


@st.composite
def _scripts(draw) -> Script:
    ids = draw(_ids)
    targets = st.sampled_from([*ids, "missing-one", "missing-two"])
    nodes = {}
    for node_id in ids:
        kind = draw(st.sampled_from(NODE_KINDS))
        choices = ()
        if kind in ("menu", "language"):
            keys = draw(st.lists(st.sampled_from("0123456789"), max_size=6, unique=True))
            choices = tuple(
                Choice(
                    key=key,
                    next=draw(targets),
                    keywords=tuple(
                        draw(st.lists(st.sampled_from(["看病", "医院", "x&y"]), max_size=4))
                    ),
                    label=draw(st.sampled_from(["", "人工", "Travel <and> more", LONG_CJK])),
                    language=draw(st.sampled_from(["yue-HK", "en-US"]))
                    if kind == "language"
                    else None,
                )
                for key in keys
            )
        optional = st.one_of(st.none(), targets)
        nodes[node_id] = Node(
            id=node_id,
            kind=kind,
            prompt=Prompt(text=draw(st.sampled_from(["", "你好", LONG_CJK, "a < b & c"]))),
            next=draw(optional),
            choices=choices,
            on_timeout=draw(optional) if kind == "menu" else None,
            on_invalid=draw(optional) if kind == "menu" else None,
            open=draw(optional) if kind == "hours" else None,
            closed=draw(optional) if kind == "hours" else None,
        )
    return Script(
        path="generated.zh-CN.yaml",
        line="generated",
        language="zh-CN",
        spec_version=1,
        voice="",
        rate_percent=85,
        input_timeout_seconds=9,
        max_steps=10,
        start=draw(st.sampled_from(ids)),
        closed_route=draw(st.sampled_from(ids)),
        messages={"not_understood": "?"},
        nodes=nodes,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scripts())
def test_any_script_draws_every_node_without_overlapping_boxes(script):
    svg = render_svg(script)
    assert svg == render_svg(script)
    root = _parse(svg)
    groups = _nodes(root)
    assert set(script.nodes) <= set(groups)
    for node_id in script.nodes:
        assert _texts(groups[node_id], "ivr-node-id") == [" ".join(node_id.split())]
    _assert_no_boxes_overlap(root)
    _assert_inside_canvas(root)


# --------------------------------------------------------------------------- CLI


def test_cli_writes_one_svg_per_script(runner, shipped, tmp_path):
    out = tmp_path / "diagrams"
    result = runner.invoke(args=["ivr", "diagram", "--dir", str(SHIPPED), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{s.line}.{s.language}.svg" for s in shipped)
    for script in shipped:
        path = out / f"{script.line}.{script.language}.svg"
        assert f"wrote {path}" in result.output
        assert path.read_text(encoding="utf-8") == render_svg(script)


def test_cli_draws_a_broken_directory_and_exits_1_with_the_checker_messages(runner, tmp_path):
    broken = tmp_path / "scripts"
    broken.mkdir()
    original = (SHIPPED / "main.zh-CN.yaml").read_text(encoding="utf-8")
    assert "next: travel_affairs" in original
    (broken / "main.zh-CN.yaml").write_text(
        original.replace("next: travel_affairs", "next: travel_affair"), encoding="utf-8"
    )
    _, expected = check_directory(broken)
    assert expected, "the edited script must be broken"
    out = tmp_path / "out"
    result = runner.invoke(args=["ivr", "diagram", "--dir", str(broken), "--out", str(out)])
    assert result.exit_code == 1
    for message in expected:
        assert message in result.output
    # The broken script is still drawn, with the node it names but lacks marked missing.
    root = _parse((out / "main.zh-CN.svg").read_text(encoding="utf-8"))
    assert _nodes(root)["travel_affair"].get("data-kind") == "missing"


def test_cli_fails_for_a_folder_without_scripts(runner, tmp_path):
    result = runner.invoke(args=["ivr", "diagram", "--dir", str(tmp_path), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no IVR scripts" in result.output


def test_cli_offers_svg_only(runner, tmp_path):
    out = tmp_path / "diagrams"
    result = runner.invoke(args=["ivr", "diagram", "--format", "png", "--out", str(out)])
    assert result.exit_code == 2
    assert "Invalid value for '--format': 'png'" in result.output
    assert not out.exists()
    help_text = runner.invoke(args=["ivr", "diagram", "--help"]).output
    assert "SVG only" in help_text
