"""Panels that go away while they render: another program may delete them meanwhile.

The command line (or another window) can delete a panel that a render, here or
in another process, was asked for or is working on. That is not a bug: the
render keeps the panels that are left, drops the picture of the deleted one
(there is nothing to attach it to) and says so once, in words, at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.records import SceneRecord

T = TypeVar("T")


class DeletedPanels:
    """Stores a render's takes; a panel deleted meanwhile is noted instead of failing it."""

    def __init__(self) -> None:
        self.numbers: list[int] = []

    def store(self, number: int, add: Callable[[], T]) -> T | None:
        """``add()`` (store panel ``number``'s take); None when the panel was deleted."""
        try:
            return add()
        except NotFoundError:
            self.numbers.append(number)
            return None

    def raise_if_any(self) -> None:
        """After the render: one error naming every panel whose picture was dropped."""
        raise_for_deleted(self.numbers)


def raise_for_deleted(numbers: Sequence[int]) -> None:
    """One error naming the panels whose pictures were dropped (none: nothing to say)."""
    if not numbers:
        return
    listed = ", ".join(str(n) for n in numbers)
    one = len(numbers) == 1
    raise NotFoundError(
        f"Panel{'' if one else 's'} {listed} {'was' if one else 'were'} deleted (by "
        "another program or window) while rendering, so "
        f"{'its picture was' if one else 'their pictures were'} not kept.",
        "The other panels were rendered and kept.",
    )


def check_panels_exist(existing_ids: Iterable[int], wanted_ids: Sequence[int]) -> None:
    """Refuse a render whose panels were deleted after it was asked for (while it waited)."""
    existing = set(existing_ids)
    missing = [scene_id for scene_id in wanted_ids if scene_id not in existing]
    if not missing:
        return
    count = len(missing)
    raise ValidationError(
        f"{count} of the {len(wanted_ids)} panel{'s' if len(wanted_ids) != 1 else ''} to render "
        f"{'was' if count == 1 else 'were'} deleted (by another program or window) before "
        "the render started, so nothing was rendered.",
        "Render the panels that are left.",
    )


def blank_prompt(prompt: str) -> bool:
    """Whether a prompt says nothing to draw (empty, or only the no-characters tag)."""
    return not [token for token in prompt.replace("[NC]", "").split() if token]


def check_prompts(scenes: Iterable[SceneRecord]) -> None:
    """Refuse to render panels whose Action (prompt) is empty: there is nothing to draw,
    and the model would make a random picture that looks like a result."""
    numbers = [scene.number for scene in scenes if blank_prompt(scene.prompt)]
    if not numbers:
        return
    one = len(numbers) == 1
    listed = ", ".join(str(n) for n in numbers)
    raise ValidationError(
        f"Panel{'' if one else 's'} {listed} {'has' if one else 'have'} no Action text yet, "
        "so there is nothing to render.",
        "Describe what the picture shows in the Action field of the panel "
        "(e.g. '[Mara] opens the door'), then render again.",
    )
