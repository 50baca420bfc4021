"""The two steps of a run, inside each export's resource: submit (plan windows, create jobs), collect."""
