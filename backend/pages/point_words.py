"""A metering point's state in plain words, and what has to happen next for it to serve vendors."""
from backend.pages.i18n import gettext
from backend.points.models import Meter, MeteringPoint, PointStatus


def next_step(point: MeteringPoint, meter: Meter | None) -> str:
    """What the applicant (and the operator) should know or do next about this point."""
    if point.status == PointStatus.submitted:
        return gettext("Waiting for an operator to review the application.")
    if point.status == PointStatus.approved and meter is not None and not meter.online:
        return gettext("Approved. Next: an electrician installs meter %(serial)s and switches it on, with the "
                       "commissioning sheet from the operator. The point goes into service when the meter first "
                       "reports; then stick the QR labels on the outlets.", serial=meter.serial)
    if point.status == PointStatus.approved:
        return gettext("Approved and the meter is on; service starts on %(day)s.", day=point.valid_from.isoformat())
    if point.status == PointStatus.active:
        return gettext("In service: vendors scan an outlet's QR label to switch power on.")
    if point.status == PointStatus.rejected:
        return gettext("Not approved: %(reason)s. You can apply again.", reason=point.status_note or "—")
    if point.status == PointStatus.closed:
        return gettext("Closed by the operator: no new sessions can start.")
    return gettext("Its permit has ended: no new sessions can start.")
