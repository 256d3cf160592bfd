"""The receipt's time-of-day hint tells the truth about the periods, and exports open in Excel in either language."""
import codecs
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, delete, select

from backend.pages.tariff_form import day_prices, version_of_form
from backend.sessions.models import BillLine, UsageSession
from backend.sessions.receipts import saving_hint
from backend.tariffs.models import Tariff
from backend.tariffs.service import tariff_engine


@pytest.fixture
def tou_session(world, session_on):
    """A settled session re-dressed as one on the Jiangsu time-of-use tariff, with lines the test chooses."""
    done = session_on.start(world.vendor_id)
    session_on.finish(done, register_wh=122_000)

    def with_lines(*lines: tuple[str, int, str, str]) -> UsageSession:
        with Session(world.engine, expire_on_commit=False) as db:
            tou = db.exec(select(Tariff).where(Tariff.code == "jiangsu_commercial_tou_2025")).one()
            session = db.get(UsageSession, done)
            session.tariff_id, session.energy_wh = tou.id, sum(line[1] for line in lines)
            db.exec(delete(BillLine).where(BillLine.session_id == done))
            for period, energy_wh, price, amount in lines:
                db.add(BillLine(session_id=done, kind="energy", period=period, version="2025-06-01",
                                energy_wh=energy_wh, unit_price=Decimal(price), amount=Decimal(amount),
                                starts_at=datetime(2026, 6, 30, 23, tzinfo=UTC),
                                ends_at=datetime(2026, 7, 1, 0, tzinfo=UTC)))
            db.commit()
            return session
    return with_lines


def test_a_session_all_in_the_flat_period_is_not_called_the_cheapest(world, tou_session):
    session = tou_session(("flat", 2000, "0.6700", "1.34"))
    with Session(world.engine) as db:
        hint = saving_hint(db, session)
    assert hint.kind == "could_save" and hint.valley == Decimal("0.47") and hint.paid == Decimal("1.34")


def test_a_session_all_in_the_valley_is_the_cheapest(world, tou_session):
    session = tou_session(("valley", 2000, "0.2345", "0.47"))
    with Session(world.engine) as db:
        assert saving_hint(db, session).kind == "all_cheapest"


def test_a_session_too_small_to_differ_by_a_fen_says_so(world, tou_session, vendor):
    session = tou_session(("flat", 3, "0.6700", "0.00"))
    with Session(world.engine) as db:
        assert saving_hint(db, session).kind == "too_little"
    assert "too little for the time of day to change the bill by a fen" in vendor.get(
        f"/sessions/{session.id}/receipt").text


def test_the_statement_csv_opens_in_excel_in_the_reader_s_language(applicant, world, session_on):
    done = session_on.start(world.vendor_id)
    session_on.finish(done, register_wh=121_000)
    english = applicant.get(f"/points/{world.point_id}/statement.csv")
    assert english.content.startswith(codecs.BOM_UTF8)
    rows = english.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "Point,Session,Outlet,Vendor,Started,Ended,Energy (kWh),Amount (yuan)"
    assert rows[1].startswith(f"Xinhua Road night market,{done},1,Noodle stall,") and rows[1].endswith(",1.000,0.67")
    chinese = applicant.get(f"/points/{world.point_id}/statement.csv", headers={"Accept-Language": "zh-CN"})
    header = chinese.content.decode("utf-8-sig").splitlines()[0]
    assert header == "用电点,用电编号,插座,用电户,开始时间,结束时间,电量（kWh）,金额（元）"
    assert "合计：已收电费" in chinese.content.decode("utf-8-sig")


def test_a_day_s_prices_follow_the_time_of_use_table():
    rows = day_prices(tariff_engine(Tariff(code="x", name="x", category="commercial", definition=_jiangsu())),
                      date(2026, 7, 1))
    assert [(r.start, r.end, r.period) for r in rows][:2] == [("00:00", "06:00", "valley"), ("06:00", "11:00", "flat")]
    assert rows[-1].end == "24:00" and {r.price_per_kwh for r in rows} == {Decimal("0.2345"), Decimal("0.67"),
                                                                            Decimal("1.072")}


def test_the_tariff_form_names_each_wrong_field():
    version, errors = version_of_form({"mode": "tou", "effective_from": "soon", "price": "-1", "ratio_peak": "x",
                                       "s0_months": "6,seven"})
    assert version is None and set(errors) == {"effective_from", "price", "ratio_peak", "s0_months"}
    version, errors = version_of_form({"mode": "flat", "effective_from": "2030-01-01", "price": "0.65",
                                       "fee_per_session": "0.5"})
    assert errors == {} and version == {"label": "2030-01-01", "effective_from": "2030-01-01",
                                        "price_per_kwh": "0.65", "service_fee": {"per_session": "0.5"}}


def _jiangsu() -> str:
    from billing.tariffs import load_seed_tariff
    return load_seed_tariff("jiangsu_commercial_tou_2025").model_dump_json()
