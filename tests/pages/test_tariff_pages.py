import json


def test_operators_see_every_tariff_with_its_price_now(operator):
    page = operator.get("/operator/tariffs")
    assert page.status_code == 200
    assert "jiangsu_commercial_tou_2025" in page.text and "Commercial, flat" in page.text


def test_a_new_tariff_is_added_from_its_definition(operator):
    document = {"name": "night-market-2027", "title": "Night market 2027", "category": "commercial",
                "versions": [{"label": "v1", "effective_from": "2027-01-01", "price_per_kwh": "0.6500"}]}
    page = operator.post("/operator/tariffs", data={"definition": json.dumps(document)})
    assert page.status_code == 200 and "Night market 2027" in page.text


def test_a_broken_definition_is_shown_back_with_the_reason(operator):
    page = operator.post("/operator/tariffs", data={"definition": '{"name": "x", "versions": []'})
    assert page.status_code == 422 and "not valid json" in page.text.lower()
    bad = {"name": "x", "category": "commercial", "versions": [{"label": "a", "effective_from": "2027-01-01"}]}
    page = operator.post("/operator/tariffs", data={"definition": json.dumps(bad)})
    assert page.status_code == 422 and "exactly one of price_per_kwh and time_of_use" in page.text


def test_vendors_cannot_edit_tariffs(vendor):
    assert vendor.get("/operator/tariffs").status_code == 403
