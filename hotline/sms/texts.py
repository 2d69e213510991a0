"""Every text the hotline sends: one render function per kind, in each language.

Rules for feature phones (mission rule 11): one segment where it can (70 Chinese or 160 GSM
characters; see `segments`), no links, the case number first when there is a case, then the time
(line's local time). Callers get Mandarin (simplified), Cantonese (traditional, spoken forms) or
English by `Caller.language`; supervisors get Chinese or English by their console language.
The wording is pinned by snapshot tests (tests/sms/test_texts.py): a change shows up in review.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hotline.segments import fit_part, is_gsm7, segment_count

#: hotline.reports.metrics.DayReport and LiveNumbers, duck-typed: sms sits beside reports and
#: does not import it (hotline.alerts hands the figures in).
DayReport = Any
LiveNumbers = Any
#: hotline.checkins.queries.CheckinFigures, duck-typed for the same reason (due, done, ok,
#: missed, reached, still_open, pending).
CheckinFigures = Any

#: Text languages: callers zh/yue/en, staff zh/en.
ZH, YUE, EN = "zh", "yue", "en"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Short scenario names for texts (the seven policy scenarios and "other").
SCENARIO_NAMES = {
    "emergency": {ZH: "应急", YUE: "緊急", EN: "emergency"},
    "travel": {ZH: "出行", YUE: "出行", EN: "travel"},
    "medical": {ZH: "就医", YUE: "睇醫生", EN: "medical"},
    "consumption": {ZH: "消费", YUE: "消費", EN: "shopping"},
    "culture": {ZH: "文体", YUE: "文娛", EN: "culture"},
    "affairs": {ZH: "办事", YUE: "辦事", EN: "affairs"},
    "smart_devices": {ZH: "智能", YUE: "智能產品", EN: "devices"},
    "other": {ZH: "其他", YUE: "其他", EN: "other"},
}


def caller_language(language: str | None) -> str:
    """zh, yue or en from a caller's language code (zh-CN, yue-HK, en-US; None: zh)."""
    code = (language or "").lower()
    if code.startswith("yue") or code in ("zh-hk", "zh-mo", "zh-tw", "zh-hant"):
        return YUE
    if code.startswith("en"):
        return EN
    return ZH


def staff_language(console_language: str | None) -> str:
    """zh or en from an operator's console language."""
    return EN if (console_language or "").lower().startswith("en") else ZH


def stamp(at: datetime, timezone: str, lang: str) -> str:
    """The time a text is about, in the line's time zone: "11-29 14:05" / "29 Nov 14:05"."""
    local = at.astimezone(ZoneInfo(timezone))
    if lang == EN:
        return f"{local.day} {_MONTHS[local.month - 1]} {local:%H:%M}"
    return f"{local:%m-%d %H:%M}"


def duration(seconds: float | None, lang: str) -> str:
    """A wait in minutes and seconds: "3分05秒" / "3m05s" ("-" when unknown)."""
    if seconds is None:
        return "-"
    total = math.floor(seconds + 0.5)
    minutes, secs = divmod(total, 60)
    if lang == EN:
        if minutes and not secs:
            return f"{minutes} min"
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    if minutes and not secs:
        return f"{minutes}分钟"
    return f"{minutes}分{secs:02d}秒" if minutes else f"{secs}秒"


def percent(ratio: float | None) -> str:
    """85% (or "-" when nothing was counted)."""
    # Half up (62.5 % -> 63 %), not Python's round-half-even: what people expect in a report.
    return "-" if ratio is None else f"{math.floor(ratio * 100 + 0.5)}%"


def scenario_name(code: str | None, lang: str) -> str:
    names = SCENARIO_NAMES.get(code or "other", SCENARIO_NAMES["other"])
    return names.get(lang, names[ZH] if lang == YUE else names[EN])


def _pick(lang: str, zh: str, yue: str, en: str) -> str:
    return {ZH: zh, YUE: yue, EN: en}[lang]


@dataclass(frozen=True)
class Head:
    """What every text starts with: the case number (when there is one) and the time."""

    at: datetime
    timezone: str
    case_number: str | None = None

    def __call__(self, lang: str) -> str:
        when = stamp(self.at, self.timezone, lang)
        if not self.case_number:
            return when + (":" if lang == EN else " ")
        if lang == EN:
            return f"Case {self.case_number} {when}:"
        return _pick(lang, "工单", "個案", "") + f"{self.case_number} {when} "


