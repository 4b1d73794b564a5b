"""Every table; importing this package registers them all on `SQLModel.metadata`."""

from carevisit.storage.models.areas import Area, Organisation
from carevisit.storage.models.audit import AuditEntry
from carevisit.storage.models.bot import BotFlowState, ChatInvitation, TelegramChatClaim, TelegramUpdate
from carevisit.storage.models.chat import ChatOutboxMessage
from carevisit.storage.models.incidents import (
    AckCode,
    AckCodeFailure,
    DeliveryEvent,
    Incident,
    IncidentNote,
    OutboxMessage,
    TwilioReceipt,
)
from carevisit.storage.models.installation import InstallationSecret
from carevisit.storage.models.leases import LeaderLease
from carevisit.storage.models.people import Coordinator, Elder, EmergencyContact, Volunteer, VolunteerCommunity
from carevisit.storage.models.sign_in import VolunteerDevice, VolunteerSignInLink
from carevisit.storage.models.visits import EXTRA_SLOT_BASE, UNPLANNED_SLOT_BASE, Problem, Visit
from carevisit.storage.models.wecom import WeComEvent

__all__ = [
    "EXTRA_SLOT_BASE",
    "UNPLANNED_SLOT_BASE",
    "AckCode",
    "AckCodeFailure",
    "Area",
    "AuditEntry",
    "BotFlowState",
    "ChatInvitation",
    "ChatOutboxMessage",
    "Coordinator",
    "DeliveryEvent",
    "Elder",
    "EmergencyContact",
    "Incident",
    "IncidentNote",
    "InstallationSecret",
    "LeaderLease",
    "Organisation",
    "OutboxMessage",
    "Problem",
    "TelegramChatClaim",
    "TelegramUpdate",
    "TwilioReceipt",
    "Visit",
    "Volunteer",
    "VolunteerCommunity",
    "VolunteerDevice",
    "VolunteerSignInLink",
    "WeComEvent",
]
