"""What a WeCom call's failure means for the caller, in the three kinds the pager's callers already know
(carevisit.escalation.pager: NotProcessed / TemporaryError / PermanentError). Defined again here with the same
meanings so the client depends on nothing of the services; the notifier maps them onto the Notifier port's kinds."""

from __future__ import annotations


class WeComError(Exception):
    def __init__(self, message: str, *, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class WeComNotProcessed(WeComError):
    """Certainly not acted on (45009 frequency limit, a refused token): safe to retry later."""


class WeComTemporaryError(WeComError):
    """Perhaps acted on (5xx, a timeout, a dropped connection): a resend may deliver twice unless the request is
    byte-identical and sent with enable_duplicate_check."""


class WeComPermanentError(WeComError):
    """Will never succeed as asked (81013 no valid recipient, a malformed card, a used response_code)."""
