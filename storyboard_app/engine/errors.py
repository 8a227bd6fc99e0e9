"""User-facing errors of the engine.

Like the project layer's errors, each carries a message that names the problem
and a hint that names the fix, so the CLI and the app can show it without a
traceback. Engine code raises these before any GPU work where it can.
"""

from __future__ import annotations

from storyboard_app.project.errors import StoryboardError


class EngineError(StoryboardError):
    """Base of the errors raised by the rendering engine."""


class ModelLoadError(EngineError):
    """A model source that cannot be turned into a pipeline."""


class ModelNotFoundError(ModelLoadError):
    """A path that does not exist, or a hub id that is not in the local cache."""


class NotAPipelineError(ModelLoadError):
    """A folder or file that exists but holds no text-to-image pipeline."""


class UnsafeCheckpointError(ModelLoadError):
    """A pickle checkpoint (.ckpt, .pt, .pth, .bin), refused because unpickling runs code."""


class CorruptCheckpointError(ModelLoadError):
    """A .safetensors file that cannot be read (truncated, renamed, damaged)."""


class UnsupportedModelError(ModelLoadError):
    """A valid model of a kind the engine does not render (SD 2, refiner, inpainting...)."""


class UnknownSchedulerError(EngineError):
    """A scheduler name that is not one of the supported ones."""


class DeviceError(EngineError):
    """A device or dtype that was asked for but is not available here."""


class OutOfMemoryError(EngineError):
    """The GPU ran out of memory during loading or rendering."""


class ModelDownloadError(EngineError):
    """A catalogue download that failed: no network, a gated licence, a missing file."""


class GatedModelError(ModelDownloadError):
    """A download refused until the model's licence is accepted on its page (and a token given)."""


class DownloadCancelledError(EngineError):
    """A download stopped by the user; what was fetched stays in the cache to resume from."""
