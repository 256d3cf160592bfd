"""The operator's tools: commissioning sheet shown once, meter detail, confirmations, refund, search, audit log."""
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import select

from backend.audit.models import AuditEntry
from backend.pages.charts import curve, daily_bars
from backend.pages.point_map import point_map
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointStatus
from backend.sessions.command_log import commands_of_meter
from billing.wallet.service import wallet_balance


def _actions(db) -> list[str]:
    return [e.action for e in db.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_the_commissioning_sheet_shows_the_password_once_and_a_new_one_after_re_issue(operator, world, db):
    meter = points.meter_of_point(db, world.point_id)
    password = meter.mqtt_password
    first = operator.get(f"/operator/meters/{meter.id}/commissioning").text
    assert password in first and "SP00000001" in first and "/m/SP00000001/telemetry" in first
    again = operator.get(f"/operator/meters/{meter.id}/commissioning").text
    assert password not in again and "already shown on" in again
    reissued = operator.post(f"/operator/meters/{meter.id}/credentials")  # and on to the sheet, with the new one
    db.expire_all()
    renewed = db.get(Meter, meter.id).mqtt_password
    assert renewed != password and renewed in reissued.text and "A new password was issued" in reissued.text
    assert _actions(db) == ["meter.credentials_shown", "meter.credentials_reissued", "meter.credentials_shown"]


def test_the_broker_address_on_the_sheet_never_carries_the_platform_s_credentials():
    from backend.points.commissioning import broker_for_meters
    assert broker_for_meters("", "mqtt://gateway:secret@broker.example.cn:1883") == "mqtt://broker.example.cn:1883"
    assert broker_for_meters("mqtts://iot.example.cn:8883", "mqtt://x:y@h:1") == "mqtts://iot.example.cn:8883"
    assert broker_for_meters("", "") == ""


def test_the_meter_page_shows_curves_commands_and_acks(operator, world, session_on, db):
    done = session_on.start(world.vendor_id)
    for n in range(1, 4):
        session_on.read(done, 120_000 + 100 * n, 900.0 + n)
    session_on.finish(done, register_wh=120_400)
    meter = points.meter_of_point(db, world.point_id)
    commands = commands_of_meter(db, meter.id)
    assert [(c.action, c.outcome) for c in commands] == [("open", "acknowledged"), ("close", "acknowledged")]
    page = operator.get(f"/operator/meters/{meter.id}?channel=1&window=6h").text
    assert "Relay commands and acks" in page and "switch on" in page and "acknowledged" in page
    assert operator.get(f"/operator/meters/{meter.id}?channel=99&window=forever").status_code == 200
    assert operator.get("/operator/meters/999").status_code == 404


def test_closing_a_point_asks_first_then_stops_its_sessions_and_is_logged(operator, world, session_on, db):
    running = session_on.start(world.vendor_id)
    ask = operator.get(f"/operator/points/{world.point_id}/close").text
    assert "1 session is running: it is stopped and billed for what it used." in ask
    assert db.get(MeteringPoint, world.point_id).status == PointStatus.active  # asking changed nothing
    operator.post(f"/operator/points/{world.point_id}/close")
    db.expire_all()
    assert db.get(MeteringPoint, world.point_id).status == PointStatus.closed
    assert world.sink.sent[-1].action == "open" and world.sink.sent[-1].session_id == running
    assert _actions(db) == ["point.close"]  # its sessions stop because the point closed, not one by one


def test_a_refund_is_confirmed_before_it_is_made_and_made_once(operator, world, session_on, db):
    done = session_on.start(world.vendor_id)
    session_on.finish(done, register_wh=121_000)  # ¥0.67
    form = operator.get(f"/operator/sessions/{done}/refund").text
    assert "¥0.67" in form
    confirm = operator.post(f"/operator/sessions/{done}/refund", data={"amount": "0.50", "reason": "lights flickered"})
    assert "Refund ¥0.50 to the vendor?" in confirm.text
    assert wallet_balance(db, world.vendor_id) == Decimal("49.33")  # not yet
    key = confirm.text.split('name="request_key" value="')[1].split('"')[0]
    data = {"amount": "0.50", "reason": "lights flickered", "confirmed": "yes", "request_key": key}
    operator.post(f"/operator/sessions/{done}/refund", data=data)
    operator.post(f"/operator/sessions/{done}/refund", data=data)  # a second tap of the same form
    assert wallet_balance(db, world.vendor_id) == Decimal("49.83")
    too_much = operator.post(f"/operator/sessions/{done}/refund", data={"amount": "5", "reason": "again",
                                                                        "confirmed": "yes"})
    assert too_much.status_code == 409 and "Nothing more can be refunded for this session." in too_much.text
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "session.refund")).one()
    assert entry.note == "lights flickered" and '"refunded": "0.50"' in entry.after


