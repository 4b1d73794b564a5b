"""The volunteer and coordinator chat bot (aiogram 3): thin handlers over the domain in `care` and `escalation`."""
