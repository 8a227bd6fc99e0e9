"""A panel deleted by another program while a render works on it: the rest is kept, one message."""

from __future__ import annotations

import pytest

from storyboard_app.engine.project_render import build_render_request
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore


def test_a_render_of_panels_deleted_before_it_started_is_refused_in_words(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(model_source="tiny")
    gone = story_store.scenes.at(4).id
    story_store.scenes.delete(gone)
    with pytest.raises(ValidationError, match="1 of the 1 panel to render was deleted"):
        build_render_request(story_store, [gone])
