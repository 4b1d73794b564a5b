"""Emergencies, the pages sent for them, and the handling record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.types import UTCDateTime, enum_type


class Incident(SQLModel, table=True):
    """An urgent situation found on a visit. The escalation policy is frozen into it when it opens.

    `next_step_at` is the escalation timer: it lives here so a restart resumes every open incident on time.
    """

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_next", "status", "next_step_at"),)

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elders.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visits.id")
    problem_id: int | None = Field(default=None, foreign_key="problems.id")
    reporter_volunteer_id: int | None = Field(default=None, foreign_key="volunteers.id")
    reporter_coordinator_id: int | None = Field(default=None, foreign_key="coordinators.id")
    kind: str = Field(max_length=32)  # medical, fall, fire, police, infectious, other
    description: str = Field(default="", sa_type=Text)
    is_drill: bool = False
    status: IncidentStatus = Field(default=IncidentStatus.OPEN, sa_type=enum_type(IncidentStatus))
    policy: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    step: int = 0
    next_step_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=200)
    ack_channel: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=200)


class IncidentNote(SQLModel, table=True):
    """The handling record (事后处置记录): written afterwards, and added to later."""

    __tablename__ = "incident_notes"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    author: str = Field(max_length=200)
    what_happened: str = Field(default="", sa_type=Text)
    actions_taken: str = Field(default="", sa_type=Text)
    outcome: str = Field(default="", sa_type=Text)


class OutboxMessage(SQLModel, table=True):
    """An SMS, call or chat message to be sent, written before any provider call.

    `idempotency_key` (e.g. incident:step:contact:channel) is unique, so a decision replayed after a crash
    cannot queue a second page. Status moves pending → sending → sent/delivered or failed; `status_rank`
    lets late, out-of-order provider callbacks be ignored. `provider_sid` is unique: one provider message or
    call belongs to one row (reconciling two uncertain calls to one number must not pin both on one call).

    A worker claims a row by marking it `sending` with itself as `lease_owner` until `lease_until`; it renews
    the lease while the provider call runs. Another worker touches a `sending` row only once its lease has
    expired (its owner died); a row whose outcome is uncertain has no lease and waits for `not_before`.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "not_before"),
        # Per-number throttles and SMS replies look rows up by number and time.
        Index("ix_outbox_to_created", "to_address", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    purpose: str = Field(max_length=32)  # page, all_clear, drill, family_report, digest
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    step: int | None = None
    contact_id: int | None = Field(default=None, foreign_key="emergency_contacts.id")
    coordinator_id: int | None = Field(default=None, foreign_key="coordinators.id")
    channel: Channel = Field(sa_type=enum_type(Channel))
    to_address: str = Field(max_length=64)  # E.164, or a chat id
    body: str = Field(sa_type=Text)  # the notice rendered from our catalogue: what Twilio sends, what pages show
    # What domestic providers send instead: the notice's kind and variables, filled into its approved template.
    # None on rows written before notices existed (sent as free text, which only Twilio accepts).
    notice_kind: str | None = Field(default=None, max_length=40)
    notice_params: dict[str, str] | None = Field(default=None, sa_type=JSON)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=enum_type(DeliveryStatus))
    status_rank: int = 0
    provider_sid: str | None = Field(default=None, max_length=64, index=True, unique=True)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)  # the worker that last claimed it
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    not_before: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sending_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error_code: str | None = Field(default=None, max_length=32)
    error_message: str | None = Field(default=None, max_length=500)


class DeliveryEvent(SQLModel, table=True):
    """Every status an outbound message went through, for the incident's timeline."""

    __tablename__ = "delivery_events"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    status: DeliveryStatus = Field(sa_type=enum_type(DeliveryStatus))
    provider_sid: str | None = Field(default=None, max_length=64)
    error_code: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, max_length=500)


class TwilioReceipt(SQLModel, table=True):
    """A signed Twilio request already acted on (`sms:<MessageSid>`, `voice:<CallSid>:<digits>`): a replay of
    it — Twilio's own retry, or someone resending a captured request — finds its key taken and changes nothing."""

    __tablename__ = "twilio_receipts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    received_at: datetime = Field(sa_type=UTCDateTime)


class AckCode(SQLModel, table=True):
    """The one-time code a domestic SMS carries instead of a link (`PUBLIC_URL/a`): one per person per incident,
    reused by all their pages of it. Only a keyed digest of the code is kept, so reading the database is not enough
    to acknowledge; the page derives the code again from the secret and `nonce` (escalation/ack_codes.py)."""

    __tablename__ = "ack_codes"
    __table_args__ = (UniqueConstraint("incident_id", "who_kind", "who_id", name="uq_ack_codes_incident_who"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    who_kind: str = Field(max_length=16)  # contact | coordinator
    who_id: int
    nonce: str = Field(max_length=32)
    digest: str = Field(max_length=64, index=True)  # HMAC-SHA256 of the code under the service secret, hex
    uses: int = 0  # views and acknowledgements made with it: a valid code is not an unlimited key
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # first acknowledgement made with it
    created_at: datetime = Field(sa_type=UTCDateTime)


class AckCodeFailure(SQLModel, table=True):
    """A wrong code typed on `/a`, kept for the rate limits' window so every web process counts the same failures
    (per address, and all together against a botnet). `client` is a keyed digest of the address, not the address."""

    __tablename__ = "ack_code_failures"
    __table_args__ = (Index("ix_ack_code_failures_client_at", "client", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=32)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
