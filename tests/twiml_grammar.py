"""A TwiML grammar derived from the twilio SDK's own generated classes, and a checker.

twilio/twiml/voice_response.py defines one class per element; each class has one method per
child element it allows (its body nests that class) and the method's parameters are the
attributes (snake_case, written lowerCamel). We read that structure once and check every TwiML
document the tests receive against it: a misspelled attribute or a verb nested where Twilio does
not allow it fails the test that produced it.
"""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET
from functools import lru_cache

from twilio.twiml import TwiML, format_language, lower_camel, messaging_response, voice_response  # noqa: F401

_NEST = re.compile(r"self\.nest\(\s*(\w+)\(")


def _tag(cls: type[TwiML]) -> str | None:
    try:
        instance = cls()
    except TypeError:
        try:
            instance = cls("x")
        except TypeError:
            return None
    return instance.name


def _attribute_names(cls: type[TwiML], params: list[str]) -> set[str]:
    """The XML attribute names the SDK writes for these keyword parameters."""
    try:
        instance = cls(**{p: "x" for p in params})
    except TypeError:
        try:
            instance = cls("x", **{p: "x" for p in params})
        except TypeError:
            return {lower_camel(p) for p in params}
    return set(instance.attrs)


@lru_cache(maxsize=2)
def grammar(module_name: str = "voice") -> dict[str, dict[str, set[str]]]:
    """{tag: {"children": {tags}, "attributes": {names}}} for every element of the module."""
    module = voice_response if module_name == "voice" else messaging_response
    classes = {
        name: cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, TwiML) and cls is not TwiML
    }
    tags = {name: _tag(cls) for name, cls in classes.items()}
    result: dict[str, dict[str, set[str]]] = {}
    # Attributes of an element are the parameters of the parent method that creates it.
    attributes: dict[str, set[str]] = {}
    for name, cls in classes.items():
        children: set[str] = set()
        for meth_name, meth in vars(cls).items():
            if not callable(meth) or meth_name.startswith("_"):
                continue
            try:
                source = inspect.getsource(meth)
            except (OSError, TypeError):
                continue
            match = _NEST.search(source)
            if not match or match.group(1) not in classes:
                continue
            child_tag = tags[match.group(1)]
            if child_tag is None:
                continue
            children.add(child_tag)
            params = [
                p
                for p in inspect.signature(meth).parameters
                if p
                not in (
                    "self",
                    "kwargs",
                    "message",
                    "words",
                    "name",
                    "number",
                    "url",
                    "queue_name",
                    "sip_url",
                    "phone_number",
                    "client_identity",
                    "text",
                    "identity",
                    "body",
                    "digits",
                    "alphabet",
                )
            ]
            attributes.setdefault(child_tag, set()).update(
                _attribute_names(classes[match.group(1)], params)
            )
        if tags[name]:
            result.setdefault(tags[name], {"children": set(), "attributes": set()})
            result[tags[name]]["children"] |= children
    for tag, attrs in attributes.items():
        result.setdefault(tag, {"children": set(), "attributes": set()})
        result[tag]["attributes"] |= attrs
    return result


def check_twiml(document: str, module_name: str = "voice") -> list[str]:
    """Return the grammar violations in a TwiML document (empty list when it is valid)."""
    rules = grammar(module_name)
    problems: list[str] = []
    try:
        root = ET.fromstring(document.encode() if isinstance(document, str) else document)
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    if root.tag != "Response":
        return [f"root element is <{root.tag}>, not <Response>"]

    def visit(element: ET.Element, path: str) -> None:
        allowed = rules.get(element.tag)
        if allowed is None:
            problems.append(f"{path}: unknown element <{element.tag}>")
            return
        for attr in element.attrib:
            if attr not in allowed["attributes"]:
                problems.append(f"{path}: <{element.tag}> has no attribute {attr!r}")
        for child in element:
            if child.tag not in allowed["children"]:
                problems.append(f"{path}: <{child.tag}> is not allowed inside <{element.tag}>")
            else:
                visit(child, f"{path}/{child.tag}")

    visit(root, "Response")
    return problems
