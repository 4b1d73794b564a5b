"""Words of the volunteers page's volunteer-app part: sign-in links shown as QR codes, and signing devices out;
and the page's search. Keys: `app_link.`, `vol.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "app_link.create": "志愿者应用登录码",
        "app_link.devices": "应用登录设备",
        "app_link.revoke": "退出应用设备",
        "app_link.revoke_confirm": "让这位志愿者所有手机上的志愿者应用退出登录？",
        "app_link.heading": "{name} 的志愿者应用登录码",
        "app_link.roster_id": "编号 {id}",
        "app_link.loopback": "手机打不开这个链接：{host} 指的是运行本服务的这台电脑自己。"
        "请把设置 CAREVISIT_PUBLIC_URL 改为手机能访问的地址（例如 https://care.example.cn），重启服务后再生成登录码。",
        "app_link.lan": "只有连着同一局域网（同一 Wi-Fi）的手机能打开这个链接（{host} 是内网地址），"
        "用手机流量时打不开。如需在外面使用，请把设置 CAREVISIT_PUBLIC_URL 改为外网能访问的地址，"
        "重启服务后再生成登录码。",
        "vol.search": "查找志愿者",
        "vol.search_hint": "姓名或编号",
        "vol.search_go": "查找",
        "vol.search_all": "显示全部",
        "vol.found": "找到 {n} 位志愿者（共 {total} 位）。",
        "vol.found_none": "没有姓名或编号包含“{q}”的志愿者。",
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
        "app_link.heading": "Volunteer app sign-in code for {name}",
        "app_link.roster_id": "roster id {id}",
        "app_link.loopback": "A phone cannot open this link: {host} is the computer running this service itself. Set "
        "CAREVISIT_PUBLIC_URL to an address phones reach (such as https://care.example.cn), restart the service and "
        "create the code again.",
        "app_link.lan": "Only a phone on the same local network (the same Wi-Fi) can open this link ({host} is a "
        "local address), not one on mobile data. To use it elsewhere, set CAREVISIT_PUBLIC_URL to an address the "
        "internet reaches, restart the service and create the code again.",
        "vol.search": "Find a volunteer",
        "vol.search_hint": "name or roster id",
        "vol.search_go": "Find",
        "vol.search_all": "Show all",
        "vol.found": "{n} of {total} volunteers.",
        "vol.found_none": "No volunteer's name or roster id contains “{q}”.",
        "app_link.how": "Ask the volunteer to scan the QR code with WeChat or the phone's camera, or send them the "
        "link below (SMS, WeChat or WeCom) and have them tap “Enter”. The link works once, until {until}.",
        "app_link.qr": "Sign-in QR code",
        "app_revoked": "{n} device(s) of volunteer {who} were signed out of the volunteer app.",
    },
}
