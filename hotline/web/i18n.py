"""The web UI's words in zh-CN and en-US, and the centre's clock for the pages.

Chinese comes first: a browser that names neither language gets zh-CN. Every entry is a pair
(zh-CN, en-US) so that a string cannot exist in one language only. Codes (business categories,
agent states, away reasons, menu nodes...) are shown through `label`, never raw; an unknown code
falls back to the code itself so a new category in queues.yaml still shows up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Final


class Language(StrEnum):
    ZH = "zh-CN"
    EN = "en-US"


DEFAULT: Final = Language.ZH
LANGUAGES: Final = tuple(Language)

_PAIRS: dict[str, tuple[str, str]] = {
    # the frame
    "app.name": ("热线", "Hotline"),
    "nav.desktop": ("坐席工作台", "Desktop"),
    "nav.supervisor": ("班长席", "Supervisor"),
    "nav.quality": ("质检", "Quality"),
    "nav.admin": ("管理", "Admin"),
    "nav.recordings": ("录音", "Recordings"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.language": ("语言", "Language"),
    "role.agent": ("坐席", "agent"),
    "role.supervisor": ("班长", "supervisor"),
    "role.qa": ("质检员", "qa"),
    "role.admin": ("管理员", "admin"),
    # login
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    # error pages
    "error.title": ("错误 {status}", "Error {status}"),
    "error.403": ("无权访问", "Not allowed"),
    "error.404": ("页面不存在", "Not found"),
    "error.500": ("系统出错", "Something went wrong"),
    "error.other": ("错误 {status}", "Error {status}"),
    "error.404.explain": ("找不到您要访问的页面，请检查网址。", "There is no page at this address; check the link."),
    "error.500.explain": ("系统出现意外错误，已记录，请稍后重试。",
                          "Something went wrong on our side; it has been logged. Please try again."),
    "error.403.explain": ("您的账号无权使用此功能。", "Your account may not use this."),
    "error.back": ("返回首页", "Back to your start page"),
    # the agent desktop
    "agent.title": ("坐席工作台", "Agent desktop"),
    "offline.banner": ("与服务器的连接已断开，正在重新连接…… 状态和来电暂时无法更新。",
                       "The server cannot be reached: reconnecting… Your state and calls are not updated until then."),
    "live.connecting": ("正在连接……", "connecting…"),
    "live.live": ("已连接", "live"),
    "live.reconnecting": ("正在重新连接……", "reconnecting…"),
    "live.offline_state": ("未连接", "Not connected"),
    "call.incoming": ("来电", "Incoming call"),
    "call.outbound_answer": ("外呼：请接听您的话机", "Outbound call: answer your phone"),
    "call.on_call": ("通话中", "On call"),
    "call.ended": ("通话已结束", "Call ended"),
    "call.campaign": ("营销外呼", "Campaign call"),
    "call.callback": ("回拨", "Callback"),
    "call.business_category": ("业务类别", "Business category"),
    "call.queue": ("队列", "Queue"),
    "call.ivr_path": ("语音导航路径", "IVR path"),
    "call.previous": ("历史来电", "Previous calls"),
    "call.when": ("时间", "When"),
    "call.category": ("类别", "Category"),
    "call.wrapup": ("小结", "Wrap-up"),
    "call.notes": ("备注", "Notes"),
    "call.open_tickets": ("未结工单", "Open tickets"),
    "call.unknown_caller": ("未识别来电者", "Unknown caller"),
    "call.not_identified": ("未识别", "not identified"),
    "call.number_withheld": ("号码未显示", "number withheld"),
    "call.verified": ("已在语音导航中验证身份", "verified in the IVR"),
    "call.not_verified": ("未验证身份", "NOT verified"),
    "call.not_chosen": ("未选择", "not chosen"),
    "call.asked_agent": (" ← 在此要求转人工", " ← asked for an agent here"),
    "call.handed_agent": (" ← 转接人工", " ← handed to an agent"),
    "call.no_ivr": ("无语音导航步骤（直接或外呼）", "no IVR steps (direct or outbound call)"),
    "call.no_previous": ("无历史来电", "No previous calls"),
    "call.no_tickets": ("无未结工单", "No open tickets"),
    "wrapup.title": ("话后小结", "Wrap-up"),
    "wrapup.code": ("小结代码（业务类别）", "Wrap-up code (business category)"),
    "wrapup.choose": ("— 请选择 —", "— choose —"),
    "wrapup.ready": ("我已准备好接听下一个电话", "I am ready for the next call"),
    "wrapup.save": ("保存小结", "Save wrap-up"),
    "wrapup.saved": ("小结已保存。", "Wrap-up saved."),
    "wrapup.no_call": ("没有需要小结的通话。", "There is no call to wrap up."),
    "preview.title": ("营销外呼", "Campaign calls"),
    "preview.next": ("下一个外呼客户", "Next campaign call"),
    "preview.attempt": ("第 {n} 次，共 3 次", "attempt {n} of 3"),
    "preview.attempt_line": ("第 {n} 次：{outcome}", "Attempt {n}: {outcome}"),
    "preview.no_result": ("无结果", "no result"),
    "preview.dial": ("拨打", "Dial"),
    "preview.skip": ("跳过", "Skip"),
    "preview.outcome": ("结果", "Outcome"),
    "preview.record": ("记录结果", "Record outcome"),
    "preview.dialling": ("正在拨号：先呼叫您的话机，再呼叫客户。", "Dialling: your phone rings first, then the customer's."),
    "preview.skipped": ("已跳过该客户，不计入拨打次数。", "Customer skipped; no attempt was used."),
    "preview.recorded": ("结果已记录；客户状态：{status}。", "Outcome recorded; the customer is now {status}."),
    "state.title": ("我的状态", "My state"),
    "state.available_button": ("示闲", "Available"),
    "state.ready_button": ("就绪", "Ready"),
    "state.away": ("暂离", "Away"),
    "state.go_away": ("设为暂离", "Go away"),
    "state.log_out_queues": ("退出队列", "Log out of queues"),
    "state.missed_hint": ("您因未接来电被设为暂离。回来后请点击“示闲”。",
                          "You were set away after missing calls. Press Available when you are back."),
    "state.after_call": ("本通话结束后：{state}", "After this call: {state}"),
    "state.calls_today": ("今日通话：{n}", "Calls today: {n}"),
    "callbacks.mine": ("我的回拨", "My callbacks"),
    "callbacks.number": ("号码", "Number"),
    "callbacks.when": ("时间（{zone}）", "When ({zone})"),
    "callbacks.note": ("备注", "Note"),
    "callbacks.promise": ("我将回拨给您", "I will call you back"),
    "callbacks.none": ("没有待回拨", "No callbacks scheduled"),
    "callbacks.scheduled": ("回拨已安排。", "Callback scheduled."),
    "callbacks.choose_time": ("请选择回拨时间。", "Choose when to call back."),
    "missed.call": ("您错过了一个来电。", "You missed a call."),
    "net.unreachable": ("无法连接服务器，请检查网络后重试。",
                        "The server cannot be reached; check your connection and try again."),
    "net.failed": ("请求失败（{status}）", "Request failed ({status})"),
    # the supervisor
    "sup.title": ("班长席", "Supervisor"),
    "sup.campaigns": ("营销活动", "Campaigns"),
    "sup.callbacks": ("回拨", "Callbacks"),
    "sup.queues": ("队列", "Queues"),
    "sup.queue": ("队列", "Queue"),
    "sup.open": ("服务中", "Open"),
    "sup.waiting": ("等待", "Waiting"),
    "sup.longest": ("最长等待", "Longest wait"),
    "sup.available_staffed": ("空闲 / 在岗坐席", "Agents available / staffed"),
    "sup.is_open": ("服务中", "open"),
    "sup.is_closed": ("已关闭", "closed"),
    "sup.agents": ("坐席", "Agents"),
    "sup.agent": ("坐席", "Agent"),
    "sup.state": ("状态", "State"),
    "sup.since": ("起始时间", "Since"),
    "sup.busy_in": ("服务队列", "Busy in queue"),
    "sup.calls_today": ("今日通话", "Calls today"),
    "sup.missed_in_row": ("连续未接", "Missed in a row"),
    "sup.set_state": ("设置状态", "Set state"),
    "sup.set": ("设置", "Set"),
    "sup.set_state_of": ("设置 {name} 的状态", "Set state of {name}"),
    "sup.new_state_for": ("{name} 的新状态", "new state for {name}"),
    "sup.phone_unreachable": ("话机无法接通", "phone unreachable"),
    "sup.after_call": ("通话后 → {state}", "→ {state} after call"),
    "sup.missed_note": ("因未接来电被设为暂离的坐席会高亮显示。每次强制设置状态都会写入审计日志。",
                        "Agents set away after missed calls are highlighted. Every forced state is written to the audit log."),
    "sup.will_be": ("{name} 将在本通话结束后变为 {state}。", "{name} will be {state} after the current call."),
    "sup.is_now": ("{name} 现在是 {state}。", "{name} is now {state}."),
    "sup.activity": ("实时动态", "Live activity"),
    "sup.recent": ("最近通话", "Recent calls"),
    "sup.started": ("开始时间", "Started"),
    "sup.caller": ("来电号码", "Caller"),
    "sup.channel": ("通道", "Channel"),
    "sup.status": ("状态", "Status"),
    "sup.duration": ("时长（秒）", "Duration (s)"),
    "sup.calls_total": ("共 {n} 通", "{n} calls in all"),
    "sup.no_calls": ("暂无通话。", "No calls yet."),
    "sup.times_in": ("时间为 {zone} 时间。", "Times are {zone} time."),
    "sup.logged_out": ("已退出", "logged out"),
    "sup.available": ("空闲", "available"),
    "sup.away_reason": ("暂离：{reason}", "away: {reason}"),
    "phones.title": ("坐席话机", "Agent phones"),
    "phones.problems": ("问题", "Problems"),
    "phones.never": ("无法拨打，不会分配来电：{problem}", "never dialled: {problem}"),
    "phones.note": ("来电只分配给在该通道（Asterisk 或 Twilio）有话机的坐席；话机无法接通的坐席会被设为暂离，并在振铃超时后重试。",
                    "A call is offered only to agents with a phone on its transport; an agent whose phone cannot "
                    "be reached is set away (phone unreachable) and tried again after the ring timeout."),
    # callbacks page
    "cb.title": ("回拨", "Callbacks"),
    "cb.status": ("状态", "Status"),
    "cb.all": ("全部", "all"),
    "cb.show": ("显示", "Show"),
    "cb.kind": ("类型", "Kind"),
    "cb.customer": ("客户", "Customer"),
    "cb.number": ("号码", "Number"),
    "cb.queue_agent": ("队列 / 坐席", "Queue / agent"),
    "cb.due": ("预约时间", "Due"),
    "cb.attempts": ("尝试次数", "Attempts"),
    "cb.note": ("备注", "Note"),
    "cb.kind.queue": ("保留排队位置", "caller kept their place"),
    "cb.kind.agent": ("坐席承诺回拨", "promised by agent"),
    "cb.total": ("共 {n} 个回拨", "{n} callbacks"),
    "cb.none": ("没有回拨。", "No callbacks."),
    # campaigns page
    "camp.title": ("营销外呼活动", "Outbound campaigns"),
    "camp.list": ("活动", "Campaigns"),
    "camp.name": ("活动名称", "Campaign"),
    "camp.department": ("部门", "Department"),
    "camp.reason": ("原因", "Reason"),
    "camp.status": ("状态", "Status"),
    "camp.customers": ("客户数", "Customers"),
    "camp.attempts": ("拨打次数", "Attempts"),
    "camp.reached": ("已联系", "Reached"),
    "camp.other_channel": ("改用其他渠道", "Other channel"),
    "camp.decision": ("审批", "Decision"),
    "camp.note": ("备注", "note"),
    "camp.approve": ("批准", "Approve"),
    "camp.reject": ("拒绝", "Reject"),
    "camp.approve_named": ("批准活动 {name}", "Approve campaign {name}"),
    "camp.reject_named": ("拒绝活动 {name}", "Reject campaign {name}"),
    "camp.none": ("还没有活动。", "No campaigns yet."),
    "camp.by_department": ("按部门汇总", "Summary by department"),
    "camp.count": ("活动数", "Campaigns"),
    "camp.new": ("新建活动", "New campaign"),
    "camp.new_note": ("活动须经班长批准后才会拨打。每位客户最多拨打 3 次。",
                      "Nothing is dialled until a supervisor approves it. Each customer gets at most 3 attempts."),
    "camp.script": ("话术", "Script"),
    "camp.customer_list": ("客户（客户号或手机号，每行一个）", "Customers (customer numbers or mobile numbers, one per line)"),
    "camp.create": ("创建活动", "Create campaign"),
    "camp.not_created": ("活动未创建：{error}", "Campaign not created: {error}"),
    "camp.created": ("活动 {name} 已创建，等待审批。", "Campaign {name} created; it waits for approval."),
    "camp.not_decided": ("审批未保存：{error}", "Decision not saved: {error}"),
    "camp.approved": ("活动 {name} 已批准。", "Campaign {name} approved."),
    "camp.rejected": ("活动 {name} 已拒绝。", "Campaign {name} rejected."),
    "camp.status.pending": ("待审批", "pending"),
    "camp.status.approved": ("已批准", "approved"),
    "camp.status.rejected": ("已拒绝", "rejected"),
    "camp.status.done": ("已完成", "done"),
    # admin
    "admin.title": ("系统管理", "Administration"),
    "admin.users": ("用户", "Users"),
    "admin.username": ("用户名", "Username"),
    "admin.name": ("姓名", "Name"),
    "admin.role": ("角色", "Role"),
    "admin.active": ("启用", "Active"),
    "admin.login": ("登录", "Login"),
    "admin.yes": ("是", "yes"),
    "admin.no": ("否", "no"),
    "admin.locked": ("已锁定（登录失败次数过多）", "locked (too many failed logins)"),
    "admin.unlock": ("解锁", "Unlock"),
    "admin.unlock_named": ("解锁 {name}", "Unlock {name}"),
    "admin.ok": ("正常", "ok"),
    "admin.add": ("新增用户", "Add a user"),
    "admin.password": ("密码", "Password"),
    "admin.add_button": ("添加", "Add"),
    "admin.created": ("已创建用户 {name}（{role}）。", "User {name} ({role}) created."),
    "admin.unlocked": ("已解除 {name} 的登录限制。", "{name} may log in again."),
    "admin.not_created": ("用户未创建：{error}", "User not created: {error}"),
    # quality
    "qa.title": ("质量管理", "Quality assurance"),
    "qa.body": ("通话抽检、评分表和评估将随质检模块提供。坐席通话录音与通话记录一同保存，之后会在此列出供评分。",
                "Call sampling, scorecards and evaluations arrive with the QA module. Recorded agent calls are kept "
                "with their call legs and will be listed here for scoring."),
    # agent states
    "agent_state.logged_out": ("已退出", "Logged out"),
    "agent_state.available": ("空闲", "Available"),
    "agent_state.reserved": ("振铃中", "Ringing"),
    "agent_state.on_call": ("通话中", "On a call"),
    "agent_state.wrap_up": ("话后处理", "Wrap-up"),
    "agent_state.away": ("暂离", "Away"),
    "agent_state.ready": ("就绪", "Ready"),
    # away reasons
    "away.break": ("小休", "break"),
    "away.meal": ("用餐", "meal"),
    "away.training": ("培训", "training"),
    "away.meeting": ("会议", "meeting"),
    "away.missed_calls": ("未接来电", "missed calls"),
    "away.phone_unreachable": ("话机无法接通", "phone unreachable"),
    "away.preview": ("预览外呼", "preview call"),
    # business categories (= wrap-up codes); config/acd/queues.yaml names them without labels
    "category.balance": ("余额查询", "Balance"),
    "category.card_loss": ("挂失", "Card loss"),
    "category.pin": ("密码业务", "PIN"),
    "category.transfer": ("转账", "Transfer"),
    "category.bill": ("缴费", "Bill payment"),
    "category.complaint": ("投诉", "Complaint"),
    "category.other": ("其他", "Other"),
    # queues
    "queue.general": ("综合业务", "General"),
    "queue.cards": ("银行卡", "Cards"),
    "queue.complaints": ("投诉", "Complaints"),
    "queue.vip": ("贵宾", "VIP"),
    # menu nodes of config/ivr/menus.yaml (the file has no titles)
    "node.language": ("语言选择", "Language"),
    "node.main": ("主菜单", "Main menu"),
    "node.cards": ("银行卡菜单", "Cards menu"),
    "node.balance": ("余额查询", "Balance"),
    "node.card_loss": ("挂失", "Card loss"),
    "node.pin_change": ("修改密码", "PIN change"),
    "node.transfer": ("转账", "Transfer"),
    "node.bill": ("缴费", "Bill payment"),
    "node.complaint": ("投诉", "Complaint"),
    "node.done": ("业务办理完毕", "After the service"),
    "node.goodbye": ("再见", "Goodbye"),
    "node.start": ("开始", "Start"),
    # self-service operations at a step, and what came of them
    "op.identify": ("识别客户", "identify the caller"),
    "op.verify": ("验证身份", "verify identity"),
    "op.verify_card": ("验证银行卡", "check the card"),
    "op.balance": ("查询余额", "balance"),
    "op.card_loss": ("挂失", "card loss report"),
    "op.pin_change": ("修改密码", "PIN change"),
    "op.transfer": ("转账", "transfer"),
    "op.bill": ("缴费", "bill payment"),
    "ivr_outcome.ok": ("成功", "ok"),
    "ivr_outcome.failed": ("失败", "failed"),
    "ivr_outcome.busy": ("系统忙", "busy"),
    "ivr_outcome.card_blocked": ("卡已冻结", "card blocked"),
    "ivr_outcome.insufficient_funds": ("余额不足", "insufficient funds"),
    "ivr_outcome.limit_exceeded": ("超出限额", "limit exceeded"),
    "ivr_outcome.locked": ("已锁定", "locked"),
    "ivr_outcome.not_found": ("未找到", "not found"),
    "ivr_outcome.weak_pin": ("密码过于简单", "PIN too weak"),
    "ivr_outcome.wrong_pin": ("密码错误", "wrong PIN"),
    "ivr_outcome.zh-CN": ("中文", "Chinese"),
    "ivr_outcome.en-US": ("英文", "English"),
    # what happened at an IVR step
    "step.enter": ("进入", "entered"),
    "step.key": ("按键 {detail}", "pressed {detail}"),
    "step.key.secret": ("输入了保密信息", "entered a secret"),
    "step.timeout": ("超时未按键", "no key pressed"),
    "step.operation": ("自助：{detail}", "self-service: {detail}"),
    "step.transfer": ("转人工", "to an agent"),
    "step.end": ("结束", "ended"),
    # call statuses, channels, directions
    "call_status.in-progress": ("进行中", "in progress"),
    "call_status.initiated": ("拨号中", "dialling"),
    "call_status.ringing": ("振铃中", "ringing"),
    "call_status.completed": ("已完成", "completed"),
    "call_status.abandoned": ("已放弃", "abandoned"),
    "call_status.failed": ("失败", "failed"),
    "call_status.busy": ("忙线", "busy"),
    "call_status.no-answer": ("无人接听", "no answer"),
    "channel.twilio": ("Twilio", "Twilio"),
    "channel.asterisk": ("Asterisk", "Asterisk"),
    # callback statuses
    "callback_status.pending": ("待回拨", "pending"),
    "callback_status.dialing": ("拨号中", "dialing"),
    "callback_status.done": ("已完成", "done"),
    "callback_status.failed": ("失败", "failed"),
    "callback_status.cancelled": ("已取消", "cancelled"),
    # campaign outcomes and contact statuses
    "outcome.reached": ("已联系上", "reached"),
    "outcome.no_answer": ("无人接听", "no answer"),
    "outcome.busy": ("忙线", "busy"),
    "outcome.failed": ("拨打失败", "failed"),
    "outcome.refused": ("客户拒绝", "refused"),
    "outcome.wrong_number": ("号码错误", "wrong number"),
    "outcome.agent_unreachable": ("坐席话机无法接通", "agent unreachable"),
    "contact.open": ("待拨打", "open"),
    "contact.previewing": ("预览中", "previewing"),
    "contact.dialing": ("拨号中", "dialing"),
    "contact.done": ("已完成", "done"),
    "contact.other_channel": ("改用其他渠道", "other channel"),
    # live activity kinds
    "event.state": ("状态变化", "state"),
    "event.offered": ("分配来电", "offered"),
    "event.answered": ("接听", "answered"),
    "event.missed": ("未接", "missed"),
    "event.ended": ("结束", "ended"),
    "event.queued": ("排队", "queued"),
    "event.abandoned": ("放弃", "abandoned"),
    "event.overflowed": ("溢出", "overflowed"),
    "event.wrap_up": ("话后处理", "wrap-up"),
    "event.transferred": ("转接", "transferred"),
    "event.callback_scheduled": ("已安排回拨", "callback scheduled"),
    # messages of the desktop's API that the pages show
    "err.away_reason": ("暂离需要选择原因：{choices}", "away needs a reason: one of {choices}"),
    "err.wrapup_code": ("请选择小结代码：{choices}", "wrapup_code: choose one of {choices}"),
    "err.due_future": ("回拨时间必须晚于现在。", "due: the callback time must be in the future"),
    "err.due_range": ("回拨时间超出范围。", "due: the callback time is out of range"),
    "err.not_agent": ("此账号未关联坐席。", "this login is not linked to an agent"),
    "err.no_customer": ("客户 {id} 不存在。", "customer_id: no customer {id}"),
    "err.no_preview": ("当前没有到期的外呼客户。", "no campaign customer is due now"),
    "err.preview_hours": ("营销外呼只在工作时间进行。", "campaign calls are made in working hours only"),
}

STRINGS: dict[Language, dict[str, str]] = {
    Language.ZH: {key: pair[0] for key, pair in _PAIRS.items()},
    Language.EN: {key: pair[1] for key, pair in _PAIRS.items()},
}

# The label families that the browser also needs (the desktop and the supervisor view label live data).
JS_PREFIXES = ("agent_state.", "op.", "ivr_outcome.", "away.", "category.", "queue.", "node.", "step.", "call_status.", "outcome.",
               "contact.", "event.", "callback_status.", "live.", "call.", "wrapup.", "preview.", "state.",
               "callbacks.", "missed.", "net.", "sup.", "offline.")

_TAG = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


def negotiate(accept_language: str | None, default: Language | None = DEFAULT) -> Language | None:
    """The language for an Accept-Language header: the best-ranked zh or en tag; `default` (zh-CN) when none."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        match = _TAG.match(part)
        if not match:
            continue
        try:
            q = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if q > 0:
            ranked.append((-q, position, match.group(1).lower()))
    for _, _, tag in sorted(ranked):
        if tag == "zh" or tag.startswith("zh-"):
            return Language.ZH
        if tag == "en" or tag.startswith("en-"):
            return Language.EN
    return default


