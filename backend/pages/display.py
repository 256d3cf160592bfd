"""How numbers, times and states read on the pages: yuan, kWh, Asia/Shanghai time, badges, states in plain words.

The tables hold English message ids (marked with N_ for extraction); the filters translate them
into the request's language when a page is rendered.
"""
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from backend.core.clock import local
from backend.pages.i18n import N_, gettext

FEN = Decimal("0.01")
NOTHING = "—"

SESSION_STATUS_TEXT = {
    "starting": N_("Switching on…"),
    "active": N_("Power on"),
    "stopping": N_("Switching off…"),
    "completed": N_("Completed"),
    "failed": N_("Did not start"),
}
STOP_REASON_TEXT = {
    "vendor": N_("You stopped it"),
    "remote": N_("Stopped remotely by the operator"),
    "applicant": N_("Stopped by the point's manager"),
    "point_closed": N_("The point was closed by the operator"),
    "point_expired": N_("The point's permit ended"),
    "max_duration": N_("It ran for the longest a session may run, so the platform stopped it"),
    "no_start_ack": N_("The meter did not confirm the start, so the platform switched it off"),
    "limit_reached": N_("The money set aside was used up: the meter switched off"),
    "meter": N_("Switched off by the meter"),
    "overload": N_("Overload: the appliance drew more than the outlet allows"),
    "power_loss": N_("The supply was lost"),
    "unplugged": N_("The appliance was unplugged"),
    "no_load": N_("Nothing drew power for a while, so it switched off"),
}
PURPOSE_TEXT = {
    "irrigation": N_("Irrigation"),
    "night_market": N_("Night market"),
    "tea_processing": N_("Tea processing"),
    "other": N_("Other"),
}
PERIOD_TEXT = {
    "critical_peak": N_("Critical peak"), "peak": N_("Peak"), "flat": N_("Flat"), "valley": N_("Valley"),
    "deep_valley": N_("Deep valley"), "all_day": N_("All day, one price"), "per_kwh": N_("Service fee per kWh"),
    "per_session": N_("Service fee per session"),
    "late_reading": N_("Correction: meter data that arrived late"),
    "max_amount": N_("Capped at the most this session could cost"),
    "stop_confirmed": N_("Correction: the meter's own stop record"),
}
LINE_KIND_TEXT = {
    "energy": N_("Electricity"), "service_fee": N_("Service fee"), "cap": N_("Cap"),
    "adjustment": N_("Correction"),
}
STATUS_TEXT = {
    # points
    "submitted": N_("Waiting for review"), "approved": N_("Approved, meter not installed"),
    "active": N_("In service"), "rejected": N_("Rejected"), "closed": N_("Closed"), "expired": N_("Expired"),
    # meters
    "online": N_("Online"), "offline": N_("Offline"), "flooding": N_("Too many messages"),
    # alarms
    "open": N_("Open"), "cleared": N_("Cleared"),
}
ALARM_TEXT = {
    "over_voltage": N_("Voltage too high"), "under_voltage": N_("Voltage too low"),
    "outlet_overload": N_("Outlet overloaded"), "point_over_capacity": N_("Point over its capacity"),
    "supply_lost": N_("Supply lost"), "meter_flooding": N_("Meter sends too many messages"),
    "dtu_silent": N_("DTU silent"),
    "meter_offline": N_("Meter silent, offline"),
}
REJECTION_TEXT = {
    "bad_message": N_("Malformed message"), "unknown_meter": N_("Unknown meter"),
    "internal_error": N_("Could not be applied"), "rate_limited": N_("Over the rate limit"),
    "unsorted": N_("Not classified"),
}
ROLE_TEXT = {"vendor": N_("Vendor"), "applicant": N_("Applicant"), "operator": N_("Operator")}
CATEGORY_TEXT = {"agricultural": N_("Agricultural"), "commercial": N_("Commercial"),
                 "residential": N_("Residential")}
# Keyed by plain value: session, point and meter states share one colour language.
_BADGES = {
    "active": "ok", "online": "ok",
    "starting": "wait", "stopping": "wait", "submitted": "wait", "approved": "done",
    "failed": "bad", "rejected": "bad", "flooding": "bad", "open": "bad",
    "completed": "done",
}


