"""Who sees an elder's and their family's phone numbers in full, and how the others see them.

Coordinators and admins of the area call the elder and the family when a visit goes wrong, so they see the numbers;
a viewer reads reports and calls nobody, so they see 138****5678: enough to recognise a number, not to dial it.
"""

from __future__ import annotations

from carevisit.storage.enums import CoordinatorRole

_CHINA = "+86"


def role_sees_phones(role: CoordinatorRole) -> bool:
    """The one decision: which roles see phone numbers in full (everyone here is already scoped to their area)."""
    return role in (CoordinatorRole.COORDINATOR, CoordinatorRole.ADMIN)


def shown_phone(e164: str | None, role: CoordinatorRole) -> str:
    """A stored E.164 number as this role may see it: written the way people write it, masked for viewers."""
    if not e164:
        return ""
    national = e164[len(_CHINA) :] if e164.startswith(_CHINA) else e164
    if role_sees_phones(role):
        return national
    return masked(national)


def masked(number: str) -> str:
    """138****5678: the first three and the last four digits."""
    if len(number) < 8:
        return "****"
    return f"{number[:3]}****{number[-4:]}"
