"""The long-running parts of `carevisit run` (scheduler, escalation, bot), each behind the same small interface."""