# --------------------------------------------------------------------------- callers


def ack(lang: str, head: Head) -> str:
    """Answer to a caller's free text (it was added to their case)."""
    return head(lang) + _pick(
        lang,
        "已收到您的短信，我们会尽快回复。要我们回电请回复1。",
        "已收到你嘅短訊，我哋會盡快回覆。想我哋回電請回覆1。",
        " we got your message and will reply soon. Reply 1 if you want us to call you back.",
    )


def callback_requested(lang: str, head: Head) -> str:
    """Answer to 回电 / 1 / CALLBACK: a callback is booked."""
    return head(lang) + _pick(
        lang,
        "好的，我们会尽快给您回电，请留意来电。",
        "好，我哋會盡快打返畀你，請留意來電。",
        " we will call you back soon. Please keep your phone nearby.",
    )


def family_callback_requested(lang: str, head: Head, *, elder: str) -> str:
    """Answer to a consented family contact's 回电 / 1 / CALLBACK: we will call their elder."""
    return head(lang) + _pick(
        lang,
        f"好的，我们会尽快给{elder}回电。",
        f"好，我哋會盡快打返畀{elder}。",
        f" we will call {elder} back soon.",
    )


def family_callback_refused(lang: str, head: Head) -> str:
    """Answer to a family contact who may not ask for callbacks for the elder (no permission,
    or no consent recorded): polite, nothing booked, a way forward."""
    return head(lang) + _pick(
        lang,
        "抱歉，您还不能代长辈预约回电。有事请直接拨打本号码，有人接听。",
        "唔好意思，你未可以代長輩預約回電。有事請直接打呢個號碼，有人聽。",
        " sorry, you cannot ask for a callback for your relative yet. "
        "Please call this number: a person answers.",
    )


def help_caller(lang: str, head: Head) -> str:
    """Answer to HELP / 帮助 from a caller."""
    return head(lang) + _pick(
        lang,
        "长者服务热线：回复1我们给您回电；回复TD退订通知短信；有事请直接拨打本号码，有人接听。",
        "長者服務熱線：回覆1我哋打返畀你；回覆TD取消通知短訊；有事請直接打呢個號碼，有人聽。",
        " Elder hotline. Reply 1 and we call you back. Reply STOP for no more notices. "
        "Or call this number: a person answers.",
    )


def opted_out(lang: str, head: Head) -> str:
    """Confirmation of STOP / 退订 / TD (the last notice they get until START)."""
    return head(lang) + _pick(
        lang,
        "已退订本热线的通知短信。回复START可恢复。有事请直接拨打本号码。",
        "已取消本熱線嘅通知短訊。回覆START可以恢復。有事請直接打呢個號碼。",
        " you will get no more notices from this hotline. Reply START to resume. "
        "You can always call this number.",
    )


def resumed(lang: str, head: Head) -> str:
    """Confirmation of START."""
    return head(lang) + _pick(
        lang,
        "已恢复接收本热线的短信。退订请回复TD。",
        "已恢復接收本熱線嘅短訊。取消請回覆TD。",
        " you will get texts from this hotline again. Reply STOP to opt out.",
    )


# --------------------------------------------------------------------------- volunteers


def referral_offer(lang: str, head: Head, *, who: str, scenario: str | None, note: str) -> str:
    """To a community volunteer: a case referred to them; accept with 1, decline with 2.

    No phone number or address of the elder: the operator hands those over by phone once the
    volunteer accepts. The operator's note gives way (shortened) to keep one segment.
    """
    topic = scenario_name(scenario, lang)

    if lang == EN and not is_gsm7(who):
        who = ""  # a Chinese name would turn the whole English text into 70-character UCS-2

    def build(part: str) -> str:
        if lang == EN:
            body = f" referral for {who or 'an elder'}, {topic}. {part}".rstrip()
            return head(lang) + body + " Reply 1 to accept, 2 to decline."
        opening = _pick(lang, "转介：", "轉介：", "")
        closing = _pick(lang, "接受回复1，不能接回复2。", "接受回覆1，唔得回覆2。", "")
        detail = f"{who}，{topic}" if who else topic
        return head(lang) + f"{opening}{detail}。" + _sentence(part) + closing

    return fit_part(build, note.strip().rstrip("。."), segments=1)


