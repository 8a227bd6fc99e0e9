"""Storyboard editor: consistent characters across panels, transitions and animatics."""

__version__ = "0.1.0"
