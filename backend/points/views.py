"""Read models of points and outlets for the API and the pages."""
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import Session

from backend.points import service
from backend.points.labels import outlet_url
from backend.points.models import Outlet, OutletPublic, Purpose
from backend.tariffs.service import get_tariff, price_now


class OutletView(BaseModel):
    """What a person sees after scanning an outlet's QR code."""

    token: str
    channel: int
    rated_current_a: Decimal
    point_id: int
    point_name: str
    address: str
    purpose: Purpose
    tariff_name: str
    price_per_kwh: Decimal  # in effect now
    period: str  # peak, flat, valley… or all_day for a flat tariff
    price_until: datetime | None  # when the price may change next
    service_fee_per_kwh: Decimal | None
    service_fee_per_session: Decimal | None


def outlet_public(outlet: Outlet, public_base_url: str) -> OutletPublic:
    return OutletPublic(id=outlet.id, point_id=outlet.point_id, channel=outlet.channel,
                        rated_current_a=outlet.rated_current_a, qr_url=outlet_url(public_base_url, outlet.qr_token))


def outlet_view(db: Session, token: str) -> OutletView:
    outlet = service.outlet_by_token(db, token)
    point = service.get_point(db, outlet.point_id)
    tariff = get_tariff(db, point.tariff_id)
    now = price_now(tariff)
    return OutletView(token=token, channel=outlet.channel, rated_current_a=outlet.rated_current_a,
                      point_id=point.id, point_name=point.name, address=point.address, purpose=point.purpose,
                      tariff_name=tariff.name, price_per_kwh=now.price_per_kwh, period=now.period,
                      price_until=now.until, service_fee_per_kwh=now.service_fee_per_kwh,
                      service_fee_per_session=now.service_fee_per_session)
