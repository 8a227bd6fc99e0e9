"""Transitions between neighbouring panels: crossfade, flow morph and generated motion."""
