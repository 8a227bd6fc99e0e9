"""Questions asked before work in progress is dropped: a render running when the window
closes, or when another project replaces this one.

The answer is never assumed: a render that took minutes is only cancelled when
the artist says so. Each button has an object name, so tests (and accessibility
tools) find it by what it does.
"""

from __future__ import annotations

import enum

from PySide6.QtWidgets import QMessageBox, QWidget


class RenderChoice(enum.StrEnum):
    """What to do with this project's running render; the values name the buttons."""

    CANCEL = "cancelRenderButton"
    WAIT = "waitForRenderButton"
    BACKGROUND = "keepRenderingButton"
    KEEP_PICKED = "keepPickedTakesButton"
    REPLACE_PICKED = "replacePickedTakesButton"


def ask_before_rerendering(parent: QWidget, panels: int, picked: int) -> RenderChoice | None:
    """Re-render Every Panel adds a take to every panel; a take the artist picked by hand
    stays active unless they say otherwise here. None: do not re-render."""
    plural = "s" if panels != 1 else ""
    keep = (RenderChoice.KEEP_PICKED, "Re-render, Keep My Picks")
    if not picked:
        return _ask(
            parent,
            "Re-render every panel",
            f"Render all {panels} panel{plural} again?",
            "Each panel gets a new take that becomes its picture; the old takes are kept.",
            [(RenderChoice.KEEP_PICKED, f"Re-render {panels} Panel{plural}")],
            "Don't Re-render",
        )
    return _ask(
        parent,
        "Re-render every panel",
        f"Render all {panels} panel{plural} again?",
        f"You picked the take of {picked} panel{'s' if picked != 1 else ''} by hand. "
        "Keep those picks (their new takes are added beside them), or let the new "
        "takes replace them too. No take is deleted either way.",
        [keep, (RenderChoice.REPLACE_PICKED, "Re-render and Replace My Picks")],
        "Don't Re-render",
    )


def ask_before_closing(parent: QWidget, running: str) -> bool:
    """Closing the window ends the engine, so the render cannot go on: cancel it or stay."""
    choice = _ask(
        parent,
        "Render running",
        f"{running} is still running in this project.",
        "Closing the window cancels it; the panels already finished are kept. "
        "Keep the window open to let it finish.",
        [(RenderChoice.CANCEL, "Cancel Render and Close")],
        "Keep Window Open",
    )
    return choice is RenderChoice.CANCEL


def ask_before_replacing(parent: QWidget, running: str, action: str) -> RenderChoice | None:
    """Before ``action`` ("open lighthouse.storyboard") replaces the project mid-render;
    None: do not do it."""
    return _ask(
        parent,
        "Render running",
        f"{running} is still running in this project.",
        f"Cancel it and {action} now, wait for it to finish and then {action}, or keep it "
        f"rendering in the background (its panels are saved to this project) and {action} now.",
        [
            (RenderChoice.CANCEL, "Cancel Render"),
            (RenderChoice.WAIT, "Wait for It"),
            (RenderChoice.BACKGROUND, "Keep Rendering in Background"),
        ],
        "Don't " + action.split(" ", 1)[0].capitalize(),
    )


def _ask(
    parent: QWidget,
    title: str,
    text: str,
    details: str,
    choices: list[tuple[RenderChoice, str]],
    stay: str,
) -> RenderChoice | None:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(details)
    buttons = {}
    for choice, label in choices:
        button = box.addButton(label, QMessageBox.ButtonRole.AcceptRole)
        button.setObjectName(choice.value)
        buttons[button] = choice
    stay_button = box.addButton(stay, QMessageBox.ButtonRole.RejectRole)
    stay_button.setObjectName("stayButton")
    box.setDefaultButton(stay_button)
    box.setEscapeButton(stay_button)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    return buttons.get(clicked)
