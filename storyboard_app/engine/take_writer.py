"""Finished panels PNG-encoded on one background thread while the next panel denoises.

Encoding a 1024 px panel takes about 160 ms of CPU; done on the engine thread, the
accelerator waits for it after every panel. :class:`TakeWriter` hands each picture
to a single encoder thread and commits the takes on the render thread, in panel
order, as their encodes finish, so the database session is only ever used by one
thread and a panel deleted mid-render is still skipped before its file is written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

from storyboard_app.engine.render_request import EventSink, PanelRendered, RenderEvent
from storyboard_app.engine.story_renderer import png_bytes
from storyboard_app.project.records import TakeParams, TakeRecord

StoreTake = Callable[[PanelRendered], TakeRecord | None]


class TakeWriter:
    """Encodes pictures in the background; stores and reports them in order.

    ``store`` makes the take of one encoded panel (None: the panel was deleted,
    nothing is reported); ``on_event`` hears every event, a panel's
    :class:`PanelRendered` after its take is stored.
    """

    def __init__(self, store: StoreTake, on_event: EventSink) -> None:
        self.takes: list[TakeRecord] = []
        self._store = store
        self._on_event = on_event
        self._pending: deque[tuple[int, TakeParams, Future[bytes]]] = deque()
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-encoder")

    def __enter__(self) -> TakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for *_, future in self._pending:
            future.cancel()
        self._encoder.shutdown(wait=True, cancel_futures=True)

    def picture(self, scene_id: int, image: Image.Image, params: TakeParams) -> None:
        """A finished panel: its encode starts on the encoder thread, it is stored later."""
        self._pending.append((scene_id, params, self._encoder.submit(png_bytes, image)))

    def event(self, event: RenderEvent) -> None:
        """A render event: the takes whose encodes are done are stored first."""
        self.flush(wait=False)
        self._deliver(event)

    def flush(self, *, wait: bool = True) -> None:
        """Store the encoded panels in order; ``wait``: all of them, waiting for each.

        An encode's error is raised here, as it was when encoding ran inline.
        """
        while self._pending and (wait or self._pending[0][2].done()):
            scene_id, params, future = self._pending.popleft()
            self._deliver(PanelRendered(scene_id, future.result(), params))

    def _deliver(self, event: RenderEvent) -> None:
        if isinstance(event, PanelRendered):
            take = self._store(event)
            if take is None:
                return  # the panel was deleted meanwhile: its picture is dropped
            self.takes.append(take)
        self._on_event(event)
