"""A meter for operators: outlets' load and voltage curves, relay commands and acks, alarms, refused messages,
and its commissioning sheet."""
from datetime import timedelta

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse

from backend.alarms import service as alarms
from backend.alarms.rules import GB_T_12325
from backend.core.clock import as_utc, utcnow
from backend.deps import Id, Operator, SettingsDep
from backend.dtu import service as dtus
from backend.dtu.views import link_public
from backend.meters.inspection import latest_by_channel, rejections_of, samples
from backend.pages.charts import curve
from backend.pages.display import power, volts
from backend.pages.errors import PageDb, page_router
from backend.pages.flash import flash
from backend.pages.i18n import gettext
from backend.pages.rendering import render
from backend.points import commissioning
from backend.points import service as points
from backend.points.models import Meter
from backend.sessions.command_log import commands_of_meter
from device_gateway.protocol import UPLINK_KINDS, Topics

router = page_router()
WINDOWS = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24)}


@router.get("/operator/meters/{meter_id}")
def meter_page(meter_id: Id, request: Request, db: PageDb, operator: Operator, channel: int | None = None,
               window: str = "1h"):
    """One meter: an outlet's load and voltage over the chosen hours, its commands, alarms and refused messages."""
    meter = _meter(db, meter_id)
    point = points.get_point(db, meter.point_id)
    outlets = points.outlets_of_point(db, point.id)
    latest = latest_by_channel(db, meter.id)
    if not any(o.channel == channel for o in outlets):  # default: the outlet drawing most now
        channel = max((o.channel for o in outlets), default=1,
                      key=lambda c: (latest[c].power_w if c in latest else -1, -c))
    window = window if window in WINDOWS else "1h"
    end = utcnow()
    found = samples(db, meter.id, channel, end - WINDOWS[window], end)
    # A meter that reports for less than the window is drawn from its first reading, not squeezed to the right.
    start = as_utc(found[0].at) if found else end - WINDOWS[window]
    limits = GB_T_12325
    return render(request, "meter.html", user=operator, meter=meter, point=point, outlets=outlets, channel=channel,
                  window=window, windows=list(WINDOWS), latest=latest,
                  load=curve([(s.at, s.power_w) for s in found], start, end, power),
                  voltage=curve([(s.at, s.voltage_v) for s in found], start, end, volts,
                                (float(limits.lower_v), float(limits.upper_v))),
                  commands=commands_of_meter(db, meter.id),
                  alarms=[a for a in alarms.alarms_of_point(db, point.id) if a.meter_id == meter.id],
                  rejections=rejections_of(db, meter.serial))


@router.get("/operator/meters/{meter_id}/commissioning")
def commissioning_sheet(meter_id: Id, request: Request, db: PageDb, operator: Operator, settings: SettingsDep):
    """What the installer enters into the meter; the password is shown once (re-issue for a new one)."""
    meter = _meter(db, meter_id)
    broker = request.app.state.meter_broker_url
    sheet = commissioning.open_sheet(db, meter, broker, settings.mqtt_topic_prefix, operator)
    topics = Topics(settings.mqtt_topic_prefix)
    link = dtus.link_of_meter(db, meter.id)
    return render(request, "commissioning.html", user=operator, meter=meter, sheet=sheet,
                  point=points.get_point(db, meter.point_id),
                  uplinks=[topics.meter(meter.serial, kind) for kind in UPLINK_KINDS],
                  command_topic=topics.command(meter.serial),
                  dtu=link_public(db, link, settings.mqtt_topic_prefix) if link else None)


@router.post("/operator/meters/{meter_id}/credentials")
def reissue(meter_id: Id, db: PageDb, operator: Operator, settings: SettingsDep):
    """A new MQTT password for the meter, to be shown once on its commissioning sheet."""
    commissioning.reissue_password(db, _meter(db, meter_id), operator)
    if settings.broker_accounts == "files":
        said = gettext("A new password was issued. Enter it in the meter and rewrite the broker's files "
                       "(scanpower broker-config): the old one stops working then.")
    else:
        said = gettext("A new password was issued. Enter it in the meter: the broker accepts it now, and the old "
                       "one no longer works.")
    return flash(RedirectResponse(f"/operator/meters/{meter_id}/commissioning", status_code=303), said)


def _meter(db: Session, meter_id: int) -> Meter:
    return points.get_meter(db, meter_id)
