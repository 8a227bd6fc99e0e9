"""What a finished export reports back: where it wrote, and how much."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from storyboard_app.project.grammar import plural


@dataclass(frozen=True)
class ExportResult:
    """``count`` ``unit`` written to ``path``; ``extra`` lists companion files (e.g. stills)."""

    path: Path
    count: int
    unit: str
    extra: tuple[Path, ...] = field(default=())

    def describe(self) -> str:
        text = f"Wrote {self.path} ({plural(self.count, self.unit.removesuffix('s'), self.unit)})"
        if self.extra:
            text += " with " + ", ".join(str(p) for p in self.extra)
        return text + "."
