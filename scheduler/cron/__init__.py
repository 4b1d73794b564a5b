"""The scheduler's clockwork: APScheduler in the leader process, its jobs and the leader lock. Only the composition
root starts it; entry points call the planning services in `carevisit.scheduler` directly."""
