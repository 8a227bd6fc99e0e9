"""What a finished export reports back: where it wrote, and how much."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ExportResult:
    """``count`` ``unit`` written to ``path``; ``extra`` lists companion files (e.g. stills)."""

    path: Path
    count: int
    unit: str
    extra: tuple[Path, ...] = field(default=())

    def describe(self) -> str:
        text = f"Wrote {self.path} ({self.count} {self.unit})"
        if self.extra:
            text += " with " + ", ".join(str(p) for p in self.extra)
        return text + "."
