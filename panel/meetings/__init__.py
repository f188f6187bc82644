"""Meetings: the monthly panel's schedule, its self-building agenda and printed pack,
attendance and minutes, case MDTs, invitations and each user's calendar feed."""
