"""The vendor's home: balance, top-up and withdrawal, running sessions, and the history of sessions and money."""
from fastapi import Request

from backend.deps import SettingsDep, Vendor
from backend.pages.client_app import app_of
from backend.pages.errors import PageDb, page_router
from backend.pages.payment_choices import top_up_offer
from backend.pages.rendering import render
from backend.pages.wallet import wallet_summary
from backend.payments.trail import money_trail
from backend.points import service as points
from backend.sessions import service as sessions
from backend.sessions.views import session_public
from billing.payments.models import MAX_TOP_UP

router = page_router()
SHOWN_MOVEMENTS = 30


@router.get("/me")
def vendor_home(request: Request, db: PageDb, vendor: Vendor, settings: SettingsDep):
    """Balance and money moves, each naming where it went; open sessions link to their live page, completed ones to
    their receipt."""
    found = [session_public(s) for s in sessions.list_sessions(db, vendor)]
    point_names = {p: points.get_point(db, p).name for p in {s.point_id for s in found}}
    return render(request, "vendor_home.html", user=vendor, wallet=wallet_summary(db, vendor, settings),
                  running=[s for s in found if s.status.is_open], done=[s for s in found if not s.status.is_open],
                  point_names=point_names, movements=money_trail(db, vendor.id, SHOWN_MOVEMENTS),
                  max_top_up=MAX_TOP_UP, next="/me",
                  pay_choices=top_up_offer(request.app.state.payments, app_of(request.headers.get("user-agent"))))
