"""Snapshot tests: every text the hotline sends, in every language it is sent in.

A wording change shows up here in review. Every text also follows the feature-phone rules:
one segment (the daily summary: two), no links, case number (when there is one) and time first.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from hotline.reports.metrics import (
    CallbackFigures,
    CallFigures,
    CaseFigures,
    DayReport,
    LiveNumbers,
    ScenarioRow,
)
from hotline.segments import segment_count
from hotline.sms import texts
from hotline.sms.texts import Head

AT = datetime(2026, 11, 29, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai
TZ = "Asia/Shanghai"
CASE = Head(AT, TZ, "20261129-0042")
PLAIN = Head(AT, TZ)
REPORT = DayReport(
    line_id=1,
    local_day=date(2026, 11, 29),
    timezone=TZ,
    calls=CallFigures(
        threshold_seconds=20,
        offered=96,
        answered=88,
        answered_within_threshold=75,
        abandoned=5,
        short_abandons=4,
        other_exits=3,
        answer_wait_total_seconds=88 * 14,
        answer_wait_count=88,
        longest_wait_seconds=425,
    ),
    callbacks=CallbackFigures(done=11, pending=2, failed=1),
    cases=CaseFigures(new=40, escalated=2, overdue=1, urgent_open=1),
    scenarios=[
        ScenarioRow("medical", 15),
        ScenarioRow("smart_devices", 9),
        ScenarioRow("affairs", 7),
        ScenarioRow("travel", 2),
    ],
)
LIVE = LiveNumbers(waiting=3, longest_wait_seconds=252, available_operators=2)
NOTE = "需要有人陪同去社区医院复诊，周三上午，行动不便需要轮椅"
CASES = {}
for lang in texts.CALLER_LANGUAGES:
    CASES[("ack", lang)] = lambda lang=lang: texts.ack(lang, CASE)
    CASES[("callback_requested", lang)] = lambda lang=lang: texts.callback_requested(lang, CASE)
    CASES[("family_callback_requested", lang)] = lambda lang=lang: texts.family_callback_requested(
        lang, CASE, elder="王阿姨"
    )
    CASES[("family_callback_refused", lang)] = lambda lang=lang: texts.family_callback_refused(
        lang, PLAIN
    )
    CASES[("help_caller", lang)] = lambda lang=lang: texts.help_caller(lang, PLAIN)
    CASES[("opted_out", lang)] = lambda lang=lang: texts.opted_out(lang, PLAIN)
    CASES[("resumed", lang)] = lambda lang=lang: texts.resumed(lang, PLAIN)
    CASES[("referral_offer", lang)] = lambda lang=lang: texts.referral_offer(
        lang, CASE, who="王阿姨", scenario="medical", note=NOTE
    )
    CASES[("referral_accepted", lang)] = lambda lang=lang: texts.referral_accepted(lang, CASE)
    CASES[("referral_declined", lang)] = lambda lang=lang: texts.referral_declined(lang, CASE)
    CASES[("referral_unclear", lang)] = lambda lang=lang: texts.referral_unclear(lang, CASE)
    CASES[("checkin_volunteer_visit", lang)] = lambda lang=lang: texts.checkin_volunteer_visit(
        lang, PLAIN, elder="王阿姨", attempts=3
    )
    CASES[("checkin_family", lang)] = lambda lang=lang: texts.checkin_family(
        lang, PLAIN, elder="王阿姨", attempts=3
    )
    CASES[("checkin_reply_thanks", lang)] = lambda lang=lang: texts.checkin_reply_thanks(
        lang, PLAIN, reached=lang != texts.YUE
    )
for lang in texts.STAFF_LANGUAGES:
    line = "East" if lang == texts.EN else "东区热线"
    CASES[("daily_summary", lang)] = lambda lang=lang: texts.daily_summary(
        lang, PLAIN, REPORT, line_name=None
    )
    CASES[("status_reply", lang)] = lambda lang=lang: texts.status_reply(lang, PLAIN, LIVE, REPORT)
    CASES[("help_supervisor", lang)] = lambda lang=lang: texts.help_supervisor(lang, PLAIN)
    CASES[("alert_long_wait", lang)] = lambda lang=lang: texts.alert_long_wait(
        lang, PLAIN, line_name=None, longest_wait_seconds=412, waiting=5, available_operators=0
    )
    CASES[("recovered_long_wait", lang)] = lambda lang=lang, line=line: texts.recovered_long_wait(
        lang, PLAIN, line_name=line, limit_seconds=300
    )
    CASES[("alert_service_level", lang)] = lambda lang=lang, line=line: texts.alert_service_level(
        lang,
        PLAIN,
        line_name=line,
        threshold_seconds=20,
        service_level=0.62,
        target=0.8,
        offered=34,
    )
    CASES[("recovered_service_level", lang)] = lambda lang=lang: texts.recovered_service_level(
        lang, PLAIN, line_name=None, threshold_seconds=20, service_level=0.85, target=0.8
    )
    CASES[("alert_callbacks_failing", lang)] = lambda lang=lang: texts.alert_callbacks_failing(
        lang, PLAIN, line_name=None, failures=4, given_up=1
    )
    CASES[("recovered_callbacks_failing", lang)] = lambda lang=lang: (
        texts.recovered_callbacks_failing(lang, PLAIN, line_name=None)
    )
    CASES[("alert_urgent_case", lang)] = lambda lang=lang: texts.alert_urgent_case(
        lang,
        CASE,
        scenario="emergency",
        is_escalated=False,
        summary="独居老人摔倒，邻居发现后来电，需要上门查看并联系家属",
    )
    CASES[("recovered_urgent_case", lang)] = lambda lang=lang: texts.recovered_urgent_case(
        lang, CASE
    )
    CASES[("alert_overdue_escalation", lang)] = lambda lang=lang: texts.alert_overdue_escalation(
        lang, CASE, overdue_hours=5.5
    )
    CASES[("recovered_overdue_escalation", lang)] = lambda lang=lang: (
        texts.recovered_overdue_escalation(lang, CASE)
    )
    CASES[("alert_clock_silent", lang)] = lambda lang=lang: texts.alert_clock_silent(
        lang, PLAIN, silent_seconds=612
    )
    CASES[("recovered_clock_silent", lang)] = lambda lang=lang: texts.recovered_clock_silent(
        lang, PLAIN
    )


SNAPSHOTS = {
    (
        "checkin_family",
        "en",
    ): "29 Nov 14:05: the elder did not answer 3 check-in calls today; a volunteer will visit. Reply 1 if you reach them, 2 if not.",
    (
        "checkin_family",
        "yue",
    ): "11-29 14:05 王阿姨今日3次冇聽關愛回訪電話，已請義工探望。聯絡到請回覆1，聯絡唔到回覆2。",
    (
        "checkin_family",
        "zh",
    ): "11-29 14:05 王阿姨今天3次未接关爱回访电话，已请志愿者探望。联系上请回复1，联系不上回复2。",
    ("checkin_reply_thanks", "en"): "29 Nov 14:05: noted: the elder was reached. Thank you!",
    ("checkin_reply_thanks", "yue"): "11-29 14:05 收到：聯絡唔到長者。熱線同事會即刻跟進。",
    ("checkin_reply_thanks", "zh"): "11-29 14:05 已收到：已联系上老人，谢谢您！",
    (
        "checkin_volunteer_visit",
        "en",
    ): "29 Nov 14:05: check-in: the elder did not answer 3 calls today. Please visit or phone. Reply 1 reached, 2 cannot reach.",
    (
        "checkin_volunteer_visit",
        "yue",
    ): "11-29 14:05 關愛回訪：王阿姨今日3次冇聽電話，請上門或致電睇下。回覆1已聯絡上、2聯絡唔到。",
    (
        "checkin_volunteer_visit",
        "zh",
    ): "11-29 14:05 关爱回访：王阿姨今天3次未接电话，请上门或致电看看。回复1已联系上、2无法联系。",
    (
        "family_callback_requested",
        "zh",
    ): "工单20261129-0042 11-29 14:05 好的，我们会尽快给王阿姨回电。",
    (
        "family_callback_requested",
        "yue",
    ): "個案20261129-0042 11-29 14:05 好，我哋會盡快打返畀王阿姨。",
    (
        "family_callback_requested",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: we will call 王阿姨 back soon.",
    (
        "family_callback_refused",
        "zh",
    ): "11-29 14:05 抱歉，您还不能代长辈预约回电。有事请直接拨打本号码，有人接听。",
    (
        "family_callback_refused",
        "yue",
    ): "11-29 14:05 唔好意思，你未可以代長輩預約回電。有事請直接打呢個號碼，有人聽。",
    (
        "family_callback_refused",
        "en",
    ): "29 Nov 14:05: sorry, you cannot ask for a callback for your relative yet. Please call this number: a person answers.",
    (
        "ack",
        "zh",
    ): "工单20261129-0042 11-29 14:05 已收到您的短信，我们会尽快回复。要我们回电请回复1。",
    (
        "callback_requested",
        "zh",
    ): "工单20261129-0042 11-29 14:05 好的，我们会尽快给您回电，请留意来电。",
    (
        "help_caller",
        "zh",
    ): "11-29 14:05 长者服务热线：回复1我们给您回电；回复TD退订通知短信；有事请直接拨打本号码，有人接听。",
    (
        "opted_out",
        "zh",
    ): "11-29 14:05 已退订本热线的通知短信。回复START可恢复。有事请直接拨打本号码。",
    ("resumed", "zh"): "11-29 14:05 已恢复接收本热线的短信。退订请回复TD。",
    (
        "referral_offer",
        "zh",
    ): "工单20261129-0042 11-29 14:05 转介：王阿姨，就医。需要有人陪同去社区医院复诊，周三上午…接受回复1，不能接回复2。",
    (
        "referral_accepted",
        "zh",
    ): "工单20261129-0042 11-29 14:05 谢谢您接受转介，工作人员会打电话和您交接。",
    (
        "referral_declined",
        "zh",
    ): "工单20261129-0042 11-29 14:05 已收到，谢谢告知。我们会另找人帮忙。",
    (
        "referral_unclear",
        "zh",
    ): "工单20261129-0042 11-29 14:05 已记下您的回复。接受转介请回复1，不能接请回复2。",
    (
        "ack",
        "yue",
    ): "個案20261129-0042 11-29 14:05 已收到你嘅短訊，我哋會盡快回覆。想我哋回電請回覆1。",
    (
        "callback_requested",
        "yue",
    ): "個案20261129-0042 11-29 14:05 好，我哋會盡快打返畀你，請留意來電。",
    (
        "help_caller",
        "yue",
    ): "11-29 14:05 長者服務熱線：回覆1我哋打返畀你；回覆TD取消通知短訊；有事請直接打呢個號碼，有人聽。",
    (
        "opted_out",
        "yue",
    ): "11-29 14:05 已取消本熱線嘅通知短訊。回覆START可以恢復。有事請直接打呢個號碼。",
    ("resumed", "yue"): "11-29 14:05 已恢復接收本熱線嘅短訊。取消請回覆TD。",
    (
        "referral_offer",
        "yue",
    ): "個案20261129-0042 11-29 14:05 轉介：王阿姨，睇醫生。需要有人陪同去社区医院复诊，周三上午…接受回覆1，唔得回覆2。",
    (
        "referral_accepted",
        "yue",
    ): "個案20261129-0042 11-29 14:05 多謝你接受轉介，同事會打電話同你交接。",
    (
        "referral_declined",
        "yue",
    ): "個案20261129-0042 11-29 14:05 收到，多謝通知。我哋會另外搵人幫手。",
    (
        "referral_unclear",
        "yue",
    ): "個案20261129-0042 11-29 14:05 已記低你嘅回覆。接受轉介請回覆1，唔得請回覆2。",
    (
        "ack",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: we got your message and will reply soon. Reply 1 if you want us to call you back.",
    (
        "callback_requested",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: we will call you back soon. Please keep your phone nearby.",
    (
        "help_caller",
        "en",
    ): "29 Nov 14:05: Elder hotline. Reply 1 and we call you back. Reply STOP for no more notices. Or call this number: a person answers.",
    (
        "opted_out",
        "en",
    ): "29 Nov 14:05: you will get no more notices from this hotline. Reply START to resume. You can always call this number.",
    (
        "resumed",
        "en",
    ): "29 Nov 14:05: you will get texts from this hotline again. Reply STOP to opt out.",
    (
        "referral_offer",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: referral for an elder, medical. Reply 1 to accept, 2 to decline.",
    (
        "referral_accepted",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: thank you for accepting. A staff member will phone you to hand over.",
    (
        "referral_declined",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: noted, thank you for letting us know. We will find someone else.",
    (
        "referral_unclear",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: your reply is noted. Reply 1 to accept the referral, 2 to decline.",
    (
        "daily_summary",
        "zh",
    ): "11-29 14:05 日报 来电96 接通88 放弃5 短弃4；20秒接通率 按接通85% 按来电78%；平均应答14秒 最长等待7分05秒；回电完成11 待办2 失败1；新工单40 上报2 逾期1；就医15 智能9 办事7",
    (
        "status_reply",
        "zh",
    ): "11-29 14:05 排队3 最长4分12秒 空闲坐席2；今日来电96 接通88 20秒接通率78%；待回电2 紧急工单1",
    (
        "help_supervisor",
        "zh",
    ): "11-29 14:05 值班指令：发“状态”看实时数据；发TD停收日报和告警，START恢复。",
    ("alert_long_wait", "zh"): "11-29 14:05 告警：有来电者已等待6分52秒，排队5人，空闲坐席0人。",
    ("recovered_long_wait", "zh"): "11-29 14:05 恢复：东区热线已没有人等待超过5分钟。",
    (
        "alert_service_level",
        "zh",
    ): "11-29 14:05 告警：东区热线近1小时来电34个，20秒接通率62%，低于目标80%。",
    ("recovered_service_level", "zh"): "11-29 14:05 恢复：近1小时20秒接通率85%（目标80%）。",
    (
        "alert_callbacks_failing",
        "zh",
    ): "11-29 14:05 告警：近1小时有4个回电没有打通，其中1个已放弃。请查看回电列表。",
    ("recovered_callbacks_failing", "zh"): "11-29 14:05 恢复：回电已恢复正常。",
    (
        "alert_urgent_case",
        "zh",
    ): "工单20261129-0042 11-29 14:05 告警：紧急工单，应急。独居老人摔倒，邻居发现后来电，需要上门查看并联系…请尽快处理。",
    ("recovered_urgent_case", "zh"): "工单20261129-0042 11-29 14:05 恢复：该工单已不再紧急或上报。",
    (
        "alert_overdue_escalation",
        "zh",
    ): "工单20261129-0042 11-29 14:05 告警：上报已逾期5小时未处理，请尽快处理。",
    ("recovered_overdue_escalation", "zh"): "工单20261129-0042 11-29 14:05 恢复：逾期上报已处理。",
    (
        "alert_clock_silent",
        "zh",
    ): "11-29 14:05 告警：后台定时进程已10分12秒没有运行，回电和短信可能已停止，请检查服务器。",
    ("recovered_clock_silent", "zh"): "11-29 14:05 恢复：后台定时进程已恢复运行。",
    (
        "daily_summary",
        "en",
    ): "29 Nov 14:05: Daily report: calls 96, answered 88, abandoned 5 (+4 short). In 20s: 85% of answered, 78% of offered. ASA 14s, longest wait 7m05s. Callbacks done 11, pending 2, failed 1. Cases new 40, escalated 2, overdue 1. Top: medical 15, devices 9, affairs 7",
    (
        "status_reply",
        "en",
    ): "29 Nov 14:05: now 3 waiting, longest 4m12s, 2 operators free. Today 96 calls, 88 answered, 78% in 20s. Callbacks pending 2, urgent cases 1.",
    (
        "help_supervisor",
        "en",
    ): "29 Nov 14:05: Supervisor commands: STATUS for the live numbers. STOP pauses summaries and alerts, START resumes.",
    (
        "alert_long_wait",
        "en",
    ): "29 Nov 14:05: ALERT: a caller has waited 6m52s; 5 waiting, 0 operators free.",
    (
        "recovered_long_wait",
        "en",
    ): "29 Nov 14:05: OK again (East): nobody has waited longer than 5 min.",
    (
        "alert_service_level",
        "en",
    ): "29 Nov 14:05: ALERT (East): in the last hour 62% of 34 calls were answered in 20s (target 80%).",
    (
        "recovered_service_level",
        "en",
    ): "29 Nov 14:05: OK again: in the last hour 85% answered in 20s (target 80%).",
    (
        "alert_callbacks_failing",
        "en",
    ): "29 Nov 14:05: ALERT: 4 callbacks did not get through in the last hour, 1 given up. Please check the callbacks list.",
    ("recovered_callbacks_failing", "en"): "29 Nov 14:05: OK again: callbacks are getting through.",
    (
        "alert_urgent_case",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: ALERT: urgent case, emergency. Please act.",
    (
        "recovered_urgent_case",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: OK again: the case is no longer urgent or escalated.",
    (
        "alert_overdue_escalation",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: ALERT: escalation overdue by 5 h. Please act.",
    (
        "recovered_overdue_escalation",
        "en",
    ): "Case 20261129-0042 29 Nov 14:05: OK again: the overdue escalation was dealt with.",
    (
        "alert_clock_silent",
        "en",
    ): "29 Nov 14:05: ALERT: the clock process has not run for 10m12s: callbacks and texts may have stopped. Please check the server.",
    ("recovered_clock_silent", "en"): "29 Nov 14:05: OK again: the clock process is running.",
}


def test_every_text_kind_has_a_snapshot_in_each_of_its_languages():
    staff = {"daily_summary", "status_reply", "help_supervisor"} | {
        k for k in texts.RENDERERS if k.startswith(("alert_", "recovered_"))
    }
    expected = {
        (kind, lang)
        for kind in texts.RENDERERS
        for lang in (texts.STAFF_LANGUAGES if kind in staff else texts.CALLER_LANGUAGES)
    }
    assert set(SNAPSHOTS) == expected == set(CASES)


@pytest.mark.parametrize(("kind", "lang"), sorted(SNAPSHOTS))
def test_text_matches_its_snapshot(kind, lang):
    assert CASES[(kind, lang)]() == SNAPSHOTS[(kind, lang)]


@pytest.mark.parametrize(("kind", "lang"), sorted(SNAPSHOTS))
def test_text_follows_the_feature_phone_rules(kind, lang):
    text = SNAPSHOTS[(kind, lang)]
    assert segment_count(text) <= (2 if kind == "daily_summary" else 1), text
    assert not re.search(r"https?://|www\.|\.(com|cn|org)\b", text)
    when = "29 Nov 14:05" if lang == "en" else "11-29 14:05"
    if "20261129-0042" in text:
        prefix = {"zh": "工单", "yue": "個案", "en": "Case "}[lang]
        assert text.startswith(f"{prefix}20261129-0042 {when}"), text
    else:
        assert text.startswith(when), text


#: A very busy day of a large line (the summary's worst case for its two segments).
BUSY = DayReport(
    line_id=1,
    local_day=date(2026, 11, 29),
    timezone=TZ,
    calls=CallFigures(
        threshold_seconds=20,
        offered=12345,
        answered=11800,
        answered_within_threshold=9000,
        abandoned=380,
        short_abandons=210,
        other_exits=165,
        answer_wait_total_seconds=11800 * 72,
        answer_wait_count=11800,
        longest_wait_seconds=1199,
    ),
    callbacks=CallbackFigures(done=1050, pending=120, failed=33),
    cases=CaseFigures(new=3120, escalated=140, overdue=22, urgent_open=3),
    scenarios=[
        ScenarioRow("smart_devices", 1200),
        ScenarioRow("consumption", 800),
        ScenarioRow("affairs", 600),
    ],
)


def test_daily_summary_stays_in_two_segments_on_a_busy_day_with_a_line_name():
    busy = BUSY
    zh = texts.daily_summary("zh", PLAIN, busy, line_name="城东社区长者热线")
    en = texts.daily_summary("en", PLAIN, busy, line_name="East community line")
    assert segment_count(zh) == 2 and segment_count(en) == 2
    assert "来电12345" in zh and "短弃210" in zh
    assert "calls 12345" in en and "(+210 short)" in en


def test_referral_note_gives_way_but_the_reply_keys_stay():
    text = texts.referral_offer("zh", CASE, who="王阿姨", scenario="medical", note="很长" * 60)
    assert segment_count(text) == 1
    assert text.endswith("接受回复1，不能接回复2。")


def test_english_referral_leaves_out_a_chinese_name_to_stay_in_gsm():
    text = texts.referral_offer("en", CASE, who="王阿姨", scenario="travel", note="")
    assert "王" not in text and segment_count(text) == 1
    named = texts.referral_offer("en", CASE, who="Mrs Wang", scenario="travel", note="Needs a lift")
    assert "Mrs Wang" in named and "Needs a lift" in named


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-CN", "zh"), (None, "zh"), ("yue-HK", "yue"), ("zh-HK", "yue"), ("en-US", "en")],
)
def test_callers_language_picks_the_text_language(code, expected):
    assert texts.caller_language(code) == expected


#: The day's check-in figures (关爱回访) as hotline.checkins.queries hands them in.
CHECKINS = SimpleNamespace(
    due=24, done=22, ok=19, help=1, missed=3, reached=2, still_open=1, pending=0
)


def test_daily_summary_carries_the_days_check_in_figures():
    zh = texts.daily_summary("zh", PLAIN, REPORT, line_name=None, checkins=CHECKINS)
    en = texts.daily_summary("en", PLAIN, REPORT, line_name=None, checkins=CHECKINS)
    assert zh == (
        "11-29 14:05 日报 来电96 接通88 放弃5 短弃4；20秒接通率 按接通85% 按来电78%；"
        "平均应答14秒 最长等待7分05秒；回电完成11 待办2 失败1；新工单40 上报2 逾期1；"
        "回访完成22 平安19 未接3 联系上2 未结1；就医15 智能9"
    )
    assert en == (
        "29 Nov 14:05: Daily report: calls 96, answered 88, abandoned 5 (+4 short). "
        "In 20s: 85% of answered, 78% of offered. ASA 14s, longest wait 7m05s. "
        "Callbacks done 11, pending 2, failed 1. Cases new 40, escalated 2, overdue 1. "
        "Check-ins done 22, OK 19, missed 3, reached 2, open 1. Top: medical 15, devices 9"
    )
    assert segment_count(zh) == 2 and segment_count(en) == 2


def test_daily_summary_without_check_ins_today_says_nothing_about_them():
    nothing = SimpleNamespace(
        due=0, done=0, ok=0, help=0, missed=0, reached=0, still_open=0, pending=0
    )
    for lang in texts.STAFF_LANGUAGES:
        plain = texts.daily_summary(lang, PLAIN, REPORT, line_name=None)
        assert texts.daily_summary(lang, PLAIN, REPORT, line_name=None, checkins=nothing) == plain
        assert "回访" not in plain and "Check-ins" not in plain


def test_on_a_very_busy_day_the_check_ins_shrink_to_the_open_ones_but_stay():
    busy = BUSY
    many = SimpleNamespace(
        due=1200, done=1180, ok=1100, help=20, missed=80, reached=66, still_open=14, pending=0
    )
    zh = texts.daily_summary("zh", PLAIN, busy, line_name="城东社区长者热线", checkins=many)
    en = texts.daily_summary("en", PLAIN, busy, line_name="East community line", checkins=many)
    assert segment_count(zh) == 2 and segment_count(en) == 2
    assert zh.endswith("新工单3120 上报140 逾期22；回访未结14"), zh
    assert "城东社区长者热线" not in zh, "the line name gave way to the check-ins"
    assert en.endswith("Check-ins still open 14."), en
    assert "East community line" in en


def test_daily_summary_says_how_many_elders_are_still_to_call_only_when_some_are():
    later = SimpleNamespace(**{**vars(CHECKINS), "due": 27, "pending": 3})
    zh = texts.daily_summary("zh", PLAIN, REPORT, line_name=None, checkins=later)
    en = texts.daily_summary("en", PLAIN, REPORT, line_name=None, checkins=later)
    # the top scenarios give way (two, then one) to keep the two segments
    assert zh.endswith("；回访完成22 平安19 未接3 联系上2 未结1 待访3；就医15"), zh
    assert "Check-ins done 22, OK 19, missed 3, reached 2, open 1, to call 3. Top:" in en, en
    assert segment_count(zh) == 2 and segment_count(en) == 2
    for lang, words in (("zh", "待访"), ("en", "to call")):
        assert words not in texts.daily_summary(
            lang, PLAIN, REPORT, line_name=None, checkins=CHECKINS
        )


@pytest.mark.parametrize(
    ("pending", "zh_end", "en_end"),
    [
        (3, "；回访未结14 待访3", " Check-ins still open 14, to call 3."),
        # the zh text has no room left even without the line name: the count still to call
        # gives way last, the open count stays
        (86, "；回访未结14", " Check-ins still open 14, to call 86."),
    ],
)
def test_on_a_very_busy_day_the_count_still_to_call_gives_way_last(pending, zh_end, en_end):
    many = SimpleNamespace(
        due=1200, done=1100, ok=1050, help=20, missed=80, reached=66, still_open=14, pending=pending
    )
    zh = texts.daily_summary("zh", PLAIN, BUSY, line_name="城东社区长者热线", checkins=many)
    en = texts.daily_summary("en", PLAIN, BUSY, line_name="East community line", checkins=many)
    assert segment_count(zh) == 2 and segment_count(en) == 2
    assert zh.endswith(zh_end) and "城东社区长者热线" not in zh, zh
    assert en.endswith(en_end) and "East community line" in en, en