def _sentence(part: str) -> str:
    """A free-text part as a Chinese sentence ("" stays ""; a shortened one keeps its "…")."""
    if not part:
        return ""
    return part if part.endswith("…") else f"{part}。"


def referral_accepted(lang: str, head: Head) -> str:
    return head(lang) + _pick(
        lang,
        "谢谢您接受转介，工作人员会打电话和您交接。",
        "多謝你接受轉介，同事會打電話同你交接。",
        " thank you for accepting. A staff member will phone you to hand over.",
    )


def referral_declined(lang: str, head: Head) -> str:
    return head(lang) + _pick(
        lang,
        "已收到，谢谢告知。我们会另找人帮忙。",
        "收到，多謝通知。我哋會另外搵人幫手。",
        " noted, thank you for letting us know. We will find someone else.",
    )


def referral_unclear(lang: str, head: Head) -> str:
    return head(lang) + _pick(
        lang,
        "已记下您的回复。接受转介请回复1，不能接请回复2。",
        "已記低你嘅回覆。接受轉介請回覆1，唔得請回覆2。",
        " your reply is noted. Reply 1 to accept the referral, 2 to decline.",
    )


# --------------------------------------------------------------------------- supervisors


def _top_scenarios(report: DayReport, lang: str, limit: int = 3) -> str:
    top = [(code, n) for code, n in report.top_scenarios[:limit] if n]
    if not top:
        return ""
    if lang == EN:
        return ", ".join(f"{scenario_name(code, lang)} {n}" for code, n in top)
    return " ".join(f"{scenario_name(code, lang)}{n}" for code, n in top)


def _checkins_part(
    checkins: CheckinFigures | None, lang: str, *, is_short: bool = False, with_to_call: bool = True
) -> str:
    """The day's check-in figures (关爱回访), or "" on a line with no check-ins that day;
    `is_short`: only the elders still not reached, for a day too busy for all five. The elders
    still to call that day (待访: a window not open yet, a retry due, a call ringing) follow
    only when there are some (and `with_to_call`): the summary may go out before the last
    windows of the day."""
    if checkins is None or not checkins.due:
        return ""
    k = checkins
    pending = k.pending if with_to_call else 0
    if lang == EN:
        to_call = f", to call {pending}" if pending else ""
        if is_short:
            return f" Check-ins still open {k.still_open}{to_call}."
        return (
            f" Check-ins done {k.done}, OK {k.ok}, missed {k.missed}, reached {k.reached}, "
            f"open {k.still_open}{to_call}."
        )
    to_call = f" 待访{pending}" if pending else ""
    if is_short:
        return f"；回访未结{k.still_open}{to_call}"
    return (
        f"；回访完成{k.done} 平安{k.ok} 未接{k.missed} 联系上{k.reached} 未结{k.still_open}"
        f"{to_call}"
    )


