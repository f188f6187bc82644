"""Search across people, referrals and cases, within need to know (DESIGN §3: after meetings,
before reports). The blueprint lives in panel.search.views."""
