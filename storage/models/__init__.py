"""Every table; importing this package registers them all on `SQLModel.metadata`."""

from storage.models.areas import Area, Organisation
from storage.models.audit import AuditEntry
from storage.models.bot import ChatInvitation, TelegramUpdate
from storage.models.chat import ChatOutboxMessage
from storage.models.incidents import DeliveryEvent, Incident, IncidentNote, OutboxMessage
from storage.models.people import Coordinator, Elder, EmergencyContact, Volunteer, VolunteerCommunity
from storage.models.scheduling import SchedulerJob, SchedulerLease
from storage.models.visits import Problem, Visit

__all__ = [
    "Area",
    "AuditEntry",
    "ChatInvitation",
    "ChatOutboxMessage",
    "Coordinator",
    "DeliveryEvent",
    "Elder",
    "EmergencyContact",
    "Incident",
    "IncidentNote",
    "Organisation",
    "OutboxMessage",
    "Problem",
    "SchedulerJob",
    "SchedulerLease",
    "TelegramUpdate",
    "Visit",
    "Volunteer",
    "VolunteerCommunity",
]