def parse_language(value: str | None) -> Language | None:
    """A language code we serve (as stored, as sent by the switch), else None."""
    try:
        return Language(value) if value else None
    except ValueError:
        return None


def translate(lang: Language, key: str, **values: object) -> str:
    text = STRINGS[lang].get(key, key)
    return text.format(**values) if values else text


def label(lang: Language, family: str, code: str | None) -> str:
    """The shown name of a code (family: category, agent_state, away, queue, node, ...); the code when unknown."""
    if not code:
        return ""
    return STRINGS[lang].get(f"{family}.{code}", code.replace("_", " "))


def js_strings(lang: Language) -> dict[str, str]:
    return {key: text for key, text in STRINGS[lang].items() if key.startswith(JS_PREFIXES)}


# --- the centre's clock ----------------------------------------------------------------------------------


def to_zone(moment: datetime | str | None, zone: tzinfo) -> datetime | None:
    """A stored moment (aware, naive UTC as SQLite returns it, or its ISO text) in the centre's zone."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def local_text(moment: datetime | str | None, zone: tzinfo, form: str = "datetime") -> str:
    """How the pages print a moment: "2026-12-02 09:54:11" (datetime), "09:54" (minute) or "09:54:11" (time),
    always in the centre's zone, whatever the browser's own zone is. The desktop's script prints the same."""
    local = to_zone(moment, zone)
    if local is None:
        return ""
    if form == "time":
        return local.strftime("%H:%M:%S")
    if form == "minute":
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def iso(moment: datetime | None) -> str | None:
    """A stored moment for the JSON API: ISO 8601 with its offset (stored values are UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