def test_search_finds_people_points_meters_and_sessions(operator, world):
    assert "Noodle stall" in operator.get("/operator/search?q=13800000003").text
    assert f'href="/points/{world.point_id}"' in operator.get("/operator/search?q=xinhua").text
    assert "SP00000001" in operator.get("/operator/search?q=sp0000").text
    assert "Nothing found for “%_”." in operator.get("/operator/search?q=%25_").text  # wildcards are plain text


def test_every_operator_action_through_the_api_is_in_the_audit_log(operator, pending_point, db, world):
    assert operator.post(f"/api/v1/points/{pending_point.id}/approve", json={"tariff_id": 1}).status_code == 200
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "point.approve")).one()
    assert entry.actor_id == world.operator_id and entry.target_id == pending_point.id
    assert '"status": "submitted"' in entry.before and '"status": "approved"' in entry.after
    page = operator.get("/operator/audit").text
    assert "approved a point" in page and "Grid operator" in page and "status: submitted → approved" in page


def test_what_other_roles_do_is_not_an_operator_action(vendor, world, session_on, db):
    running = session_on.start(world.vendor_id)
    vendor.post(f"/sessions/{running}/stop")
    assert _actions(db) == []
    assert vendor.get("/operator/audit").status_code == 403


def test_daily_bars_scale_to_the_busiest_day():
    chart = daily_bars([(date(2026, 6, 1), 0), (date(2026, 6, 2), 500), (date(2026, 6, 3), 1000)], str)
    assert [b.height for b in chart.bars] == [0.0, 50.0, 100.0] and chart.most == "1000" and not chart.empty
    assert daily_bars([(date(2026, 6, 1), 0)], str).empty


def test_a_curve_places_readings_by_time_and_shows_the_limits():
    start, end = datetime(2026, 6, 1, 0, tzinfo=UTC), datetime(2026, 6, 1, 1, tzinfo=UTC)
    chart = curve([(start, 220.0), (datetime(2026, 6, 1, 0, 30, tzinfo=UTC), 230.0)], start, end, str, (198.0, 235.4))
    assert chart.points.startswith("0.0,") and " 300.0," in chart.points and len(chart.limits) == 2
    assert chart.low == "220.0" and chart.high == "230.0"


def test_the_map_puts_north_up_east_right_and_stacks_labels_of_one_place():
    def point(n, lat, lon):
        return MeteringPoint(id=n, name=f"p{n}", address="a", latitude=lat, longitude=lon, purpose="other",
                             capacity_kw=Decimal(1), valid_from=date(2026, 1, 1), valid_until=date(2026, 2, 1),
                             applicant_id=1, outlet_count=1, outlet_rated_current_a=Decimal(16))
    found = point_map([point(1, 31.0, 119.0), point(2, 32.0, 120.0), point(3, 32.0, 120.0)]).dots
    assert found[1].x > found[0].x and found[1].y < found[0].y
    assert (found[2].x, found[2].y) == (found[1].x, found[1].y) and found[2].label_y > found[1].label_y
