"""The stale rule for the views: it lives, Qt-free, in :mod:`storyboard_app.project.staleness`."""

from __future__ import annotations

from storyboard_app.project.staleness import (
    StaleKind,
    StaleReason,
    describe_reasons,
    is_stale,
    stale_reasons,
)

__all__ = ["StaleKind", "StaleReason", "describe_reasons", "is_stale", "stale_reasons"]
