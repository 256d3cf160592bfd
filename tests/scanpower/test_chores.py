"""The operators' chores through Typer's CliRunner, against the test's database."""
import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlmodel import Session, select
from typer.testing import CliRunner

from backend.core import config
from backend.core.clock import local_today
from backend.points import service as points
from backend.points.models import Meter, MeteringPoint, PointStatus
from backend.reconciliation.models import DailyReconciliation, MonthlyStatement
from backend.tariffs.service import ensure_default_tariffs
from backend.users.models import Role
from scanpower.cli import app
from tests import factories
from tests.backend.reconciliation.meter_feed import MeterFeed
from tests.backend.reconciliation.scene import local, run_quarters

HEADER = ["applicant_phone", "name", "address", "latitude", "longitude", "purpose", "capacity_kw", "outlet_count",
          "valid_from", "valid_until", "tariff"]


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch):
    monkeypatch.setattr("backend.users.service.hash_password", lambda password: "not-a-usable-hash")


@pytest.fixture
def cli(settings, monkeypatch):
    settings.public_base_url = "https://power.example.cn"
    monkeypatch.setattr(config, "get_settings", lambda: settings)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def points_csv(tmp_path, rows) -> str:
    path = tmp_path / "points.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return str(path)


def row(phone, name, tariff="", **overrides):
    today = local_today()
    values = dict(address="Qiaotou village", latitude="31.9", longitude="119.1", purpose="irrigation",
                  capacity_kw="15", outlet_count="2", valid_from=str(today), valid_until=str(today + timedelta(90)))
    values |= overrides
    return [phone, name, values["address"], values["latitude"], values["longitude"], values["purpose"],
            values["capacity_kw"], values["outlet_count"], values["valid_from"], values["valid_until"], tariff]


def test_importing_points_checks_every_row_and_imports_all_or_nothing(cli, db, tmp_path):
    applicant = factories.user(db, Role.applicant)
    tariff = ensure_default_tariffs(db)[0]
    db.commit()
    good = [row(applicant.phone, "Well 1", tariff.code), row(applicant.phone, "Well 2")]
    bad = good + [row(applicant.phone, "Well 3", latitude="north"), row("13999999999", "Well 4"),
                  row(applicant.phone, "Well 5", tariff="no-such-tariff")]
    refused = cli("points", "import", points_csv(tmp_path, bad))
    assert refused.exit_code == 1
    assert ":4: latitude:" in refused.output and ":5: no applicant has the phone number '13999999999'" in \
        refused.output and ":6: no tariff has the code 'no-such-tariff'" in refused.output
    assert "nothing imported: 3 problems" in refused.output
    assert db.exec(select(MeteringPoint)).all() == []

    done = cli("points", "import", points_csv(tmp_path, good))
    assert done.exit_code == 0 and "imported 2 points (1 approved)" in done.output
    made = {p.name: p for p in db.exec(select(MeteringPoint))}
    assert made["Well 1"].status == PointStatus.approved and made["Well 2"].status == PointStatus.submitted
    assert points.meter_of_point(db, made["Well 1"].id) is not None


def test_labels_print_to_pdf_pages_and_to_one_png_per_outlet(cli, db, tmp_path):
    point, _ = factories.active_point(db, outlets=10)
    db.commit()
    as_pdf = cli("labels", point.id, "--format", "pdf", "--out", tmp_path)
    assert as_pdf.exit_code == 0, as_pdf.output
    pdf = (tmp_path / f"point-{point.id}-labels.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2  # 10 > 9
    as_png = cli("labels", point.id, "--format", "png", "--out", tmp_path)
    assert as_png.exit_code == 0
    pngs = sorted(tmp_path.glob(f"point-{point.id}-outlet-*.png"))
    assert len(pngs) == 10 and Image.open(pngs[0]).size == (708, 945)
    assert cli("labels", 999_999).exit_code == 1


@pytest.fixture
def november(db):
    applicant = factories.user(db, Role.applicant)
    point, meter = factories.active_point(db, applicant, outlets=2, price=Decimal("0.5000"),
                                          outlet_rated_current_a=Decimal("32"))
    point.valid_from, point.valid_until = date(2026, 10, 20), date(2027, 3, 31)
    feed = MeterFeed(db, meter, points.outlets_of_point(db, point.id))
    vendor = factories.user(db, Role.vendor, Decimal("500.00"))
    feed.report(local(2026, 11, 3, 8))
    run_quarters(feed, local(2026, 11, 3, 8), local(2026, 11, 3, 10), {1: 100})
    feed.start(vendor, 2, local(2026, 11, 3, 10))
    run_quarters(feed, local(2026, 11, 3, 10), local(2026, 11, 3, 12), {2: 250})
    feed.stop(2, local(2026, 11, 3, 12))
    db.commit()
    return point


def test_reconcile_keeps_every_day_of_the_month_and_closes_it_once_asked(cli, db, november):
    result = cli("reconcile", "--month", "2026-11", "--close")
    assert result.exit_code == 0, result.output
    days = db.exec(select(DailyReconciliation).where(DailyReconciliation.point_id == november.id)).all()
    assert len(days) == 30 and all(d.balanced for d in days)
    assert sum(d.unattributed_wh for d in days) == 800 and sum(d.session_energy_wh for d in days) == 2000
    assert "closed 2026-11: 1 statements, 1 with unattributed energy billed" in result.output
    (statement,) = db.exec(select(MonthlyStatement).where(MonthlyStatement.point_id == november.id)).all()
    assert statement.unattributed_amount == Decimal("0.40")
    assert cli("reconcile", "--month", "2026-13").exit_code == 2


def test_statements_export_writes_each_points_csv(cli, db, november, tmp_path):
    result = cli("statements", "export", "--month", "2026-11", "--out", tmp_path)
    assert result.exit_code == 0 and "wrote 1 statements of 2026-11" in result.output
    text = (tmp_path / f"statement-point-{november.id}-2026-11.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["point", "session_id", "outlet"] and any(r[6] == "2.000" for r in rows[1:])


def test_reissuing_a_meters_credentials_shows_the_new_password_once(cli, db):
    _, meter = factories.active_point(db)
    old = meter.mqtt_password
    db.commit()
    result = cli("meters", "reissue", meter.serial)
    assert result.exit_code == 0
    with Session(db.get_bind()) as fresh:
        stored = fresh.get(Meter, meter.id)
    assert stored.mqtt_password != old and f"new password {stored.mqtt_password}" in result.output
    assert stored.credentials_shown_at is None  # the commissioning sheet shows it again, once
    assert cli("meters", "reissue", "NOPE").exit_code == 1
