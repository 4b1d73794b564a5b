"""One module per command group; `carevisit.cli` adds each to the main app."""
