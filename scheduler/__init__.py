"""The scheduler: which visits each elder needs this month, who makes them, reminders, overdue and missed visits.

Pure decisions (`planning.needed_visits`, `assignment.Assigner`) and the services that load, decide and persist; no
APScheduler here (that is `cron/`)."""
