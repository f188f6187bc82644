"""Agencies, their SPoCs and escalation contacts, and the information sharing agreement register."""