def _text(table: dict[str, str], value) -> str:
    if value is None:
        return NOTHING
    key = str(getattr(value, "value", value))
    return gettext(table[key]) if key in table else key


def yuan(amount: Decimal | None) -> str:
    """¥12.34; a debt reads -¥1.00 rather than ¥-1.00."""
    if amount is None:
        return NOTHING
    rounded = Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}¥{abs(rounded):,.2f}"


def price(price_per_kwh: Decimal | None) -> str:
    # Catalogue prices carry four decimals (0.5090 yuan/kWh); rounding them to fen would misquote.
    return NOTHING if price_per_kwh is None else f"¥{Decimal(price_per_kwh):.4f}/kWh"


def kwh(energy_wh: int | None) -> str:
    return NOTHING if energy_wh is None else f"{Decimal(energy_wh) / 1000:,.3f} kWh"


def wh(register_wh: int | None) -> str:
    return NOTHING if register_wh is None else f"{register_wh:,} Wh"


def power(power_w: float | None) -> str:
    if power_w is None:
        return NOTHING
    return f"{power_w:,.0f} W" if power_w < 1000 else f"{power_w / 1000:,.2f} kW"


def volts(voltage_v: float | Decimal | None) -> str:
    return NOTHING if voltage_v is None else f"{float(voltage_v):.1f} V"


def amps(current_a: float | Decimal | None) -> str:
    return NOTHING if current_a is None else f"{float(current_a):.1f} A"


_ALARM_UNITS = {"over_voltage": volts, "under_voltage": volts, "supply_lost": volts, "outlet_overload": amps,
                "point_over_capacity": lambda kw: f"{float(kw):.2f} kW"}


def alarm_value(value: float | Decimal | None, kind: str) -> str:
    """An alarm's worst value or limit with the unit its kind is measured in (V, A or kW)."""
    if value is None:
        return NOTHING
    shown = _ALARM_UNITS.get(str(kind))
    return shown(value) if shown else f"{Decimal(str(value)).normalize():f}"


def when(moment: datetime | None) -> str:
    """A stored UTC time as people here read it: Asia/Shanghai, to the second."""
    shown = local(moment)
    return NOTHING if shown is None else shown.strftime("%Y-%m-%d %H:%M:%S")


def day(moment: date | datetime | None) -> str:
    if moment is None:
        return NOTHING
    return (local(moment) if isinstance(moment, datetime) else moment).strftime("%Y-%m-%d")


def clock(moment: datetime | None) -> str:
    """A time of day in Asia/Shanghai, e.g. 22:00."""
    shown = local(moment)
    return NOTHING if shown is None else shown.strftime("%H:%M")


def clock_seconds(moment: datetime | None) -> str:
    """A time of day to the second in Asia/Shanghai, e.g. 22:00:05: how fresh a live figure is."""
    shown = local(moment)
    return NOTHING if shown is None else shown.strftime("%H:%M:%S")


def sentence(text: str | None) -> str:
    """A message as a sentence: capital first letter, a final full stop (。 after Chinese)."""
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    if text.endswith((".", "!", "?", "。", "！", "？")):
        return text
    return text + ("。" if _is_cjk(text[-1]) else ".")


def _is_cjk(character: str) -> bool:
    return "\u3000" <= character <= "\u9fff" or "\uff00" <= character <= "\uffef"


def badge(status) -> str:
    """The CSS modifier for a status badge: ok (green), wait (amber), bad (red), done (blue), off (grey)."""
    return _BADGES.get(str(getattr(status, "value", status)), "off")


def status_text(status) -> str:
    return _text(STATUS_TEXT, status)


def session_status(status) -> str:
    return _text(SESSION_STATUS_TEXT, status)


def stop_reason(reason) -> str:
    return _text(STOP_REASON_TEXT, reason)


def purpose(value) -> str:
    return _text(PURPOSE_TEXT, value)


def period(name: str) -> str:
    return _text(PERIOD_TEXT, name)


def line_kind(kind: str) -> str:
    return _text(LINE_KIND_TEXT, kind)


def alarm_kind(kind) -> str:
    return _text(ALARM_TEXT, kind)


def rejection_kind(kind) -> str:
    return _text(REJECTION_TEXT, kind)


def role(value) -> str:
    return _text(ROLE_TEXT, value)


def category(value) -> str:
    return _text(CATEGORY_TEXT, value)
