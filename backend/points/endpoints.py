from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.core.api_errors import SIGNED_IN, WITH_ROLE, ApiRoute, refusals
from backend.deps import Applicant, CurrentUser, Id, Operator, SessionDep, SettingsDep
from backend.points import closing, labels, service, water
from backend.points.water import WaterCoefficientPublic, WaterCoefficientWrite
from backend.points.models import (QR_TOKEN, MeterCredentials, MeteringPoint, MeterPublic, OutletPublic, PointApply,
                                   PointApprove, PointPublic, PointReject, PointsPublic)
from backend.points.service import OutletNotFound, PointNotFound, PointNotPending, TariffNotYetInEffect
from backend.points.views import OutletView, outlet_public, outlet_view
from backend.tariffs.service import TariffNotFound

router = APIRouter(tags=["points"], route_class=ApiRoute)
QrToken = Annotated[str, Path(pattern=QR_TOKEN, description="The token printed in the outlet's QR code")]
PNG = {200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}}
SVG = {200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}}


@router.post("/points", response_model=PointPublic, status_code=201,
             responses=refusals(*WITH_ROLE, service.ValidityInThePast))
def apply_for_point(body: PointApply, db: SessionDep, applicant: Applicant) -> MeteringPoint:
    """Submit an application for a temporary metering point."""
    return service.apply_for_point(db, applicant, body)


@router.get("/points", response_model=PointsPublic, responses=refusals(*SIGNED_IN))
def list_points(db: SessionDep, user: CurrentUser) -> PointsPublic:
    """Points the user may see: all for operators, their own for applicants."""
    found = service.list_points(db, user)
    return PointsPublic(data=found, count=len(found))


@router.get("/points/{point_id}", response_model=PointPublic, responses=refusals(*SIGNED_IN, PointNotFound))
def read_point(point_id: Id, db: SessionDep, user: CurrentUser) -> MeteringPoint:
    """One metering point."""
    return service.visible_point(db, user, point_id)


@router.post("/points/{point_id}/approve", response_model=PointPublic,
             responses=refusals(*WITH_ROLE, PointNotFound, TariffNotFound, PointNotPending, TariffNotYetInEffect))
def approve_point(point_id: Id, body: PointApprove, db: SessionDep, operator: Operator) -> MeteringPoint:
    """Approve an application: provisions the meter (and, with live broker accounts, its broker account once this
    commits), its outlets and their QR codes."""
    return service.approve_point(db, point_id, body.tariff_id, operator)


@router.post("/points/{point_id}/reject", response_model=PointPublic,
             responses=refusals(*WITH_ROLE, PointNotFound, PointNotPending))
def reject_point(point_id: Id, body: PointReject, db: SessionDep, operator: Operator) -> MeteringPoint:
    """Reject an application with a reason."""
    return service.reject_point(db, point_id, body.reason, operator)


@router.post("/points/{point_id}/close", response_model=PointPublic, responses=refusals(*WITH_ROLE, PointNotFound))
def close_point(point_id: Id, db: SessionDep, operator: Operator, settings: SettingsDep) -> MeteringPoint:
    """Close a point: no new sessions start on it, its running sessions are stopped and settled, and then its
    meter's broker account is removed (live broker accounts)."""
    return closing.close_point(db, point_id, settings.command_timeout_seconds, operator)


@router.get("/points/{point_id}/outlets", response_model=list[OutletPublic],
            responses=refusals(*SIGNED_IN, PointNotFound))
def list_outlets(point_id: Id, db: SessionDep, user: CurrentUser, settings: SettingsDep) -> list[OutletPublic]:
    """The point's outlets with the URL their QR codes encode."""
    service.visible_point(db, user, point_id)
    return [outlet_public(o, settings.public_base_url) for o in service.outlets_of_point(db, point_id)]


@router.get("/points/{point_id}/meter", response_model=MeterPublic, responses=refusals(*SIGNED_IN, PointNotFound))
def read_meter(point_id: Id, db: SessionDep, user: CurrentUser):
    """The point's meter, with online status and last contact."""
    service.visible_point(db, user, point_id)
    meter = service.meter_of_point(db, point_id)
    if meter is None:
        raise PointNotFound(f"metering point {point_id} has no meter yet")
    return meter


@router.get("/points/{point_id}/meter/credentials", response_model=MeterCredentials,
            responses=refusals(*WITH_ROLE, PointNotFound))
def read_meter_credentials(point_id: Id, db: SessionDep, _: Operator, settings: SettingsDep) -> MeterCredentials:
    """The meter's MQTT identity and password, for installing it (operators only)."""
    meter = service.meter_of_point(db, point_id)
    if meter is None:
        raise PointNotFound(f"metering point {point_id} has no meter yet")
    return MeterCredentials(serial=meter.serial, mqtt_client_id=meter.serial, mqtt_username=meter.mqtt_username,
                            mqtt_password=meter.mqtt_password, topic_prefix=settings.mqtt_topic_prefix)


@router.get("/points/{point_id}/water-coefficients", response_model=list[WaterCoefficientPublic],
            responses=refusals(*SIGNED_IN, PointNotFound))
def list_water_coefficients(point_id: Id, db: SessionDep, user: CurrentUser):
    """An irrigation well's measured m³ per kWh, oldest first (以电折水)."""
    service.visible_point(db, user, point_id)
    return water.coefficients(db, point_id)


@router.post("/points/{point_id}/water-coefficients", response_model=WaterCoefficientPublic, status_code=201,
             responses=refusals(*WITH_ROLE, PointNotFound, water.NotAnIrrigationPoint))
def add_water_coefficient(point_id: Id, body: WaterCoefficientWrite, db: SessionDep, operator: Operator):
    """Record a new measurement of the well's coefficient; it applies from its effective date."""
    return water.add_coefficient(db, service.get_point(db, point_id), body, operator)


@router.get("/outlets/{token}", response_model=OutletView, responses=refusals(OutletNotFound))
def read_outlet(token: QrToken, db: SessionDep) -> OutletView:
    """What the QR code on an outlet leads to: the outlet, its point and its price."""
    return outlet_view(db, token)


@router.get("/outlets/{token}/qr.png", response_class=Response,
            responses=PNG | refusals(*SIGNED_IN, OutletNotFound))
def outlet_qr_png(token: QrToken, db: SessionDep, settings: SettingsDep, _: CurrentUser) -> Response:
    """The outlet's QR code as PNG."""
    service.outlet_by_token(db, token)
    return Response(labels.qr_png(labels.outlet_url(settings.public_base_url, token)), media_type="image/png")


@router.get("/outlets/{token}/qr.svg", response_class=Response,
            responses=SVG | refusals(*SIGNED_IN, OutletNotFound))
def outlet_qr_svg(token: QrToken, db: SessionDep, settings: SettingsDep, _: CurrentUser) -> Response:
    """The outlet's QR code as SVG."""
    service.outlet_by_token(db, token)
    return Response(labels.qr_svg(labels.outlet_url(settings.public_base_url, token)), media_type="image/svg+xml")


@router.get("/meters", response_model=list[MeterPublic], responses=refusals(*WITH_ROLE))
def list_meters(db: SessionDep, _: Operator):
    """Every meter with its online status (operators)."""
    return service.list_meters(db)
