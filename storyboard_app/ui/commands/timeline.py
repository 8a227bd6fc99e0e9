"""Timeline edits: a panel's duration or camera move, set in one gesture.

They reuse the panel edit, but each gesture (a drag released, a dialog
accepted) is its own undo step: merging two drags made within seconds of each
other, as typing merges, would make undo jump back further than the artist
expects.
"""

from __future__ import annotations

from storyboard_app.ui.commands.scenes import EditSceneCommand


class TimelineEditCommand(EditSceneCommand):
    """A panel field set from the timeline; never merged with the edit before it."""

    def id(self) -> int:
        return -1
