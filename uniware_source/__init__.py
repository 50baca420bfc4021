"""uniware-dlt: a dlt source for Unicommerce Uniware export jobs."""