def daily_summary(
    lang: str,
    head: Head,
    report: DayReport,
    *,
    line_name: str | None,
    checkins: CheckinFigures | None = None,
) -> str:
    """The evening picture of one line, in at most 2 segments: the top scenarios give way
    (three, two, one, none) when a busy day's numbers, a line name or the day's check-in
    figures need the room. The check-in figures stay, because an elder nobody has reached yet
    ("open") is what a supervisor must read tonight: on a day too busy for all five they
    shrink to the open ones (and those still to call), then the line name gives way, and last
    the count still to call (the clock calls them whether the supervisor reads it or not)."""
    c, cb, cs = report.calls, report.callbacks, report.cases
    t = c.threshold_seconds

    def build(
        top: str,
        *,
        short_checkins: bool = False,
        with_name: bool = True,
        with_to_call: bool = True,
    ) -> str:
        checked = _checkins_part(checkins, lang, is_short=short_checkins, with_to_call=with_to_call)
        shown_name = line_name if with_name else None
        if lang == EN:
            name = f" {shown_name}" if shown_name else ""
            return (
                f"{head(lang)} Daily report{name}: calls {c.offered}, answered {c.answered}, "
                f"abandoned {c.abandoned} (+{c.short_abandons} short). "
                f"In {t}s: {percent(c.service_level_answered)} of answered, "
                f"{percent(c.service_level_offered)} of offered. "
                f"ASA {duration(c.average_speed_of_answer, EN)}, "
                f"longest wait {duration(c.longest_wait_seconds, EN)}. "
                f"Callbacks done {cb.done}, pending {cb.pending}, failed {cb.failed}. "
                f"Cases new {cs.new}, escalated {cs.escalated}, overdue {cs.overdue}."
                + checked
                + (f" Top: {top}" if top else "")
            )
        name = f"{shown_name} " if shown_name else ""
        return (
            f"{head(lang)}{name}日报 来电{c.offered} 接通{c.answered} 放弃{c.abandoned} "
            f"短弃{c.short_abandons}；{t}秒接通率 按接通{percent(c.service_level_answered)} "
            f"按来电{percent(c.service_level_offered)}；"
            f"平均应答{duration(c.average_speed_of_answer, ZH)} "
            f"最长等待{duration(c.longest_wait_seconds, ZH)}；"
            f"回电完成{cb.done} 待办{cb.pending} 失败{cb.failed}；"
            f"新工单{cs.new} 上报{cs.escalated} 逾期{cs.overdue}"
            + checked
            + (f"；{top}" if top else "")
        )

    for limit in (3, 2, 1):
        text = build(_top_scenarios(report, lang, limit))
        if segment_count(text) <= 2:
            return text
    for text in (
        build(""),
        build("", short_checkins=True),
        build("", short_checkins=True, with_name=False),
    ):
        if segment_count(text) <= 2:
            return text
    return build("", short_checkins=True, with_name=False, with_to_call=False)


def status_reply(lang: str, head: Head, live: LiveNumbers, report: DayReport) -> str:
    """Answer to 状态 / STATUS from a registered supervisor: the live numbers, one message."""
    c = report.calls
    if lang == EN:
        return (
            f"{head(lang)} now {live.waiting} waiting, longest "
            f"{duration(live.longest_wait_seconds, EN)}, {live.available_operators} operators "
            f"free. Today {c.offered} calls, {c.answered} answered, "
            f"{percent(c.service_level_offered)} in {c.threshold_seconds}s. "
            f"Callbacks pending {report.callbacks.pending}, urgent cases {report.cases.urgent_open}."
        )
    return (
        f"{head(lang)}排队{live.waiting} 最长{duration(live.longest_wait_seconds, ZH)} "
        f"空闲坐席{live.available_operators}；今日来电{c.offered} 接通{c.answered} "
        f"{c.threshold_seconds}秒接通率{percent(c.service_level_offered)}；"
        f"待回电{report.callbacks.pending} 紧急工单{report.cases.urgent_open}"
    )


def help_supervisor(lang: str, head: Head) -> str:
    """Answer to HELP (or anything unknown) from a registered supervisor."""
    if lang == EN:
        return head(lang) + (
            " Supervisor commands: STATUS for the live numbers. "
            "STOP pauses summaries and alerts, START resumes."
        )
    return head(lang) + "值班指令：发“状态”看实时数据；发TD停收日报和告警，START恢复。"


def _line(line_name: str | None, lang: str) -> str:
    """The line's name in an alert (only deployments with several lines pass one)."""
    if lang == EN:
        return f" ({line_name}):" if line_name else ":"
    return line_name or ""


def alert_long_wait(
    lang: str,
    head: Head,
    *,
    line_name: str | None,
    longest_wait_seconds: float,
    waiting: int,
    available_operators: int,
) -> str:
    if lang == EN:
        return (
            f"{head(lang)} ALERT{_line(line_name, lang)} a caller has waited "
            f"{duration(longest_wait_seconds, EN)}; {waiting} waiting, "
            f"{available_operators} operators free."
        )
    return (
        f"{head(lang)}告警：{_line(line_name, lang)}有来电者已等待"
        f"{duration(longest_wait_seconds, ZH)}，排队{waiting}人，空闲坐席{available_operators}人。"
    )


