"""Seeds derived from the project's base seed, so an imported story renders the same every time."""

from __future__ import annotations

import hashlib

MAX_SEED = 2**31 - 1


def derive_seed(base_seed: int, label: str) -> int:
    """A stable seed in [0, 2**31) for ``label`` (e.g. ``"scene:3"``) under ``base_seed``."""
    digest = hashlib.blake2b(f"{base_seed}:{label}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % MAX_SEED


def check_seed(seed: int, what: str) -> int:
    from storyboard_app.project.errors import ValidationError

    if not 0 <= seed < 2**63:
        raise ValidationError(f"The seed {seed} of {what} is out of range.", "Use a seed >= 0.")
    return seed
