"""The web surface: ``assay serve`` (pages and a JSON API) and the self-contained HTML report.

Surfaces never compute: every figure comes from the :mod:`assay.analyse` function the CLI
calls, through :mod:`assay.web.views`.
"""

from assay.web.app import create_app
from assay.web.auth import TokenGuard, is_loopback
from assay.web.report import render_report

__all__ = ["TokenGuard", "create_app", "is_loopback", "render_report"]
