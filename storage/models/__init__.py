"""Every table; importing this package registers them all on `SQLModel.metadata`."""

from carevisit.storage.models.areas import Area, Organisation
from carevisit.storage.models.audit import AuditEntry
from carevisit.storage.models.bot import ChatInvitation, TelegramUpdate
from carevisit.storage.models.chat import ChatOutboxMessage
from carevisit.storage.models.incidents import DeliveryEvent, Incident, IncidentNote, OutboxMessage, TwilioReceipt
from carevisit.storage.models.people import Coordinator, Elder, EmergencyContact, Volunteer, VolunteerCommunity
from carevisit.storage.models.scheduling import SchedulerLease
from carevisit.storage.models.visits import Problem, Visit

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
    "SchedulerLease",
    "TelegramUpdate",
    "TwilioReceipt",
    "Visit",
    "Volunteer",
    "VolunteerCommunity",
]
