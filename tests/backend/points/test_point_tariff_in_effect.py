"""A point is approved only with a tariff in effect: one that starts later would price nothing it runs."""
from datetime import timedelta
from decimal import Decimal

import pytest

from backend.core.clock import local_today
from backend.points import service as points
from backend.points.models import PointStatus
from backend.tariffs.service import create_tariff
from backend.users.models import Role
from tests import factories


def test_a_tariff_that_starts_later_cannot_approve_a_point_and_one_in_effect_can(db):
    point = points.apply_for_point(db, factories.user(db, Role.applicant), factories.application())
    later = (local_today() + timedelta(days=30)).isoformat()
    future = create_tariff(db, {"name": "later", "category": "commercial",
                                "versions": [{"label": "v1", "effective_from": later, "price_per_kwh": "0.7000"}]})
    with pytest.raises(points.TariffNotYetInEffect):
        points.approve_point(db, point.id, future.id)
    assert point.status == PointStatus.submitted and point.tariff_id is None
    points.approve_point(db, point.id, factories.flat_tariff(db, Decimal("0.6700")).id)
    assert point.status == PointStatus.approved
