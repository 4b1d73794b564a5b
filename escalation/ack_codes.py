"""One-time acknowledgement codes: what a domestic SMS carries instead of a link ("请访问 …/a 输入确认码 123456").

A code is one person's for one incident, and every page of that incident to them carries the same one. Only a
keyed digest of it is stored (a database reader cannot acknowledge), so it cannot be read back: it is derived again
from the secret and the row's random nonce. A code is drawn so that it matches no other live code, which keeps a
lookup by digest unambiguous.

Six digits can be guessed, so the page limits wrong codes per client address and for the whole service (the
failures live in the database, where every web process counts them), and each valid code serves a few views and
acknowledgements only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.storage.models import AckCode, AckCodeFailure, Incident

LIFETIME = timedelta(hours=24)  # from the person's first page of the incident
DIGITS = 6
MAX_USES = 10  # views of the page plus acknowledgements, per code
# Wrong codes per client address in WINDOW, then a wait until the oldest of them leaves the window.
ADDRESS_BUDGET = 10
# Wrong codes for the whole service in WINDOW (a botnet spread over many addresses). At this rate a sustained attack
# tries about 10,000 codes a day, so with 20 live codes it finds one in about five days; the voice call's key press
# stays open meanwhile.
SERVICE_BUDGET = 100
WINDOW = timedelta(minutes=15)


Who = tuple[str, int]  # ("contact" | "coordinator", id)


def code_of(secret: bytes, *, incident_id: int, who_kind: str, who_id: int, nonce: str) -> str:
    mac = hmac.new(secret, f"ack-code:{incident_id}:{who_kind}:{who_id}:{nonce}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def digest_of(secret: bytes, code: str) -> str:
    return hmac.new(secret, f"ack-code-digest:{code}".encode(), hashlib.sha256).hexdigest()


def normalise(raw: str) -> str | None:
    """The code as typed (full-width digits, spaces and dashes allowed), or None when it cannot be a code."""
    if len(raw) > 40:
        return None
    text = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if ch not in " -\t\r\n")
    if len(text) != DIGITS or not text.isascii() or not text.isdigit():
        return None
    return text


async def codes_for(
    session: AsyncSession,
    *,
    clock: Clock,
    secret: bytes,
    incident_id: int,
    targets: list[Who],
    lifetime: timedelta = LIFETIME,
) -> dict[Who, str]:
    """The plain codes of these people for this incident, creating the missing ones (in the caller's transaction)."""
    found = await codes_for_many(
        session, clock=clock, secret=secret, wanted=[(incident_id, k, i) for k, i in targets], lifetime=lifetime
    )
    return {(k, i): code for (_, k, i), code in found.items()}


async def codes_for_many(
    session: AsyncSession,
    *,
    clock: Clock,
    secret: bytes,
    wanted: list[tuple[int, str, int]],
    lifetime: timedelta = LIFETIME,
) -> dict[tuple[int, str, int], str]:
    """`codes_for` for many incidents at once (an engine cycle paging a flood): one SELECT of the existing rows and
    one INSERT of the missing ones, plus a digest check per batch of new codes. An expired code is replaced."""
    now = clock.now()
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}
    incident_ids = sorted({k[0] for k in keys})
    rows = (await session.exec(select(AckCode).where(col(AckCode.incident_id).in_(incident_ids)))).all()
    existing = {(r.incident_id, r.who_kind, r.who_id): r for r in rows}
    codes: dict[tuple[int, str, int], str] = {}
    stale: list[AckCode] = []
    missing: list[tuple[int, str, int]] = []
    for key in keys:
        row = existing.get(key)
        if row is None:
            missing.append(key)
        elif row.expires_at <= now:
            stale.append(row)
        else:
            codes[key] = code_of(secret, incident_id=key[0], who_kind=key[1], who_id=key[2], nonce=row.nonce)
    drawn = await _draw(session, secret, now, [*missing, *((r.incident_id, r.who_kind, r.who_id) for r in stale)])
    if missing:
        await session.exec(
            insert(AckCode).values(  # type: ignore[call-overload]
                [
                    {
                        "incident_id": key[0],
                        "who_kind": key[1],
                        "who_id": key[2],
                        "nonce": drawn[key][0],
                        "digest": digest_of(secret, drawn[key][1]),
                        "uses": 0,
                        "expires_at": now + lifetime,
                        "created_at": now,
                    }
                    for key in missing
                ]
            )
        )
    for row in stale:  # a long incident: the person's next page carries a new code
        nonce, code = drawn[(row.incident_id, row.who_kind, row.who_id)]
        await session.exec(
            update(AckCode)
            .where(col(AckCode.id) == row.id)
            .values(nonce=nonce, digest=digest_of(secret, code), uses=0, expires_at=now + lifetime, created_at=now)
        )
    codes.update({key: code for key, (_, code) in drawn.items()})
    return codes


