"""A tariff version as a form: fields to a tariff document version and back, and a day's prices as a table."""
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.core.clock import LOCAL_TZ
from backend.pages.i18n import gettext
from billing.tariffs import NoTariffInEffect, Tariff, period_in_effect

MODES = ("flat", "tou")
RATIO_PERIODS = ("critical_peak", "peak", "valley", "deep_valley")
PERIOD_CHOICES = ("critical_peak", "peak", "flat", "valley", "deep_valley")
SEASONS, ROWS = 3, 10


@dataclass(frozen=True)
class PriceRow:
    start: str  # HH:MM, local
    end: str  # HH:MM, local; 24:00 at the end of the day
    period: str
    price_per_kwh: Decimal


def form_of_version(version: dict[str, Any] | None) -> dict[str, str]:
    """The form's fields filled from a stored version (the latest one, to start a new version from)."""
    if not version:
        return {"mode": "flat"}
    values = {"mode": "tou" if version.get("time_of_use") else "flat", "note": version.get("note", "")}
    fee = version.get("service_fee") or {}
    values["fee_per_kwh"] = str(fee.get("per_kwh") or "")
    values["fee_per_session"] = str(fee.get("per_session") or "")
    tou = version.get("time_of_use")
    if not tou:
        values["price"] = str(version.get("price_per_kwh", ""))
        return values
    values["price"] = str(tou["flat_price_per_kwh"])
    for period, ratio in tou.get("ratios", {}).items():
        values[f"ratio_{period}"] = str(ratio)
    for s, season in enumerate(tou.get("seasons", [])[:SEASONS]):
        values[f"s{s}_name"] = season.get("name", "")
        values[f"s{s}_months"] = ",".join(str(m) for m in season.get("months", []))
        for r, row in enumerate(season.get("periods", [])[:ROWS]):
            values[f"s{s}_r{r}_period"], values[f"s{s}_r{r}_start"], values[f"s{s}_r{r}_end"] = (
                row["period"], row["start"], row["end"])
    return values


def version_of_form(form: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """A document version from the form's fields, or a message per field in the request's language."""
    errors: dict[str, str] = {}
    effective = _day(form, "effective_from", errors)
    price = _price(form, "price", errors, required=True)
    version: dict[str, Any] = {"label": form.get("label", "").strip() or (effective.isoformat() if effective else ""),
                               "effective_from": effective.isoformat() if effective else ""}
    if form.get("note", "").strip():
        version["note"] = form["note"].strip()[:1000]
    if form.get("mode") == "tou":
        version["time_of_use"] = {"flat_price_per_kwh": str(price) if price else "",
                                  "ratios": _ratios(form, errors), "seasons": _seasons(form, errors)}
    else:
        version["price_per_kwh"] = str(price) if price else ""
    fee = {key: str(value) for key, value in
           (("per_kwh", _price(form, "fee_per_kwh", errors)), ("per_session", _price(form, "fee_per_session", errors)))
           if value is not None}
    if fee:
        version["service_fee"] = fee
    return (None, errors) if errors else (version, {})


def _day(form: dict[str, str], name: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(form.get(name, "").strip())
    except ValueError:
        errors[name] = gettext("Enter a date, e.g. 2026-06-01")
        return None


def _price(form: dict[str, str], name: str, errors: dict[str, str], required: bool = False) -> Decimal | None:
    text = form.get(name, "").strip()
    if not text:
        if required:
            errors[name] = gettext("Required")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = gettext("Enter a number, e.g. 20 or 20.50")
        return None
    if not value.is_finite() or value <= 0 or value > 1000 or -value.as_tuple().exponent > 4:
        errors[name] = gettext("A price above 0, with at most 4 decimals")
        return None
    return value


def _ratios(form: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
    ratios = {}
    for period in RATIO_PERIODS:
        value = _price(form, f"ratio_{period}", errors)
        if value is not None:
            ratios[period] = str(value)
    return ratios


def _seasons(form: dict[str, str], errors: dict[str, str]) -> list[dict[str, Any]]:
    seasons = []
    for s in range(SEASONS):
        months_text = form.get(f"s{s}_months", "").strip()
        rows = [{"period": form.get(f"s{s}_r{r}_period", ""), "start": form.get(f"s{s}_r{r}_start", "").strip(),
                 "end": form.get(f"s{s}_r{r}_end", "").strip()} for r in range(ROWS)]
        rows = [row for row in rows if row["start"] or row["end"]]
        if not months_text and not rows:
            continue
        try:
            months = [int(m) for m in months_text.replace("，", ",").split(",") if m.strip()]
        except ValueError:
            errors[f"s{s}_months"] = gettext("Months as numbers 1–12, separated by commas")
            months = []
        seasons.append({"name": form.get(f"s{s}_name", "").strip() or f"season_{s + 1}", "months": months,
                        "periods": rows})
    return seasons


def document_with(base: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """A copy of the stored document with `version` added (or replacing a not-yet-effective one of its label)."""
    document = json.loads(json.dumps(base))
    kept = [v for v in document.get("versions", []) if v.get("label") != version["label"]]
    document["versions"] = sorted([*kept, version], key=lambda v: v.get("effective_from", ""))
    return document


def day_prices(tariff: Tariff, day: date) -> list[PriceRow]:
    """The periods and prices of one local day, in order (empty before the tariff takes effect)."""
    start = datetime.combine(day, time(), LOCAL_TZ)
    end = start + timedelta(days=1)
    rows, moment = [], start
    while moment < end:
        try:
            found = period_in_effect(tariff, moment)
        except NoTariffInEffect:
            first = tariff.versions[0].effective_from
            if first >= end:
                return rows
            moment = first
            continue
        until = min(found.until or end, end)
        rows.append(PriceRow(_clock(moment), "24:00" if until >= end else _clock(until), found.period,
                             found.price_per_kwh))
        moment = until
    return rows


def _clock(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M")
