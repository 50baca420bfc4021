"""Talking to Uniware: sign-in (auth), the export-job endpoints, HTTP sessions, file downloads."""
