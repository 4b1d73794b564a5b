"""Words of the volunteers page's volunteer-app part: sign-in links shown as QR codes, and signing devices out.
Keys: `app_link.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "app_link.create": "志愿者应用登录码",
        "app_link.devices": "应用登录设备",
        "app_link.revoke": "退出应用设备",
        "app_link.revoke_confirm": "让这位志愿者所有手机上的志愿者应用退出登录？",
        "app_link.heading": "志愿者 {who} 的应用登录码",
        "app_link.how": "请志愿者用手机微信或相机扫描二维码，或把下面的链接发给志愿者（短信、微信、企业微信均可），"
        "打开后点“进入”。链接只能使用一次，{until} 前有效。",
        "app_link.qr": "登录二维码",
        "app_revoked": "志愿者 {who} 的 {n} 台设备已退出志愿者应用。",
    },
    "en": {
        "app_link.create": "Volunteer app sign-in code",
        "app_link.devices": "App devices",
        "app_link.revoke": "Sign app devices out",
        "app_link.revoke_confirm": "Sign this volunteer out of the volunteer app on every phone?",
        "app_link.heading": "Volunteer app sign-in code for {who}",
        "app_link.how": "Ask the volunteer to scan the QR code with WeChat or the phone's camera, or send them the "
        "link below (SMS, WeChat or WeCom) and have them tap “Enter”. The link works once, until {until}.",
        "app_link.qr": "Sign-in QR code",
        "app_revoked": "{n} device(s) of volunteer {who} were signed out of the volunteer app.",
    },
}
