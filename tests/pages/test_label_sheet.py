def test_label_sheet_has_one_qr_code_per_outlet(applicant, world):
    page = applicant.get(f"/points/{world.point_id}/labels")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3
    assert page.text.count('<p class="label-head">Scan to use power</p>') == 3
    for token in world.tokens:
        assert f"https://power.example.cn/s/{token}" in page.text
    assert "<?xml" not in page.text


def test_operators_may_print_labels_but_vendors_may_not(operator, vendor, world):
    assert operator.get(f"/points/{world.point_id}/labels").text.count("<svg") == 3
    assert vendor.get(f"/points/{world.point_id}/labels").status_code == 404


def test_a_pending_point_has_no_labels_yet(applicant, pending_point):
    page = applicant.get(f"/points/{pending_point.id}/labels")
    assert page.status_code == 200 and "<svg" not in page.text and "no outlets yet" in page.text
