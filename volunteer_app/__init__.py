"""The volunteer app: the bot's work as small pages a volunteer opens in their phone's browser (WeChat's and WeCom's
built-in ones too), signed in by a one-time link or WeCom, served under /v/ by the same service."""
