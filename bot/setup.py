"""Building the bot and its dispatcher: routers, middlewares and the dependencies handlers get by keyword."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.fsm_storage import DatabaseStorage
from carevisit.bot.handlers import get_routers
from carevisit.bot.middlewares import DbSessionMiddleware, PrivateChatsOnly, ProfileI18nMiddleware, WhoMiddleware
from carevisit.care.clock import Clock
from carevisit.care.confirmations import DEFAULT_CHECKLIST, ChecklistItem
from carevisit.escalation.policy import DEFAULT_POLICY, EscalationPolicy
from carevisit.fieldwork.context import FieldContext

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_EPIDEMIC_INSTRUCTIONS = "请做好个人防护，保持距离，立即联系社区卫生服务中心，按当地疫情防控规定处置。"


def make_i18n(default_locale: str = "zh_CN") -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain="messages")


def make_bot(token: str, *, api_base: str | None = None, session: AiohttpSession | None = None) -> Bot:
    """A bot that talks to Telegram, or to another Bot API server (self-hosted, or a fake in tests)."""
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else AiohttpSession()
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def make_storage(redis_url: str | None, *, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> BaseStorage:
    """Where the multi-message flows (a note, a problem report, the handling record) keep their place: Redis when
    configured, else the project database; either way a restart or another process carries on a half-typed record."""
    if redis_url is None:
        return DatabaseStorage(sessions, clock=clock)
    return RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(prefix="carevisit:fsm"))


def build_dispatcher(
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    zone: ZoneInfo,
    region: str = "CN",
    language: str = "zh_CN",
    policy: EscalationPolicy = DEFAULT_POLICY,
    checklist: tuple[ChecklistItem, ...] = DEFAULT_CHECKLIST,
    epidemic_instructions: str = DEFAULT_EPIDEMIC_INSTRUCTIONS,
    storage: BaseStorage | None = None,
    public_url: str | None = None,
    drill: bool = False,
) -> Dispatcher:
    """The dispatcher with every router. FSM state lives in `storage` (the service passes `make_storage`; memory
    by default, for tests). The confirm flow itself keeps its progress in the buttons. Handlers get `field`, what
    the volunteer services (`carevisit.fieldwork`) need, built once here."""
    field = FieldContext(
        clock=clock,
        zone=zone,
        policy=policy,
        language=language,
        checklist=checklist,
        public_url=public_url,
        drill=drill,  # the demo's emergencies are drills
    )
    dp = Dispatcher(
        storage=storage or MemoryStorage(),
        clock=clock,
        zone=zone,
        region=region,
        epidemic_instructions=epidemic_instructions,
        field=field,
    )
    i18n = make_i18n(language)
    dp["i18n"] = i18n  # also for the error handlers when a failure comes before the locale middleware ran
    # Outer middlewares on the update: the session, then who the user is, then their language, so filters see all.
    dp.update.outer_middleware(PrivateChatsOnly())
    dp.update.outer_middleware(DbSessionMiddleware(sessions))
    dp.update.outer_middleware(WhoMiddleware())
    dp.update.outer_middleware(ProfileI18nMiddleware(i18n))
    dp.include_routers(*get_routers())
    return dp
