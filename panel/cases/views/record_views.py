"""Case sections: risk, agencies, staff safety, insight, outcomes (being written)."""
from panel.cases import bp  # noqa: F401
