"""How numbers, times and states read on the pages: yuan, kWh, Asia/Shanghai time, badges."""
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from backend.core.clock import local
from backend.points.models import Purpose
from backend.sessions.models import SessionStatus, StopReason

FEN = Decimal("0.01")
NOTHING = "—"

SESSION_STATUS_TEXT = {
    SessionStatus.starting: "Switching on…",
    SessionStatus.active: "Power on",
    SessionStatus.stopping: "Switching off…",
    SessionStatus.completed: "Completed",
    SessionStatus.failed: "Failed",
}
STOP_REASON_TEXT = {
    StopReason.vendor: "Stopped by the vendor",
    StopReason.remote: "Stopped remotely by the operator",
    StopReason.applicant: "Stopped by the point's applicant 申请方停止",
    StopReason.point_closed: "The point was closed by the operator 用电点已关闭",
    StopReason.point_expired: "The point's validity ended 用电点已到期",
    StopReason.limit_reached: "Balance limit reached: the meter switched off",
    StopReason.meter: "Switched off by the meter",
    StopReason.overload: "Overload: the outlet drew more than it may, so the meter switched off 过载断电",
    StopReason.power_loss: "The supply was lost 停电",
    StopReason.unplugged: "The appliance was unplugged 已拔出",
    StopReason.no_load: "Nothing drew power for a while (pump stopped or stall closed) 无负载自动断电",
}
PURPOSE_TEXT = {
    Purpose.irrigation: "Irrigation 春灌秋收",
    Purpose.night_market: "Night market 地摊夜市",
    Purpose.tea_processing: "Tea processing 炒茶烤烟",
    Purpose.other: "Other 其他",
}
PERIOD_TEXT = {
    "critical_peak": "Critical peak 尖峰", "peak": "Peak 峰", "flat": "Flat 平", "valley": "Valley 谷",
    "deep_valley": "Deep valley 深谷", "all_day": "All day 全天", "per_kwh": "Service fee per kWh 服务费",
    "per_session": "Service fee per session 服务费",
    "late_reading": "Correction from late meter data 补传数据调整",
    "max_amount": "Capped at the most this session could cost 封顶",
    "stop_confirmed": "Correction from the meter's stop record 止码确认调整",
}
# Keyed by plain value: session, point and meter states share one colour language.
_BADGES = {
    "active": "ok", "online": "ok",
    "starting": "wait", "stopping": "wait", "submitted": "wait",
    "failed": "bad", "rejected": "bad",
    "completed": "done", "approved": "done",
}


def yuan(amount: Decimal | None) -> str:
    """¥12.34; a debt reads -¥1.00 rather than ¥-1.00."""
    if amount is None:
        return NOTHING
    rounded = Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}¥{abs(rounded):,.2f}"


def price(price_per_kwh: Decimal) -> str:
    # Catalogue prices carry four decimals (0.5090 yuan/kWh); rounding them to fen would misquote.
    return f"¥{Decimal(price_per_kwh):.4f}/kWh"


def kwh(energy_wh: int | None) -> str:
    return NOTHING if energy_wh is None else f"{Decimal(energy_wh) / 1000:,.3f} kWh"


def wh(register_wh: int | None) -> str:
    return NOTHING if register_wh is None else f"{register_wh:,} Wh"


def power(power_w: float | None) -> str:
    if power_w is None:
        return NOTHING
    return f"{power_w:,.0f} W" if power_w < 1000 else f"{power_w / 1000:,.2f} kW"


def when(moment: datetime | None) -> str:
    """A stored UTC time as people here read it: Asia/Shanghai, to the second."""
    shown = local(moment)
    return NOTHING if shown is None else shown.strftime("%Y-%m-%d %H:%M:%S")


def sentence(text: str | None) -> str:
    """A service's message as a sentence: capital first letter, final full stop."""
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def badge(status: str) -> str:
    """The CSS modifier for a status badge: ok (green), wait (amber), bad (red), done (blue), off (grey)."""
    return _BADGES.get(str(status), "off")


def session_status(status: SessionStatus) -> str:
    return SESSION_STATUS_TEXT[status]


def stop_reason(reason: StopReason | None) -> str:
    return NOTHING if reason is None else STOP_REASON_TEXT[reason]


def purpose(value: Purpose) -> str:
    return PURPOSE_TEXT[value]


def period(name: str) -> str:
    return PERIOD_TEXT.get(name, name)


def clock(moment: datetime | None) -> str:
    """A time of day in Asia/Shanghai, e.g. 22:00."""
    shown = local(moment)
    return NOTHING if shown is None else shown.strftime("%H:%M")
