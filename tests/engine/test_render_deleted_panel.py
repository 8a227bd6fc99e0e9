"""A panel deleted by another program while a render works on it: the rest is kept, one message."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import png_bytes

from storyboard_app.engine.project_render import build_render_request, render_scenes
from storyboard_app.engine.render_request import PanelRendered, RenderEvent, RenderRequest
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore


class DeletingRenderer:
    """Renders nothing; another program deletes panel ``doomed`` before its picture is ready."""

    def __init__(self, folder: object, doomed: int) -> None:
        self._folder = folder
        self._doomed = doomed

    def render(
        self,
        request: RenderRequest,
        on_event: Callable[[RenderEvent], None],
        is_cancelled: Callable[[], bool],
    ) -> None:
        for panel in request.panels:
            if panel.scene_id == self._doomed:
                with ProjectStore.open(self._folder) as other:
                    other.scenes.delete(panel.scene_id)
            on_event(PanelRendered(panel.scene_id, png_bytes(), TakeParams(16, 16)))


def test_the_other_panels_are_kept(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(model_source="tiny")
    request = build_render_request(story_store)
    doomed = story_store.scenes.at(2).id
    takes = render_scenes(story_store, DeletingRenderer(story_store.folder, doomed), request)
    left = story_store.scenes.list()
    assert len(left) == 3 and len(takes) == 3
    assert all(scene.active_take_id is not None for scene in left)


def test_a_render_of_panels_deleted_before_it_started_is_refused_in_words(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(model_source="tiny")
    gone = story_store.scenes.at(4).id
    story_store.scenes.delete(gone)
    with pytest.raises(ValidationError, match="1 of the 1 panel to render was deleted"):
        build_render_request(story_store, [gone])
