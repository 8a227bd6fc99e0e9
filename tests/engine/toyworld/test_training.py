"""The toy model's training script, run end to end on a tiny budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from diffusers import UNet2DConditionModel

from storyboard_app.engine.loading import load_text_to_image_pipeline
from storyboard_app.engine.toyworld.model import make_unet
from storyboard_app.engine.toyworld.train import main

TOY_VAE = Path(__file__).parents[3] / "resources" / "models" / "toy" / "vae"


def attention_levels(unet: UNet2DConditionModel) -> list[str]:
    return sorted({name.split(".attentions")[0] for name in unet.attn_processors})


def test_attention_levels_choose_where_the_unet_attends() -> None:
    assert attention_levels(make_unet()) == [
        "down_blocks.1",
        "down_blocks.2",
        "mid_block",
        "up_blocks.0",
        "up_blocks.1",
    ]
    assert "up_blocks.2" in attention_levels(make_unet(3))
    with pytest.raises(ValueError, match="3 levels"):
        make_unet(4)


def test_a_run_from_an_existing_vae_saves_a_loadable_model(tmp_path: Path) -> None:
    out = tmp_path / "toy"
    options = ["--minutes", "0.05", "--pool", "64", "--attention-levels", "3"]
    main(["--out", str(out), *options, "--vae-from", str(TOY_VAE)])
    log = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert log["vae"]["from"] == str(TOY_VAE)
    assert log["attention_levels"] == 3
    assert log["denoiser"]["steps"] >= 1
    loaded = load_text_to_image_pipeline(str(out), device="cpu", dtype="fp32")
    assert "up_blocks.2" in attention_levels(loaded.pipe.unet)
