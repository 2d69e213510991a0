"""IVR scripts as typed objects.

A script is data (`ivr_scripts/<line>.<language>.yaml`), one file per line and language, with a
`spec_version`. Loading turns the YAML into these frozen dataclasses; `hotline.ivr.check`
validates them and reports every problem with the file and the node.

Node kinds:
- `say`: speak a prompt (TTS text, or an audio file) and go on to `next`.
- `menu`: speak a prompt and wait for a key or a spoken word; `choices` (at most 4 besides key 0,
  which every menu must have and which must reach a person), `*` repeats the prompt,
  `on_timeout` and `on_invalid` must reach a person.
- `language`: offer other languages; silence keeps the current one and goes on to `next`.
- `preference`: remember "next time put me straight through to a person" and go on to `next`.
- `hours`: branch on the line's opening hours (working days, Chinese holidays, make-up days).
- `queue`: go to the operator queue (optionally recording a scenario).
- `voicemail`: record a message, thank the caller, and schedule a callback.
- `goodbye`: say goodbye and hang up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPEC_VERSION = 1

NODE_KINDS = ("say", "menu", "language", "preference", "hours", "queue", "voicemail", "goodbye")
INPUT_KINDS = ("menu",)
SCENARIOS = (
    "emergency",
    "travel",
    "medical",
    "consumption",
    "culture",
    "affairs",
    "smart_devices",
    "other",
)
LANGUAGES = ("zh-CN", "yue-HK", "en-US")
#: Messages the engine itself speaks; every script must provide each of them.
REQUIRED_MESSAGES = (
    "greet_known",  # "{name},您好!" before the first prompt for a known caller
    "not_understood",  # after silence or an unknown key, before repeating the prompt
    "to_person",  # when the engine sends the caller to a person
    "queue_wait",  # spoken while waiting in the queue
    "voicemail_thanks",  # after a recorded message
)


@dataclass(frozen=True)
class Prompt:
    """What to play: TTS text, or a recorded audio file (which replaces TTS for this prompt)."""

    text: str = ""
    audio_url: str | None = None


@dataclass(frozen=True)
class Choice:
    """One menu choice: a key, spoken keywords, and where it goes."""

    key: str
    next: str
    keywords: tuple[str, ...] = ()
    label: str = ""
    #: Recorded on the call when chosen (one of SCENARIOS).
    scenario: str | None = None
    #: For language nodes: the language this choice switches to.
    language: str | None = None


@dataclass(frozen=True)
class Node:
    """One step of a script."""

    id: str
    kind: str
    prompt: Prompt = field(default_factory=Prompt)
    next: str | None = None
    choices: tuple[Choice, ...] = ()
    on_timeout: str | None = None
    on_invalid: str | None = None
    open: str | None = None
    closed: str | None = None
    scenario: str | None = None
    max_length_seconds: int = 120
    #: Key timeout for this node (seconds); None uses the script's input_timeout.
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class Script:
    """One line's script in one language."""

    path: str
    line: str
    language: str
    spec_version: int
    voice: str
    rate_percent: int
    input_timeout_seconds: int
    max_steps: int
    start: str
    closed_route: str
    messages: dict[str, str]
    nodes: dict[str, Node]
    #: Ids of nodes that were declared but could not be read (already reported); references
    #: to them are not reported again.
    broken_ids: frozenset[str] = frozenset()

    def node(self, node_id: str) -> Node:
        """Return a node by id (KeyError when absent)."""
        return self.nodes[node_id]


@dataclass
class ScriptSet:
    """Every valid script, indexed by (line, language)."""

    scripts: dict[tuple[str, str], Script] = field(default_factory=dict)

    def get(self, line: str, language: str) -> Script | None:
        """The script for `line` in `language`, or None."""
        return self.scripts.get((line, language))

    def languages(self, line: str) -> list[str]:
        """Languages that `line` has scripts for."""
        return sorted(lang for (name, lang) in self.scripts if name == line)
