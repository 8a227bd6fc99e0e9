"""TimelineView: the story as one compact track of clips beneath the storyboard.

The view draws the :class:`TimelineModel` it is given (shared with the
preview player, so one change lays the story out once), and redraws when the
model says it changed: panels sit cut to cut, each showing its picture, number
and duration; a transition is drawn over the cut it overlaps, labelled with its
kind, and one that plays as a cut (failed, stale, not made yet) is a hatched
mark on the cut. Dragging a panel's right edge only moves the drawing until the
mouse is released (the clip is drawn above its neighbour, with the duration it
would get); the new duration then goes through the panel edit command, so it is
one undo step. While the playhead moves the view scrolls to keep it in sight.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from storyboard_app.project.timeline import PanelClip, Timeline, TransitionClip
from storyboard_app.ui.commands.timeline import TimelineEditCommand
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_items import (
    AS_CUT_LOOKS,
    ClipThumbnails,
    PanelClipItem,
    TransitionItem,
    format_seconds,
)
from storyboard_app.ui.timeline_model import TimelineModel

__all__ = ["AS_CUT_LOOKS", "PanelClipItem", "TimelineView", "TransitionItem", "format_seconds"]

RULER_HEIGHT = 16.0
TRACK_TOP = RULER_HEIGHT + 2.0
TRACK_HEIGHT = 52.0
TRANSITION_HEIGHT = 16.0
SCENE_HEIGHT = TRACK_TOP + TRACK_HEIGHT + 2.0
EDGE_GRAB_PX = 6.0
AS_CUT_MARK_WIDTH = 10.0
QUARTER_SECOND = 0.25
QUARTER_SNAP_PX = 6.0
MIN_DURATION = 0.04
DEFAULT_ZOOM = 80.0
RULER_STRETCH_S = 120.0  # the ruler is drawn this many seconds at a time
MIN_ZOOM, MAX_ZOOM = 10.0, 800.0
ZOOM_STEP = 1.25
CLIP_Z, TRANSITION_Z, AS_CUT_Z, DRAGGED_Z, PLAYHEAD_Z = 0.0, 3.0, 5.0, 7.0, 10.0
FOLLOW_LEAD = 0.1  # where a followed playhead lands, as a fraction of the visible width


def snap_duration(seconds: float, frame_rate: int, pixels_per_second: float) -> float:
    """A dragged duration snapped to the nearest quarter second when the edge is a few
    pixels from one, otherwise to a whole frame, because the player only shows frames."""
    quarter = round(seconds / QUARTER_SECOND) * QUARTER_SECOND
    if quarter >= MIN_DURATION and abs(quarter - seconds) * pixels_per_second <= QUARTER_SNAP_PX:
        return quarter
    frames = max(1, round(seconds * frame_rate))
    return max(MIN_DURATION, frames / frame_rate)


class TimelineView(QGraphicsView):
    """The track: ruler, clips, transitions and playhead, zoomable in pixels per second."""

    frameRequested = Signal(int)  # a click on the ruler: the player should seek there
    zoomChanged = Signal(float)
    clipActivated = Signal(int)  # a panel clip double-clicked: edit its camera move
    clipsSelected = Signal(list)  # scene ids the artist selected here (never echoes)

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        *,
        model: TimelineModel | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model or TimelineModel(session, self)
        self.thumbnails = ClipThumbnails(thumbnails, int(TRACK_HEIGHT) - 2, self)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumHeight(int(SCENE_HEIGHT))
        self._pps = DEFAULT_ZOOM
        self._frame = 0
        self._resizing: PanelClipItem | None = None
        self._items: dict[int, PanelClipItem] = {}
        self._by_media: dict[str, list[PanelClipItem]] = {}
        self._ends: list[int] = []
        self._wanted: list[int] = []
        self._quiet = False
        self.timeline = Timeline(24, ())
        self._drawn: tuple[object, ...] | None = None
        self._ruler: QGraphicsRectItem | None = None
        self._ruler_key: tuple[float, int] | None = None
        self._ruler_width = 0.0
        self.playhead = QGraphicsLineItem()
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.redraw)
        self.model.changed.connect(self._on_model_changed)
        self.thumbnails.ready.connect(self._on_thumbnail_ready)
        self.scene().selectionChanged.connect(self._on_selection_changed)
        self.redraw()

    @property
    def pixels_per_second(self) -> float:
        return self._pps

    def set_zoom(self, pixels_per_second: float) -> None:
        self._pps = min(max(pixels_per_second, MIN_ZOOM), MAX_ZOOM)
        self.redraw()
        self.zoomChanged.emit(self._pps)

    def zoom_in(self) -> None:
        self.set_zoom(self._pps * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._pps / ZOOM_STEP)

    def refresh(self) -> None:
        """Read the story from the store again (it changed without a signal) and redraw now."""
        self.model.reload()
        self.redraw()
        self._refresh_soon.stop()

    def redraw(self) -> None:
        """Show the model's timeline; when no clip moved (a new picture, a caption), only the
        changed clips are updated, so one panel's change does not redraw a long story."""
        timeline = self.model.timeline()
        if self._resizing is None and self._drawn == self._shape(timeline):
            self._update_clips(timeline)
            return
        self._draw_all(timeline)

    def _shape(self, timeline: Timeline) -> tuple[object, ...]:
        """What the drawing depends on besides what each clip shows."""
        panels = tuple(
            (c.scene_id, c.number, c.start_frame, c.frame_count) for c in timeline.panels
        )
        return (self._pps, timeline.frame_rate, panels, timeline.transitions, timeline.as_cuts)

    def _update_clips(self, timeline: Timeline) -> None:
        for clip in timeline.panels:
            item = self._items[clip.scene_id]
            if clip is not item.clip and clip != item.clip:  # kept clips are the same
                self._unindex(item)
                item.show_clip(clip)
                self._index(item)
        self.timeline = timeline

    def _draw_all(self, timeline: Timeline) -> None:
        """Rebuild every item: clips moved, or the zoom changed."""
        self.timeline = timeline
        self._drawn = self._shape(timeline)
        with self._quietly():
            if self._ruler is not None and self._ruler.scene() is self.scene():
                self.scene().removeItem(self._ruler)  # kept for the next drawing
            self.scene().clear()
            self._items.clear()
            self._by_media.clear()
            self._ends = [clip.end_frame for clip in timeline.panels]
            self._resizing = None
            width = max(self.x_of_frame(timeline.total_frames), 1.0) + 40
            self.scene().setSceneRect(0, 0, width, SCENE_HEIGHT)
            self._draw_ruler(width)
            for clip in timeline.panels:
                self._add_clip(clip)
            for transition in timeline.transitions:
                self._add_transition(transition)
            for transition in timeline.as_cuts:
                self._add_as_cut_mark(transition)
            pen = QPen(QColor("#e74c3c"), 2)
            self.playhead = self.scene().addLine(0, 0, 0, TRACK_TOP + TRACK_HEIGHT, pen)
            self.playhead.setZValue(PLAYHEAD_Z)
            self._apply_selection(self._wanted)
        self.set_frame(self._frame, follow=False)

    def x_of_frame(self, frame: int) -> float:
        return frame / self.timeline.frame_rate * self._pps

    def frame_at_x(self, x: float) -> int:
        return max(0, round(x / self._pps * self.timeline.frame_rate))

    def set_frame(self, frame: int, *, follow: bool = True) -> None:
        """Move the playhead (the player calls this as it plays) and keep it in sight."""
        self._frame = frame
        x = self.x_of_frame(frame)
        self.playhead.setX(x)
        if follow:
            self.follow(x)

    def follow(self, x: float) -> None:
        """Scroll a page on when ``x`` left the visible part, as editors follow a playhead."""
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if visible.left() <= x <= visible.right() - EDGE_GRAB_PX:
            return
        self.horizontalScrollBar().setValue(round(x - visible.width() * FOLLOW_LEAD))

    def show_clip(self, scene_id: int) -> None:
        """Scroll to a panel's clip unless some of it is in sight."""
        item = self._items.get(scene_id)
        if item is None:
            return
        left, right = self.visible_span()
        rect = item.rect()
        if rect.right() < left or rect.left() > right:
            self.follow(rect.left())

    def visible_span(self) -> tuple[float, float]:
        """The scene x range the viewport shows now."""
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        return visible.left(), visible.right()

    def panel_items(self) -> list[PanelClipItem]:
        return sorted(self._items.values(), key=lambda item: item.clip.start_frame)

    def transition_items(self) -> list[TransitionItem]:
        return [i for i in self.scene().items() if isinstance(i, TransitionItem)]

    def panel_item(self, scene_id: int) -> PanelClipItem:
        return self._items[scene_id]

    def selected_scene_ids(self) -> list[int]:
        return [item.clip.scene_id for item in self.panel_items() if item.isSelected()]

    def select_scenes(self, scene_ids: Sequence[int]) -> None:
        """Show ``scene_ids`` selected (the storyboard's selection); says nothing back."""
        self._wanted = list(scene_ids)
        with self._quietly():
            self._apply_selection(self._wanted)

    def set_duration(self, scene_id: int, seconds: float) -> bool:
        """Commit a panel duration as one undoable edit."""
        if abs(self.session.store.scenes.get(scene_id).duration - seconds) < 1e-9:
            return False
        return self.session.execute(TimelineEditCommand(self.session, scene_id, duration=seconds))

    def changeEvent(self, event: QEvent) -> None:
        """A new theme: the ruler is drawn again in its colours."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._drawn = None
            self._refresh_soon.start()
        super().changeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_in() if event.angleDelta().y() > 0 else self.zoom_out()
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton:
            if point.y() < RULER_HEIGHT:
                self.frameRequested.emit(self.frame_at_x(point.x()))
                return
            self._resizing = self._edge_at(point)
            if self._resizing is not None:
                self._resizing.setZValue(DRAGGED_Z)
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        while item is not None and not isinstance(item, PanelClipItem):
            item = item.parentItem()
        if isinstance(item, PanelClipItem):
            self.clipActivated.emit(item.clip.scene_id)
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = self.mapToScene(event.position().toPoint())
        if self._resizing is not None:
            seconds = self._snapped_seconds(self._resizing, point.x())
            self._resizing.set_right(self._resizing.rect().left() + seconds * self._pps, seconds)
            return
        edge = self._edge_at(point)
        self.viewport().setCursor(
            Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.ArrowCursor
        )
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        item = self._resizing
        if item is None:
            super().mouseReleaseEvent(event)
            return
        self._resizing = None
        self._drawn = None  # the dragged clip no longer shows the drawn timeline
        point = self.mapToScene(event.position().toPoint())
        seconds = self._snapped_seconds(item, point.x())
        if not self.set_duration(item.clip.scene_id, seconds):
            self._refresh_soon.start()

    def _on_model_changed(self) -> None:
        """Rebuilt on the next turn of the event loop, never inside a mouse or selection
        handler that still holds one of the items a rebuild deletes; bursts coalesce."""
        self._refresh_soon.start()

    def _on_selection_changed(self) -> None:
        """A click chose clips: say so (an empty selection keeps the storyboard's)."""
        if self._quiet:
            return
        selected = self.selected_scene_ids()
        if selected:
            self._wanted = selected
            self.clipsSelected.emit(selected)

    def _on_thumbnail_ready(self, media: str) -> None:
        for item in self._by_media.get(media, ()):
            item.update()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def _apply_selection(self, scene_ids: Sequence[int]) -> None:
        wanted = set(scene_ids)
        for scene_id, item in self._items.items():
            if item.isSelected() != (scene_id in wanted):
                item.setSelected(scene_id in wanted)

    def _index(self, item: PanelClipItem) -> None:
        if item.clip.media is not None:
            self._by_media.setdefault(item.clip.media, []).append(item)

    def _unindex(self, item: PanelClipItem) -> None:
        media = item.clip.media
        if media is not None and item in self._by_media.get(media, ()):
            self._by_media[media].remove(item)

    def _edge_at(self, point: QPointF) -> PanelClipItem | None:
        if not TRACK_TOP <= point.y() <= TRACK_TOP + TRACK_HEIGHT:
            return None
        frame = self.frame_at_x(point.x())
        for item in self._items_near(frame):
            if item.near_right_edge(point.x(), EDGE_GRAB_PX):
                return item
        return None

    def _items_near(self, frame: int) -> list[PanelClipItem]:
        """The clips whose right edge is within a few pixels of ``frame``."""
        slack = self.frame_at_x(EDGE_GRAB_PX) + 1
        clips = self.timeline.panels
        first = bisect_left(self._ends, frame - slack)
        near = []
        for clip in clips[first:]:
            if clip.end_frame > frame + slack:
                break
            near.append(self._items[clip.scene_id])
        return near

    def _snapped_seconds(self, item: PanelClipItem, x: float) -> float:
        raw = (x - item.rect().left()) / self._pps
        return snap_duration(raw, self.timeline.frame_rate, self._pps)

    def _clip_rect(self, start_frame: int, frame_count: int) -> QRectF:
        left = self.x_of_frame(start_frame)
        return QRectF(left, TRACK_TOP, self.x_of_frame(frame_count), TRACK_HEIGHT)

    def _add_clip(self, clip: PanelClip) -> None:
        rect = self._clip_rect(clip.start_frame, clip.frame_count)
        item = PanelClipItem(clip, rect, self.timeline.frame_rate, self.thumbnails)
        item.setZValue(CLIP_Z)
        self.scene().addItem(item)
        self._items[clip.scene_id] = item
        self._index(item)

    def _add_transition(self, clip: TransitionClip) -> None:
        """A playing transition overlaps the cut: drawn over the ends of both panels."""
        rect = self._clip_rect(clip.start_frame, clip.frame_count)
        rect.setTop(rect.bottom() - TRANSITION_HEIGHT)
        item = TransitionItem(clip, rect)
        item.setZValue(TRANSITION_Z)
        self.scene().addItem(item)

    def _add_as_cut_mark(self, clip: TransitionClip) -> None:
        """A transition that plays as a cut takes no time: a mark on the cut."""
        x = self.x_of_frame(clip.cut_frame)
        rect = QRectF(x - AS_CUT_MARK_WIDTH / 2, TRACK_TOP, AS_CUT_MARK_WIDTH, TRACK_HEIGHT)
        item = TransitionItem(clip, rect, as_cut=True)
        item.setZValue(AS_CUT_Z)
        self.scene().addItem(item)

    def _draw_ruler(self, width: float) -> None:
        """The ruler over ``width`` pixels: kept from the last drawing when it is long
        enough (panels added or removed change the length, not the ticks), shown up
        to ``width`` only.

        Its ticks and labels are drawn in stretches of ``RULER_STRETCH_S`` seconds, so
        at a thousand panels adding one does not lay out two thousand labels again.
        """
        ink = self.palette().color(QPalette.ColorRole.Text)  # light on the dark theme
        key = (self._pps, ink.rgba())
        ruler = self._ruler
        if ruler is None or self._ruler_key != key or self._ruler_width < width:
            stretch = RULER_STRETCH_S * self._pps
            drawn = (int(width // stretch) + 1) * stretch
            ruler = self._ruler = self._make_ruler(drawn, ink)
            self._ruler_key, self._ruler_width = key, drawn
        ruler.setRect(0, 0, width, RULER_HEIGHT)
        self.scene().addItem(ruler)

    def _make_ruler(self, width: float, ink: QColor) -> QGraphicsRectItem:
        """Ticks every second (labelled) and every quarter second when zoomed in enough,
        inside one item that shows only its own rectangle.

        The ticks are one path, not an item each: a long story has thousands.
        """
        ruler = QGraphicsRectItem()
        ruler.setPen(QPen(Qt.PenStyle.NoPen))
        ruler.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        step = QUARTER_SECOND if self._pps >= 60 else 1.0
        ticks = int(width / self._pps / step) + 1
        path = QPainterPath()
        font = self.scene().font()
        font.setPixelSize(9)
        for index in range(ticks):
            seconds = index * step
            x = seconds * self._pps
            whole = abs(seconds - round(seconds)) < 1e-9
            path.moveTo(x, RULER_HEIGHT - (7 if whole else 3))
            path.lineTo(x, RULER_HEIGHT)
            if whole and (round(seconds) % max(1, round(40 / self._pps)) == 0):
                label = QGraphicsSimpleTextItem(f"{round(seconds)}s", ruler)
                label.setFont(font)
                label.setBrush(ink)
                label.setPos(x + 2, 0)
        QGraphicsPathItem(path, ruler).setPen(QPen(QColor("#888888")))
        return ruler
