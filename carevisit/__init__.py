"""carevisit: the composition root and the `carevisit` command."""
