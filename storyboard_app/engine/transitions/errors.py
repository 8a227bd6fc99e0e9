"""Errors of transition generation, each with a hint that names the fix."""

from __future__ import annotations

from storyboard_app.engine.errors import EngineError


class TransitionError(EngineError):
    """Base of the errors raised while making a transition."""


class TransitionInputError(TransitionError):
    """Inputs that cannot make a transition (sizes, frame counts, options), found before work."""


class MissingPanelImageError(TransitionError):
    """A panel of the transition has no active take to start or end from."""


class TransitionCancelled(TransitionError):
    """The user cancelled; nothing of the transition was stored."""

    def __init__(self) -> None:
        super().__init__(
            "The transition was cancelled.", "Nothing was changed; generate it again when ready."
        )


class TransitionFailedError(TransitionError):
    """Generation failed after it started; the transition is marked 'failed'."""