def recovered_long_wait(lang: str, head: Head, *, line_name: str | None, limit_seconds: int) -> str:
    if lang == EN:
        return (
            f"{head(lang)} OK again{_line(line_name, lang)} nobody has waited longer than "
            f"{duration(limit_seconds, EN)}."
        )
    return (
        f"{head(lang)}恢复：{_line(line_name, lang)}已没有人等待超过{duration(limit_seconds, ZH)}。"
    )


def alert_service_level(
    lang: str,
    head: Head,
    *,
    line_name: str | None,
    threshold_seconds: int,
    service_level: float,
    target: float,
    offered: int,
) -> str:
    if lang == EN:
        return (
            f"{head(lang)} ALERT{_line(line_name, lang)} in the last hour {percent(service_level)}"
            f" of {offered} calls were answered in {threshold_seconds}s "
            f"(target {percent(target)})."
        )
    return (
        f"{head(lang)}告警：{_line(line_name, lang)}近1小时来电{offered}个，"
        f"{threshold_seconds}秒接通率{percent(service_level)}，低于目标{percent(target)}。"
    )


def recovered_service_level(
    lang: str,
    head: Head,
    *,
    line_name: str | None,
    threshold_seconds: int,
    service_level: float | None,
    target: float,
) -> str:
    if lang == EN:
        return (
            f"{head(lang)} OK again{_line(line_name, lang)} in the last hour "
            f"{percent(service_level)} answered in {threshold_seconds}s "
            f"(target {percent(target)})."
        )
    return (
        f"{head(lang)}恢复：{_line(line_name, lang)}近1小时{threshold_seconds}秒接通率"
        f"{percent(service_level)}（目标{percent(target)}）。"
    )


def alert_callbacks_failing(
    lang: str, head: Head, *, line_name: str | None, failures: int, given_up: int
) -> str:
    if lang == EN:
        return (
            f"{head(lang)} ALERT{_line(line_name, lang)} {failures} callbacks did not get "
            f"through in the last hour, {given_up} given up. Please check the callbacks list."
        )
    return (
        f"{head(lang)}告警：{_line(line_name, lang)}近1小时有{failures}个回电没有打通，"
        f"其中{given_up}个已放弃。请查看回电列表。"
    )


def recovered_callbacks_failing(lang: str, head: Head, *, line_name: str | None) -> str:
    if lang == EN:
        return f"{head(lang)} OK again{_line(line_name, lang)} callbacks are getting through."
    return f"{head(lang)}恢复：{_line(line_name, lang)}回电已恢复正常。"


def alert_urgent_case(
    lang: str, head: Head, *, scenario: str | None, is_escalated: bool, summary: str
) -> str:
    """An urgent or escalated case (the head carries its number)."""
    topic = scenario_name(scenario, lang)

    def build(part: str) -> str:
        if lang == EN:
            what = "escalated" if is_escalated else "urgent"
            return f"{head(lang)} ALERT: {what} case, {topic}. {part}".rstrip() + " Please act."
        what = "已上报" if is_escalated else "紧急"
        return f"{head(lang)}告警：{what}工单，{topic}。" + _sentence(part) + "请尽快处理。"

    return fit_part(build, " ".join(summary.split()).rstrip("。."), segments=1)


def recovered_urgent_case(lang: str, head: Head) -> str:
    if lang == EN:
        return f"{head(lang)} OK again: the case is no longer urgent or escalated."
    return f"{head(lang)}恢复：该工单已不再紧急或上报。"


def alert_overdue_escalation(lang: str, head: Head, *, overdue_hours: float | None) -> str:
    hours = "" if overdue_hours is None else str(max(1, int(overdue_hours)))
    if lang == EN:
        late = f" by {hours} h" if hours else ""
        return f"{head(lang)} ALERT: escalation overdue{late}. Please act."
    late = f"{hours}小时" if hours else ""
    return f"{head(lang)}告警：上报已逾期{late}未处理，请尽快处理。"


def recovered_overdue_escalation(lang: str, head: Head) -> str:
    if lang == EN:
        return f"{head(lang)} OK again: the overdue escalation was dealt with."
    return f"{head(lang)}恢复：逾期上报已处理。"


