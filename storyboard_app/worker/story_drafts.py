"""A prose story drafted by the optional local language model, off the UI thread.

The model can take up to its timeout (60 s by default) to answer, so the app must
not wait for it on the UI thread. :class:`ModelDraftTask` runs
:func:`story_from_llm` on a thread of Qt's global pool and reports back with a
queued signal; the UI stays responsive and can stop listening (cancel) at any time.
A model that fails in any way gives the rules' panels and the same ``Note:``
reason the command line prints. Like the torch engine (``host.engine_by_name``),
the engine module is imported by name on the pool thread, so code the UI imports
never imports ``storyboard_app.engine`` (the "ui/ never imports torch" contract).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.scripts.io import read_script_text
from storyboard_app.project.scripts.model import StoryScript

STORY_LLM_MODULE = "storyboard_app.engine.story_llm"


@dataclass(frozen=True)
class ModelDraft:
    """The panels (None if the story itself could not be read) and the note for the artist."""

    script: StoryScript | None
    note: str = ""


def draft_with_model(story: Path, url: str, model: str, timeout_s: float) -> ModelDraft:
    """The story cut by the model at ``url``, or by the rules with the reason why (blocking)."""
    story_llm = importlib.import_module(STORY_LLM_MODULE)
    endpoint = story_llm.LlmEndpoint(url, model, timeout_s)
    try:
        result = story_llm.story_from_llm(read_script_text(story), endpoint, story)
    except StoryboardError as error:
        return ModelDraft(None, str(error))
    return ModelDraft(result.script, result.fallback_reason)


class ModelDraftTask(QObject):
    """One request to the model; ``finished`` carries a :class:`ModelDraft` to the UI thread."""

    finished = Signal(object)

    def __init__(self, story: Path, url: str, model: str, timeout_s: float) -> None:
        super().__init__()
        self._args = (story, url, model, timeout_s)

    def start(self) -> None:
        """Run on the global thread pool; the signal is queued to this object's (UI) thread."""
        QThreadPool.globalInstance().start(self._run)

    def _run(self) -> None:
        """On the pool thread: whatever happens, the UI hears back (a bug included)."""
        try:
            draft = draft_with_model(*self._args)
        except Exception as error:  # the thread's edge: report it, never leave the UI waiting
            draft = ModelDraft(None, f"the model could not be asked ({error})")
        self.finished.emit(draft)
