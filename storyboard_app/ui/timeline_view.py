"""TimelineView: the story as a track of clips beneath the storyboard.

The view draws the :class:`TimelineModel` it is given (shared with the
preview player, so one change lays the story out once), and redraws when the
model says it changed: panels sit cut to cut, a transition is drawn over the
cut it overlaps, and one that plays as a cut (failed, stale, not made yet) is
a hatched mark on the cut. Dragging a panel's right edge only moves the
drawing until the mouse is released; the new duration then goes through the
panel edit command, so it is one undo step.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from storyboard_app.project.timeline import PanelClip, Timeline, TransitionClip
from storyboard_app.ui.commands.timeline import TimelineEditCommand
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.timeline_model import TimelineModel

RULER_HEIGHT = 20.0
TRACK_TOP = RULER_HEIGHT + 4.0
TRACK_HEIGHT = 56.0
EDGE_GRAB_PX = 6.0
AS_CUT_MARK_WIDTH = 10.0
QUARTER_SECOND = 0.25
QUARTER_SNAP_PX = 6.0
MIN_DURATION = 0.04
DEFAULT_ZOOM = 80.0
MIN_ZOOM, MAX_ZOOM = 10.0, 800.0
ZOOM_STEP = 1.25


def snap_duration(seconds: float, frame_rate: int, pixels_per_second: float) -> float:
    """A dragged duration snapped to the nearest quarter second when the edge is a few
    pixels from one, otherwise to a whole frame, because the player only shows frames."""
    quarter = round(seconds / QUARTER_SECOND) * QUARTER_SECOND
    if quarter >= MIN_DURATION and abs(quarter - seconds) * pixels_per_second <= QUARTER_SNAP_PX:
        return quarter
    frames = max(1, round(seconds * frame_rate))
    return max(MIN_DURATION, frames / frame_rate)


class PanelClipItem(QGraphicsRectItem):
    """A panel held for its duration; its right edge is the handle that changes it."""

    def __init__(self, clip: PanelClip, rect: QRectF) -> None:
        super().__init__(rect)
        self.clip = clip
        self.setBrush(QBrush(QColor("#4a6fa5")))
        self.setPen(QPen(QColor("#1f2f46")))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.show_clip(clip)
        label = QGraphicsSimpleTextItem(f"{clip.number}", self)
        label.setBrush(QBrush(Qt.GlobalColor.white))
        label.setPos(rect.left() + 4, rect.top() + 4)

    def show_clip(self, clip: PanelClip) -> None:
        """Show a new state of the same panel at the same place (its caption, its picture)."""
        self.clip = clip
        self.setToolTip(clip.caption or f"Panel {clip.number}")

    def near_right_edge(self, scene_x: float) -> bool:
        return abs(scene_x - self.rect().right()) <= EDGE_GRAB_PX

    def set_right(self, x: float) -> None:
        rect = self.rect()
        rect.setRight(max(rect.left() + 1, x))
        self.setRect(rect)


# How a transition that plays as a cut is drawn, by status: colour and what the tooltip says.
AS_CUT_LOOKS = {
    "failed": ("#c0392b", "failed: plays as a cut until you make it again"),
    "stale": ("#e67e22", "stale: a panel's picture changed; plays as a cut until remade"),
    "pending": ("#7f8c8d", "not made yet: plays as a cut"),
}


class TransitionItem(QGraphicsRectItem):
    """A transition between two panels: a block over the cut it overlaps, or, when it plays
    as a cut (failed, stale, not made yet), a narrow hatched mark on the cut, so the artist
    sees that it needs making while the time shown is the time that plays."""

    def __init__(self, clip: TransitionClip, rect: QRectF, *, as_cut: bool = False) -> None:
        super().__init__(rect)
        self.clip = clip
        self.transition_id = clip.transition_id
        self.kind = clip.kind
        self.as_cut = as_cut
        self.status = clip.status if as_cut else "ready"
        self.stale = as_cut and clip.status == "stale"
        if as_cut:
            colour, note = AS_CUT_LOOKS.get(clip.status, AS_CUT_LOOKS["pending"])
            brush = QBrush(QColor(colour), Qt.BrushStyle.DiagCrossPattern)
            self.setToolTip(f"{clip.kind} ({note})")
        else:
            colour = "#d4a017"
            brush = QBrush(QColor(212, 160, 23, 170))
            self.setToolTip(f"{clip.kind}, {clip.frame_count} frames over the cut")
            label = QGraphicsSimpleTextItem(clip.kind, self)
            label.setPos(rect.left() + 2, rect.bottom() - 16)
        self.setBrush(brush)
        self.setPen(QPen(QColor(colour).darker(), 2 if as_cut else 1))


class TimelineView(QGraphicsView):
    """The track: ruler, clips, transitions and playhead, zoomable in pixels per second."""

    frameRequested = Signal(int)  # a click on the ruler: the player should seek there
    zoomChanged = Signal(float)
    clipActivated = Signal(int)  # a panel clip double-clicked: edit its camera move

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        *,
        model: TimelineModel | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model or TimelineModel(session, self)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setMinimumHeight(int(TRACK_TOP + TRACK_HEIGHT + 24))
        self._pps = DEFAULT_ZOOM
        self._frame = 0
        self._resizing: PanelClipItem | None = None
        self.timeline = Timeline(24, ())
        self._drawn: tuple[object, ...] | None = None
        self.playhead = QGraphicsLineItem()
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.redraw)
        self.model.changed.connect(self._on_model_changed)
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
        self.model.invalidate()
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
        """What the drawing depends on besides each panel's tooltip."""
        panels = tuple(
            (c.scene_id, c.number, c.start_frame, c.frame_count) for c in timeline.panels
        )
        return (self._pps, timeline.frame_rate, panels, timeline.transitions, timeline.as_cuts)

    def _update_clips(self, timeline: Timeline) -> None:
        clips = {clip.scene_id: clip for clip in timeline.panels}
        for item in self.panel_items():
            clip = clips[item.clip.scene_id]
            if clip != item.clip:
                item.show_clip(clip)
        self.timeline = timeline

    def _draw_all(self, timeline: Timeline) -> None:
        """Rebuild every item: clips moved, or the zoom changed."""
        self.timeline = timeline
        self._drawn = self._shape(timeline)
        scene = self.scene()
        scene.clear()
        self._resizing = None
        width = max(self.x_of_frame(self.timeline.total_frames), 1.0) + 40
        scene.setSceneRect(0, 0, width, TRACK_TOP + TRACK_HEIGHT + 8)
        self._draw_ruler(width)
        for clip in self.timeline.panels:
            self.scene().addItem(
                PanelClipItem(clip, self._clip_rect(clip.start_frame, clip.frame_count))
            )
        for transition in self.timeline.transitions:
            self._add_transition(transition)
        for transition in self.timeline.as_cuts:
            self._add_as_cut_mark(transition)
        self.playhead = scene.addLine(0, 0, 0, TRACK_TOP + TRACK_HEIGHT, QPen(QColor("#e74c3c"), 2))
        self.playhead.setZValue(10)
        self.set_frame(self._frame)

    def x_of_frame(self, frame: int) -> float:
        return frame / self.timeline.frame_rate * self._pps

    def frame_at_x(self, x: float) -> int:
        return max(0, round(x / self._pps * self.timeline.frame_rate))

    def set_frame(self, frame: int) -> None:
        """Move the playhead; the player calls this as it plays."""
        self._frame = frame
        self.playhead.setX(self.x_of_frame(frame))

    def panel_items(self) -> list[PanelClipItem]:
        items = [i for i in self.scene().items() if isinstance(i, PanelClipItem)]
        return sorted(items, key=lambda item: item.clip.start_frame)

    def transition_items(self) -> list[TransitionItem]:
        return [i for i in self.scene().items() if isinstance(i, TransitionItem)]

    def panel_item(self, scene_id: int) -> PanelClipItem:
        return next(item for item in self.panel_items() if item.clip.scene_id == scene_id)

    def selected_scene_ids(self) -> list[int]:
        return [item.clip.scene_id for item in self.panel_items() if item.isSelected()]

    def set_duration(self, scene_id: int, seconds: float) -> bool:
        """Commit a panel duration as one undoable edit."""
        if abs(self.session.store.scenes.get(scene_id).duration - seconds) < 1e-9:
            return False
        return self.session.execute(TimelineEditCommand(self.session, scene_id, duration=seconds))

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
            self._resizing.set_right(self._snapped_right(self._resizing, point.x()))
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

    def _edge_at(self, point: QPointF) -> PanelClipItem | None:
        for item in self.panel_items():
            top, bottom = item.rect().top(), item.rect().bottom()
            if top <= point.y() <= bottom and item.near_right_edge(point.x()):
                return item
        return None

    def _snapped_seconds(self, item: PanelClipItem, x: float) -> float:
        raw = (x - item.rect().left()) / self._pps
        return snap_duration(raw, self.timeline.frame_rate, self._pps)

    def _snapped_right(self, item: PanelClipItem, x: float) -> float:
        return item.rect().left() + self._snapped_seconds(item, x) * self._pps

    def _clip_rect(self, start_frame: int, frame_count: int) -> QRectF:
        left = self.x_of_frame(start_frame)
        return QRectF(left, TRACK_TOP, self.x_of_frame(frame_count), TRACK_HEIGHT)

    def _add_transition(self, clip: TransitionClip) -> None:
        """A playing transition overlaps the cut: drawn over the ends of both panels."""
        rect = self._clip_rect(clip.start_frame, clip.frame_count)
        rect.adjust(0, TRACK_HEIGHT / 2, 0, 0)
        item = TransitionItem(clip, rect)
        item.setZValue(3)
        self.scene().addItem(item)

    def _add_as_cut_mark(self, clip: TransitionClip) -> None:
        """A transition that plays as a cut takes no time: a mark on the cut."""
        x = self.x_of_frame(clip.cut_frame)
        rect = QRectF(x - AS_CUT_MARK_WIDTH / 2, TRACK_TOP, AS_CUT_MARK_WIDTH, TRACK_HEIGHT)
        item = TransitionItem(clip, rect, as_cut=True)
        item.setZValue(5)
        self.scene().addItem(item)

    def _draw_ruler(self, width: float) -> None:
        """Ticks every second (labelled) and every quarter second when zoomed in enough.

        The ticks are one path, not an item each: a long story has thousands.
        """
        scene = self.scene()
        step = QUARTER_SECOND if self._pps >= 60 else 1.0
        ticks = int(width / self._pps / step) + 1
        path = QPainterPath()
        for index in range(ticks):
            seconds = index * step
            x = seconds * self._pps
            whole = abs(seconds - round(seconds)) < 1e-9
            path.moveTo(x, RULER_HEIGHT - (10 if whole else 4))
            path.lineTo(x, RULER_HEIGHT)
            if whole and (round(seconds) % max(1, round(40 / self._pps)) == 0):
                label = scene.addSimpleText(f"{round(seconds)}s")
                label.setPos(x + 2, 0)
        scene.addPath(path, QPen(QColor("#888888")))
