"""What a volunteer does in the field, written once for every entry point (the Telegram bot, the volunteer web app):
confirming a visit, reporting a problem, raising an emergency, and whom each tells."""
