"""Escalation: from an urgent report to someone responsible who acknowledged it, with the whole story on record.

- `policy`, `config_file`: the escalation policy (frozen into each incident), throttles, family-report mode;
- `decide`: pure decisions — next step, whom and how, early move-on, what an SMS reply means;
- `engine`: the periodic cycle turning due incidents into outbox rows; `outbox`: the worker sending them durably;
- `pager` (port, console and fake pagers), `twilio_pager` (the Twilio adapter);
- `incidents`, `acks`, `tokens`: open, acknowledge (keypress, signed link, SMS reply, dashboard/bot), resolve;
- `webhooks`: Twilio's signed webhooks and the acknowledgement page; `delivery`: ranked status updates;
- `family`: visit reports to opted-in contacts; `timeline`: the archive; `texts`: every word sent.
"""
