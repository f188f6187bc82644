"""The case record: summary, risk, agencies and rapport, staff safety, engagement and its
patterns, insight, the person's outcomes, chronology, and closure with step-down."""
