"""Undo commands: every edit of a project, applied to the store at once and reversible."""
