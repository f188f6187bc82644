"""The action log: agency actions, SPoC updates, the escalation ladder (jobs.py) and digests."""
