"""The printable A4 sheet of QR labels, one card per outlet of a point."""
from dataclasses import dataclass

from fastapi import Request
from markupsafe import Markup

from backend.deps import CurrentUser, Id, SettingsDep
from backend.pages.errors import PageDb, page_router
from backend.pages.rendering import render
from backend.points import labels
from backend.points import service as points

router = page_router()


@dataclass(frozen=True)
class Label:
    channel: int
    url: str
    qr: Markup  # inline SVG, so the sheet prints without fetching images


@router.get("/points/{point_id}/labels")
def label_sheet(point_id: Id, request: Request, db: PageDb, user: CurrentUser, settings: SettingsDep):
    """One QR card per outlet: the applicant who owns the point, or an operator."""
    point = points.visible_point(db, user, point_id)
    cards = [_label(settings.public_base_url, o.channel, o.qr_token) for o in points.outlets_of_point(db, point.id)]
    return render(request, "labels.html", user=user, point=point, labels=cards, service_phone=settings.service_phone)


def _label(public_base_url: str, channel: int, token: str) -> Label:
    url = labels.outlet_url(public_base_url, token)
    svg = labels.qr_svg(url).decode()
    # The XML prolog is for standalone files; inside HTML it is noise.
    return Label(channel, url, Markup(svg[svg.index("<svg"):]))
