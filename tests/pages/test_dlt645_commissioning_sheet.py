"""The commissioning sheet of a meter behind a DTU: what the installer sets on the DTU, and each outlet's address."""
from sqlmodel import Session

from backend.dtu.models import DtuCommission
from backend.dtu.service import commission, link_of_meter
from backend.points import service as points
from tests.pages.test_languages import DATA, _chinese, _no_english

LINK = DtuCommission(dtu_id="DTU-G780-0001", channels=[{"channel": 1, "address": "000000001201"},
                                                       {"channel": 3, "address": "000000001203",
                                                        "password": "04000000"}])


def _commissioned(world) -> tuple[int, str]:
    with Session(world.engine, expire_on_commit=False) as db:
        meter = points.meter_of_point(db, world.point_id)
        commission(db, world.point_id, LINK, None)
        db.commit()
        return meter.id, link_of_meter(db, meter.id).mqtt_password


def test_the_sheet_shows_the_dtu_its_topics_packets_and_each_outlets_meter(operator, world):
    meter_id, password = _commissioned(world)
    first = operator.get(f"/operator/meters/{meter_id}/commissioning").text
    for shown in ("DTU-G780-0001", password, "/dtu/DTU-G780-0001/up", "/dtu/DTU-G780-0001/down",
                  "REG:DTU-G780-0001", "HB:DTU-G780-0001", "000000001201", "000000001203", "8E1"):
        assert shown in first
    again = operator.get(f"/operator/meters/{meter_id}/commissioning").text
    assert password not in again and "000000001203" in again


def test_a_meter_not_behind_a_dtu_has_no_dtu_part(operator, world, db):
    meter = points.meter_of_point(db, world.point_id)
    assert "DTU" not in operator.get(f"/operator/meters/{meter.id}/commissioning").text


def test_the_dtu_part_in_chinese_shows_no_english(app, world):
    meter_id, password = _commissioned(world)
    with _chinese(app, world.operator_id) as operator:
        page = _no_english(operator, f"/operator/meters/{meter_id}/commissioning", data=DATA + (password,))
    assert "DTU 与 DL/T 645 电表" in page.text and "电表通信地址" in page.text
