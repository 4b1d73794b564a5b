"""Where a WeCom message's link takes the member: a `ChatMessage.link` may be a path ("/v/", "/incidents/12"), made
absolute here against PUBLIC_URL. A page of the volunteer app goes through its silent WeCom sign-in first
(`/v/wecom?next=…`), so a tap in WeCom opens the page signed in. A message written without a link gets the home of
whoever it is for: the volunteer app for a volunteer, the dashboard for a coordinator.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Coordinator, Volunteer

APP = "/v/"
DASHBOARD = "/"
SIGN_IN = "/v/wecom"


def absolute(link: str, public_url: str | None) -> str | None:
    """The URL a WeCom message carries for `link` (a URL, or a path); None for a path without PUBLIC_URL."""
    base = public_url.rstrip("/") if public_url else None
    if base and link.startswith(base + APP):
        link = link[len(base) :]  # a page of the app written as a URL: through the sign-in all the same
    elif link.startswith(("https://", "http://")):
        return link
    if not link.startswith("/") or link.startswith("//") or base is None:
        return None  # "//host" would leave our site
    if link.startswith(APP) and not link.startswith(SIGN_IN):  # the sign-in itself is not wrapped twice
        return f"{base}{SIGN_IN}?next={quote(link, safe='/')}"
    return base + link


async def home_path(session: AsyncSession, userid: str) -> str | None:
    """The app for a member linked to a volunteer, the dashboard for one linked to a coordinator, else None."""
    for model, home in ((Volunteer, APP), (Coordinator, DASHBOARD)):
        found = await session.exec(
            select(model.id).where(col(model.wecom_userid) == userid, col(model.active).is_(True))
        )
        if found.first() is not None:
            return home
    return None
