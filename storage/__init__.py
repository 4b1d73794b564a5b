"""Tables, the async engine, migrations and named queries. Imports nothing else of carevisit."""
