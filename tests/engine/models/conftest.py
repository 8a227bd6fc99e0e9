"""A fake hub serving a tiny SD 1.5 pipeline under the catalogue's real ``sd15`` repository."""

from hub_fixtures import fake_hub, tiny_sd15_repo

__all__ = ["fake_hub", "tiny_sd15_repo"]
