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
  (Older scripts only: a separate language prompt costs every caller a prompt. A menu's
  `languages` offers the languages inside the first prompt instead.)
- `ask`: the "no menu" intake (GB/T 33358): "请说您要办的事", wait once, keep whatever the
  caller says for the operator (no branching), and go on to `next` (which must reach a person).
- `preference`: remember "next time put me straight through to a person" and go on to `next`.
- `hours`: branch on the line's opening hours (working days, Chinese holidays, make-up days).
- `queue`: go to the operator queue (optionally recording a scenario).
- `voicemail`: record a message, thank the caller, and schedule a callback.
- `goodbye`: say goodbye and hang up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPEC_VERSION = 1

NODE_KINDS = (
    "say",
    "menu",
    "language",
    "ask",
    "preference",
    "hours",
    "queue",
    "voicemail",
    "goodbye",
)
INPUT_KINDS = ("menu",)
#: Nodes where the engine waits for the caller (a Gather): emergency words are heard at each.
GATHER_KINDS = ("menu", "language", "ask")
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
#: Messages a script may give; the engine has these defaults (per language) otherwise.
OPTIONAL_MESSAGES: dict[str, dict[str, str]] = {
    # A blocked caller: polite, short, and nothing about why (the voicemail prompt follows).
    "blocked": {
        "zh-CN": "您好,这里是长者服务热线。",
        "yue-HK": "您好,呢度系长者服务热线。",
        "en-US": "Hello, this is the Elder Service Hotline.",
    },
    # A consented family contact calling: the elder's name first, then the usual first prompt.
    "greet_family": {
        "zh-CN": "您好,您是为{elder}来电的吧。",
        "yue-HK": "您好,您系为{elder}打嚟嘅吧。",
        "en-US": "Hello. Are you calling about {elder}?",
    },
    # ...who may ask for a callback to the elder: the key is the script's family_callback_key.
    "family_callback_offer": {
        "zh-CN": "要我们给{elder}回电话,请按{key}。",
        "yue-HK": "要我哋覆电俾{elder},请按{key}。",
        "en-US": "For us to call {elder} back, press {key}.",
    },
    # A line that records conversations with operators: one sentence in the greeting (consent).
    "recording_notice": {
        "zh-CN": "与工作人员的通话会录音。",
        "yue-HK": "同职员嘅通话会录音。",
        "en-US": "Calls are recorded.",
    },
    "family_callback_done": {
        "zh-CN": "好的,我们会尽快给{elder}回电话。再见。",
        "yue-HK": "好,我哋会尽快覆电俾{elder}。再见。",
        "en-US": "All right. We will call {elder} back soon. Goodbye.",
    },
    # An elder enrolled in check-ins (关爱回访) calling before today's check-in: the key is the
    # script's checkin_key; pressing it confirms today's check-in.
    "checkin_offer": {
        "zh-CN": "今天报平安,请按{key}。",
        "yue-HK": "今日报平安,请按{key}。",
        "en-US": "To check in for today, press {key}.",
    },
    "checkin_done": {
        "zh-CN": "好的,已为您报平安。祝您身体健康,再见。",
        "yue-HK": "好,已经同您报咗平安。祝您身体健康,再见。",
        "en-US": "Thank you, you are checked in for today. Goodbye.",
    },
}
#: Spoken words that ask for a callback to the elder (family contacts), beside the key.
FAMILY_CALLBACK_WORDS = {
    "zh-CN": ("回电话", "回电", "打回去"),
    "yue-HK": ("覆电", "打返俾"),
    "en-US": ("call back", "callback", "call her back", "call him back"),
}


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
    #: Menus: what to say after the first silence or unknown key, instead of the whole prompt
    #: (keeps the silence path short; `*` still repeats the whole prompt).
    retry_prompt: Prompt | None = None
    #: Menus: languages offered in this prompt (key, language, keywords), not counted as choices;
    #: switching continues at the node with the same id in the other language's script.
    languages: tuple[Choice, ...] = ()
    #: Menus: the sentence that offers those languages, spoken after the prompt on its first
    #: play, and not to a caller whose language is already known.
    languages_prompt: Prompt | None = None


@dataclass(frozen=True)
class EmergencyKind:
    """One kind of emergency (medical, fire, police): the words that reveal it, in one language,
    and the one sentence that tells the caller which number to dial."""

    kind: str
    words: tuple[str, ...]
    say: str


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
    #: Emergency words and messages: the shared list (hotline/ivr/emergency.yaml) with this
    #: script's own additions and overrides (its `emergency:` section).
    emergency: tuple[EmergencyKind, ...] = ()
    #: Key a consented family contact presses to ask for a callback to the elder (None: off).
    family_callback_key: str | None = None
    #: Key an enrolled elder presses to check in for today ("check in now"; None: off).
    checkin_key: str | None = None
    #: Ids of nodes that were declared but could not be read (already reported); references
    #: to them are not reported again.
    broken_ids: frozenset[str] = frozenset()

    def node(self, node_id: str) -> Node:
        """Return a node by id (KeyError when absent)."""
        return self.nodes[node_id]

    def message(self, name: str) -> str:
        """A message from the script, or the engine's default for an optional one."""
        if name in self.messages:
            return self.messages[name]
        defaults = OPTIONAL_MESSAGES[name]
        return defaults.get(self.language) or defaults["zh-CN"]


#: Messages every check-in script (ivr_scripts/checkin.<language>.yaml) must give.
CHECKIN_MESSAGES = (
    "greet",  # "{name},您好!这里是{line}的关爱回访。" ({name}: how the line addresses the elder)
    "question",  # "一切都好请按1或说'好';需要帮助请按0或直接说。"
    "not_understood",  # after silence or an unknown key, before the question again
    "ok_goodbye",  # after 1 / 好: thanks and goodbye
    "to_person",  # before the queue (0, words that are not "all is well", silence twice)
)


@dataclass(frozen=True)
class CheckinScript:
    """The check-in call (关爱回访) in one language: a greeting by name, one question (1 or a
    word for "all is well", 0 or any other words for a person), and the emergency words."""

    path: str
    language: str
    voice: str
    rate_percent: int
    input_timeout_seconds: int
    messages: dict[str, str]
    #: Words meaning "all is well" (好, 没事 ...), matched anywhere in what was heard.
    ok_words: tuple[str, ...]
    emergency: tuple[EmergencyKind, ...] = ()


@dataclass
class ScriptSet:
    """Every valid script, indexed by (line, language); the check-in scripts by language."""

    scripts: dict[tuple[str, str], Script] = field(default_factory=dict)
    checkins: dict[str, CheckinScript] = field(default_factory=dict)

    def get(self, line: str, language: str) -> Script | None:
        """The script for `line` in `language`, or None."""
        return self.scripts.get((line, language))

    def languages(self, line: str) -> list[str]:
        """Languages that `line` has scripts for."""
        return sorted(lang for (name, lang) in self.scripts if name == line)
