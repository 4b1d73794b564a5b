"""Words of the volunteer app's core pages (signing in and out), per language: Chinese first, English when the
volunteer's or the service's language is en. Other page modules add their own catalogues with `register`, so one
translator (`pages.t`) serves every page."""

from __future__ import annotations

from collections.abc import Callable

DEFAULT = "zh_CN"

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "app.title": "探访关爱",
        "app.home": "我的探访",
        "app.sign_out": "退出登录",
        "app.sign_out_ask": "确定要在这部手机上退出吗？退出后要用社区工作人员给的新链接才能再进来。",
        "app.sign_out_yes": "确定退出",
        "in.heading": "欢迎使用探访关爱",
        "in.lead": "点下面的按钮即可进入，以后在这部手机上打开就不用再登录。",
        "in.once": "此链接只能使用一次，请不要转发给别人。",
        "in.enter": "进入",
        "in.refused": "链接已失效",
        "in.refused_body": "这个登录链接已经用过、已过期或不完整。",
        "in.ask": "请联系您的社区工作人员，索取新的登录链接或二维码。",
        "in.throttled": "尝试次数太多，请在 {until} 以后再试。",
        "out.heading": "您尚未登录",
        "out.body": "请打开社区工作人员发给您的登录链接，或在企业微信的工作台中打开本应用。",
        "out.done": "您已在这部手机上退出。",
        "wecom.unlinked": "您的企业微信账号还没有和志愿者身份关联。",
        "wecom.failed": "企业微信登录没有成功，请从企业微信中重新打开本应用。",
        "bad_request": "请求无效，请返回后重试。",
        "cross_site": "请在本应用的页面上操作。",
    },
    "en": {
        "app.title": "Care visits",
        "app.home": "My visits",
        "app.sign_out": "Sign out",
        "app.sign_out_ask": "Sign out on this phone? To come back you will need a new link from the community staff.",
        "app.sign_out_yes": "Yes, sign out",
        "in.heading": "Welcome to Care visits",
        "in.lead": "Tap the button below to enter. On this phone you will not need to sign in again.",
        "in.once": "This link works once: please do not forward it.",
        "in.enter": "Enter",
        "in.refused": "This link no longer works",
        "in.refused_body": "This sign-in link has been used, has expired or is incomplete.",
        "in.ask": "Please ask your community worker for a new sign-in link or QR code.",
        "in.throttled": "Too many tries: please try again after {until}.",
        "out.heading": "You are not signed in",
        "out.body": "Open the sign-in link your community worker sent you, or open this app from the WeCom workbench.",
        "out.done": "You have signed out on this phone.",
        "wecom.unlinked": "Your WeCom account is not linked to a volunteer yet.",
        "wecom.failed": "Signing in with WeCom did not work: please open this app from WeCom again.",
        "bad_request": "That request was not valid: please go back and try again.",
        "cross_site": "Please use this app's own pages.",
    },
}

_tables: dict[str, dict[str, str]] = {}


def register(catalogue: dict[str, dict[str, str]]) -> None:
    """Add a page module's words (a dict per language, at import time). A key already taken is a mistake."""
    for language, words in catalogue.items():
        table = TEXTS.setdefault(language, {})
        taken = table.keys() & words.keys()
        if taken:
            raise ValueError(f"volunteer app texts defined twice: {sorted(taken)}")
        table.update(words)
    _tables.clear()


def language_of(preferred: str | None, default: str) -> str:
    """The catalogue for a person's language setting ("en", "en-GB", "zh_CN", …), else the service's."""
    for choice in (preferred, default):
        if choice and choice.lower().startswith("en"):
            return "en"
        if choice and choice.lower().startswith("zh"):
            return DEFAULT
    return DEFAULT


def translator(language: str) -> Callable[[str], str]:
    """Chinese first: a key missing in English falls back to Chinese, an unknown key shows itself."""
    table = _tables.get(language)
    if table is None:
        table = _tables[language] = {**TEXTS[DEFAULT], **TEXTS.get(language, {})}
    return lambda key: table.get(key, key)
