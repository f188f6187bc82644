"""The pages of the reports feature: Board reports, subject access and retention.

Three blueprints, one per part, each in its own module.
"""

from panel.reports.views.board_views import bp as board_bp
from panel.reports.views.retention_views import bp as retention_bp
from panel.reports.views.subject_access_views import bp as subject_access_bp

blueprints = (board_bp, subject_access_bp, retention_bp)
