"""Around the dlt pipeline: the resumable run (submit, collect, rounds), its lock, signals, DuckDB memory."""
