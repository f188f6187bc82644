"""Board reports (with disclosure control), subject-access requests and retention.

The last feature in the order (DESIGN §3): its services may read every feature before it.
The blueprints live in panel.reports.views, so importing the services never loads pages.
"""
