"""Talking to Uniware: sign-in (auth), one call (api_call), the job phases create, poll and download
(create_job, job_status, download), facility_search, HTTP sessions."""
