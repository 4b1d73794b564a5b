"""WeCom (企业微信), the volunteers' and coordinators' channel in mainland China: the callback crypto, a thin async
client of the operator's self-built app, and the events its callbacks carry (../shared/CHANNELS.md §1.1)."""