async def _draw(
    session: AsyncSession, secret: bytes, now: datetime, keys: list[tuple[int, str, int]]
) -> dict[tuple[int, str, int], tuple[str, str]]:
    """A (nonce, code) for each key whose code matches no live code nor another drawn here."""
    drawn: dict[tuple[int, str, int], tuple[str, str]] = {}
    pending = list(keys)
    while pending:
        batch = {key: secrets.token_hex(8) for key in pending}
        candidates = {
            key: code_of(secret, incident_id=key[0], who_kind=key[1], who_id=key[2], nonce=nonce)
            for key, nonce in batch.items()
        }
        digests = {digest_of(secret, code) for code in candidates.values()}
        taken = set(
            (
                await session.exec(
                    select(AckCode.digest).where(col(AckCode.digest).in_(digests), col(AckCode.expires_at) > now)
                )
            ).all()
        )
        taken |= {digest_of(secret, code) for _, code in drawn.values()}
        pending = []
        for key, code in candidates.items():
            digest = digest_of(secret, code)
            if digest in taken:
                pending.append(key)
            else:
                taken.add(digest)
                drawn[key] = (batch[key], code)
    return drawn


async def lookup(
    session: AsyncSession, *, clock: Clock, secret: bytes, code: str, after_resolved: timedelta
) -> AckCode | None:
    """The live row of this code: not expired, its incident not resolved `after_resolved` ago or longer. None also
    when two live rows share the code (codes are drawn to avoid it; two processes drawing at once could)."""
    now = clock.now()
    rows = (
        await session.exec(
            select(AckCode, Incident)
            .join(Incident, col(Incident.id) == col(AckCode.incident_id))
            .where(col(AckCode.digest) == digest_of(secret, code), col(AckCode.expires_at) > now)
        )
    ).all()
    live = [
        row for row, incident in rows if incident.resolved_at is None or now < incident.resolved_at + after_resolved
    ]
    return live[0] if len(live) == 1 else None


async def use(session: AsyncSession, row: AckCode) -> bool:
    """Count one view or acknowledgement made with the code; False once it has served MAX_USES."""
    result = await session.exec(
        update(AckCode).where(col(AckCode.id) == row.id, col(AckCode.uses) < MAX_USES).values(uses=AckCode.uses + 1)
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Lock:
    until: datetime
    service: bool  # the whole service's budget is spent, not only this address's


def client_key(secret: bytes, address: str) -> str:
    """The address as the failure table keeps it: a keyed digest (the table is no log of who visited)."""
    return hmac.new(secret, f"ack-client:{address}".encode(), hashlib.sha256).hexdigest()[:32]


async def locked(session: AsyncSession, *, clock: Clock, client: str) -> Lock | None:
    """Whether wrong codes from this client, or from everyone, have used up their budget; until when."""
    now = clock.now()
    service = await _nth_latest(session, now, SERVICE_BUDGET, client=None)
    if service is not None:
        return Lock(service + WINDOW, service=True)
    own = await _nth_latest(session, now, ADDRESS_BUDGET, client=client)
    return Lock(own + WINDOW, service=False) if own is not None else None


async def fail(session: AsyncSession, *, clock: Clock, client: str) -> Lock | None:
    """Count a wrong code (in the caller's transaction) and forget failures older than the window; the lock it
    causes, if any."""
    now = clock.now()
    await session.exec(delete(AckCodeFailure).where(col(AckCodeFailure.at) <= now - WINDOW))  # type: ignore[call-overload]
    session.add(AckCodeFailure(client=client, at=now))
    await session.flush()
    return await locked(session, clock=clock, client=client)


async def _nth_latest(session: AsyncSession, now: datetime, n: int, *, client: str | None) -> datetime | None:
    """The time of the n-th latest failure within the window (of `client`, or of everyone): while there is one,
    the budget of n is spent."""
    query = select(AckCodeFailure.at).where(col(AckCodeFailure.at) > now - WINDOW)
    if client is not None:
        query = query.where(AckCodeFailure.client == client)
    return (await session.exec(query.order_by(col(AckCodeFailure.at).desc()).offset(n - 1).limit(1))).first()
