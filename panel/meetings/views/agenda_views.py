"""The meeting list, the meeting page and its agenda, printing (filled in by the agenda work)."""
