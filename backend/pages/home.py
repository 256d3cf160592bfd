"""The landing page: what scan-to-use power is, and the way to your own home."""
from fastapi import Request

from backend.deps import MaybeUser
from backend.pages.errors import page_router
from backend.pages.navigation import role_home
from backend.pages.rendering import render

router = page_router()


@router.get("/")
def landing(request: Request, user: MaybeUser):
    """What this is; signed-in users get a link to their home."""
    return render(request, "landing.html", user=user, home=role_home(user) if user else None)
