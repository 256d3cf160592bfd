import re

from sqlmodel import select

from backend.audit.models import AuditEntry
from backend.points.models import MeteringPoint, PointStatus
from backend.tariffs.models import Tariff

NEW = {"name": "night-market-2027", "title": "Night market 2027", "category": "commercial", "mode": "flat",
       "effective_from": "2027-01-01", "price": "0.6500"}
TOU = {"mode": "tou", "effective_from": "2030-01-01", "price": "0.7000", "ratio_peak": "1.5", "ratio_valley": "0.4",
       "s0_name": "all_year", "s0_months": "1,2,3,4,5,6,7,8,9,10,11,12",
       "s0_r0_start": "00:00", "s0_r0_end": "08:00", "s0_r0_period": "valley",
       "s0_r1_start": "08:00", "s0_r1_end": "18:00", "s0_r1_period": "flat",
       "s0_r2_start": "18:00", "s0_r2_end": "24:00", "s0_r2_period": "peak"}


def test_operators_see_every_tariff_with_today_s_prices(operator):
    page = operator.get("/operator/tariffs")
    assert page.status_code == 200
    assert "jiangsu_commercial_tou_2025" in page.text and "Commercial, flat" in page.text
    assert "00:00–24:00" in page.text and "¥0.6700/kWh" in page.text  # the flat test tariff, today


def test_a_new_tariff_is_previewed_then_saved_from_the_form(operator, db):
    preview = operator.post("/operator/tariffs/new", data=NEW | {"action": "preview"})
    assert preview.status_code == 200 and "Prices on 2027-01-01" in preview.text and "¥0.6500/kWh" in preview.text
    assert db.exec(select(Tariff).where(Tariff.code == "night-market-2027")).first() is None
    saved = operator.post("/operator/tariffs/new", data=NEW | {"action": "save"})
    assert saved.status_code == 200 and "Saved “Night market 2027”" in saved.text
    assert "from 2027-01-01" in saved.text  # not in effect yet, and the page says so instead of a price "now"
    assert db.exec(select(AuditEntry).where(AuditEntry.action == "tariff.create")).first() is not None


def test_a_time_of_use_version_is_added_to_a_tariff_through_its_periods(operator, db):
    tariff = db.exec(select(Tariff).where(Tariff.code == "flat-commercial")).one()
    form = operator.get(f"/operator/tariffs/{tariff.id}/edit")
    assert form.status_code == 200 and 'value="0.6700"' in form.text
    preview = operator.post(f"/operator/tariffs/{tariff.id}/edit", data=TOU | {"action": "preview"})
    assert "Prices on 2030-01-01" in preview.text and "18:00–24:00" in preview.text and "¥1.0500/kWh" in preview.text
    operator.post(f"/operator/tariffs/{tariff.id}/edit", data=TOU | {"action": "save"})
    db.expire_all()
    assert '"2030-01-01"' in db.get(Tariff, tariff.id).definition


def test_a_day_the_periods_do_not_cover_is_explained_and_the_form_kept(operator, db):
    tariff = db.exec(select(Tariff).where(Tariff.code == "flat-commercial")).one()
    gap = TOU | {"s0_r2_end": "23:00", "action": "save"}
    page = operator.post(f"/operator/tariffs/{tariff.id}/edit", data=gap)
    assert page.status_code == 422 and "must cover the whole day once" in page.text
    assert 'value="23:00"' in page.text and "gap: 23:00–24:00" in page.text
    assert '"2030-01-01"' not in db.get(Tariff, tariff.id).definition


def test_a_missing_price_is_shown_next_to_its_field(operator):
    page = operator.post("/operator/tariffs/new", data=NEW | {"price": "", "action": "save"})
    assert page.status_code == 422 and 'id="err-price">Required' in page.text


def test_vendors_cannot_edit_tariffs(vendor):
    assert vendor.get("/operator/tariffs").status_code == 403


def _approval_options(page: str, point_id: int) -> list[str]:
    form = re.search(rf'action="/operator/points/{point_id}/approve".*?</select>', page, re.S).group(0)
    return re.findall(r"<option [^>]*>[^<]*</option>", form)


def test_a_tariff_that_starts_later_shows_no_price_now_and_is_not_offered_for_approval(operator, pending_point, db):
    # Of the point's own category (commercial, for a night market), the kind the approval list would prefer.
    operator.post("/operator/tariffs/new", data=NEW | {"effective_from": "2099-01-01", "action": "save"})
    future = db.exec(select(Tariff).where(Tariff.code == "night-market-2027")).one()
    card = re.search(r'<section class="card tariff">((?:(?!</section>).)*Night market 2027.*?)</section>',
                     operator.get("/operator/tariffs").text, re.S).group(1)
    assert "from 2099-01-01" in card and "Now:" not in card and "Today," not in card
    options = _approval_options(operator.get("/operator").text, pending_point.id)
    chosen = [o for o in options if " selected" in o]
    assert len(chosen) == 1 and "now ¥" in chosen[0]  # the default is a tariff in force today
    offered_later = next(o for o in options if f'value="{future.id}"' in o)
    assert " disabled" in offered_later and "from 2099-01-01" in offered_later and "now ¥" not in offered_later


def test_approving_with_a_tariff_that_starts_later_is_refused_in_words_and_changes_nothing(operator, pending_point,
                                                                                          db):
    operator.post("/operator/tariffs/new", data=NEW | {"effective_from": "2099-01-01", "action": "save"})
    future = db.exec(select(Tariff).where(Tariff.code == "night-market-2027")).one()
    page = operator.post(f"/operator/points/{pending_point.id}/approve", data={"tariff_id": str(future.id)})
    assert "That tariff is not in effect yet" in page.text and "Approve with a tariff in effect today." in page.text
    db.expire_all()
    assert db.get(MeteringPoint, pending_point.id).status == PointStatus.submitted
