"""Logging set-up. Personal data stays out of logs: modules log ids and masked phones, never names or addresses."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiogram logs whole updates at DEBUG and chat ids at INFO; twilio logs request bodies (SMS text) at INFO.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
