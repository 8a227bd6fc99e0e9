"""Shared fixtures: every test gets its own temporary project and never touches user settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from storyboard_app.project.store import ProjectStore


def _repeatable_property_tests() -> None:
    """The property tests draw the same examples on every run, so CI gives one answer.

    ``STORYBOARD_HYPOTHESIS=explore`` draws new examples each run (to hunt for bugs);
    whatever it finds becomes an ``@example`` and a regression test.
    """
    try:
        from hypothesis import settings
    except ImportError:  # the dev extra is not installed; those tests skip themselves
        return
    settings.register_profile("repeatable", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("STORYBOARD_HYPOTHESIS", "repeatable"))


_repeatable_property_tests()


@pytest.fixture(scope="session", autouse=True)
def private_log_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The app's log file goes to a temporary folder, never the user's log folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORYBOARD_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
        yield


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProjectStore]:
    with ProjectStore.create(tmp_path / "test.storyboard") as opened:
        yield opened


@pytest.fixture
def story_store(store: ProjectStore) -> ProjectStore:
    """A small two-character story: four panels, one without characters."""
    store.characters.add("Mara", "a young woman with short red hair, green raincoat")
    store.characters.add("Bob", "an old man with a white beard, blue sweater")
    store.scenes.add("[Mara] climbs the lighthouse stairs", caption="Up she goes.")
    store.scenes.add("[Bob] waits at the top")
    store.scenes.add("[Mara] and [Bob] look at the sea")
    store.scenes.add("[NC] a storm over the sea", shot_type="wide")
    return store
