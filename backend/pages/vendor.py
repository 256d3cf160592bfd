"""The vendor's home: balance, top-up, and their sessions."""
from fastapi import Request

from backend.deps import SettingsDep, Vendor
from backend.pages.errors import PageDb, page_router
from backend.pages.rendering import render
from backend.pages.wallet import wallet_summary
from backend.points import service as points
from backend.sessions import service as sessions
from backend.sessions.views import session_public
from billing.payments.models import MAX_TOP_UP

router = page_router()


@router.get("/me")
def vendor_home(request: Request, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """Balance and top-up; open sessions link to their live page, completed ones to their receipt."""
    found = sessions.list_sessions(db, vendor)
    point_names = {p: points.get_point(db, p).name for p in {s.point_id for s in found}}
    return render(request, "vendor_home.html", user=vendor, wallet=wallet_summary(db, vendor, settings),
                  sessions=[session_public(s) for s in found], point_names=point_names,
                  max_top_up=MAX_TOP_UP, next="/me")