def alert_clock_silent(lang: str, head: Head, *, silent_seconds: float | None) -> str:
    if lang == EN:
        since = f"for {duration(silent_seconds, EN)}" if silent_seconds is not None else "yet"
        return (
            f"{head(lang)} ALERT: the clock process has not run {since}: callbacks and texts "
            "may have stopped. Please check the server."
        )
    since = f"已{duration(silent_seconds, ZH)}" if silent_seconds is not None else "一直"
    return f"{head(lang)}告警：后台定时进程{since}没有运行，回电和短信可能已停止，请检查服务器。"


def recovered_clock_silent(lang: str, head: Head) -> str:
    if lang == EN:
        return f"{head(lang)} OK again: the clock process is running."
    return f"{head(lang)}恢复：后台定时进程已恢复运行。"


# --------------------------------------------------------------------------- check-ins (关爱回访)


def _elder(name: str, lang: str) -> str:
    """The elder's name as a text may carry it (an English text stays GSM-7)."""
    name = " ".join((name or "").split())[:8]
    if lang == EN and not is_gsm7(name):
        return "the elder"
    return name or _pick(lang, "老人", "長者", "the elder")


def checkin_volunteer_visit(lang: str, head: Head, *, elder: str, attempts: int) -> str:
    """To the elder's volunteer: the check-in calls went unanswered; please go and see.
    Reply 1 = reached, 2 = cannot reach (no address or number of the elder in the text)."""
    who = _elder(elder, lang)
    return head(lang) + _pick(
        lang,
        f"关爱回访：{who}今天{attempts}次未接电话，请上门或致电看看。回复1已联系上、2无法联系。",
        f"關愛回訪：{who}今日{attempts}次冇聽電話，請上門或致電睇下。回覆1已聯絡上、2聯絡唔到。",
        f" check-in: {who} did not answer {attempts} calls today. Please visit or phone. "
        "Reply 1 reached, 2 cannot reach.",
    )


def checkin_family(lang: str, head: Head, *, elder: str, attempts: int) -> str:
    """To a consented family contact (may receive alerts): the check-in went unanswered."""
    who = _elder(elder, lang)
    return head(lang) + _pick(
        lang,
        f"{who}今天{attempts}次未接关爱回访电话，已请志愿者探望。联系上请回复1，联系不上回复2。",
        f"{who}今日{attempts}次冇聽關愛回訪電話，已請義工探望。聯絡到請回覆1，聯絡唔到回覆2。",
        f" {who} did not answer {attempts} check-in calls today; a volunteer will visit. "
        "Reply 1 if you reach them, 2 if not.",
    )


def checkin_reply_thanks(lang: str, head: Head, *, reached: bool) -> str:
    """Answer to a volunteer's or family member's 1 / 2 about a missed check-in."""
    if reached:
        return head(lang) + _pick(
            lang,
            "已收到：已联系上老人，谢谢您！",
            "收到：已聯絡上長者，多謝你！",
            " noted: the elder was reached. Thank you!",
        )
    return head(lang) + _pick(
        lang,
        "已收到：无法联系老人。热线工作人员会马上跟进。",
        "收到：聯絡唔到長者。熱線同事會即刻跟進。",
        " noted: the elder cannot be reached. Hotline staff will follow up now.",
    )


#: Every kind of text by name (the SmsMessage.kind column).
RENDERERS: dict[str, Callable[..., str]] = {
    fn.__name__: fn
    for fn in (
        ack,
        callback_requested,
        family_callback_requested,
        family_callback_refused,
        help_caller,
        opted_out,
        resumed,
        referral_offer,
        referral_accepted,
        referral_declined,
        referral_unclear,
        daily_summary,
        status_reply,
        help_supervisor,
        alert_long_wait,
        recovered_long_wait,
        alert_service_level,
        recovered_service_level,
        alert_callbacks_failing,
        recovered_callbacks_failing,
        alert_urgent_case,
        recovered_urgent_case,
        alert_overdue_escalation,
        recovered_overdue_escalation,
        alert_clock_silent,
        recovered_clock_silent,
        checkin_volunteer_visit,
        checkin_family,
        checkin_reply_thanks,
    )
}

#: Language sets: callers and volunteers have three, staff two.
CALLER_LANGUAGES: Sequence[str] = (ZH, YUE, EN)
STAFF_LANGUAGES: Sequence[str] = (ZH, EN)
