"""``storyboard eval consistory`` end to end on two sets, with tiny random CLIP and DINOv2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from transformers import (
    BitImageProcessor,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPTokenizer,
    Dinov2Config,
    Dinov2Model,
)

from storyboard_app.cli import main
from storyboard_app.engine.evaluation.consistory import PUBLISHED_CLIP_T, load_sets
from storyboard_app.engine.toyworld.tokenizer import write_tokenizer

TINY = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2}


def tiny_clip(folder: Path) -> Path:
    write_tokenizer(folder)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            **TINY,
            "vocab_size": len(tokenizer),
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**TINY, "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(str(folder))
    return folder


def tiny_dino(folder: Path) -> Path:
    torch.manual_seed(1)
    config = Dinov2Config(**TINY, num_attention_heads=4, image_size=32, patch_size=8)
    Dinov2Model(config).save_pretrained(str(folder))
    BitImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(str(folder))
    return folder


@pytest.fixture
def metric_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("STORYBOARD_CACHE_DIR", str(tmp_path / "cache"))
    return tiny_clip(tmp_path / "clip"), tiny_dino(tmp_path / "dino")


def table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_two_sets_give_a_table_per_domain_beside_the_published_figures(
    metric_models: tuple[Path, Path], tmp_path: Path
) -> None:
    clip, dino = metric_models
    out = tmp_path / "report.md"
    argv = [
        "eval",
        "consistory",
        "--model",
        "tiny-sd15",
        "--clip",
        str(clip),
        "--dino",
        str(dino),
        "--sets",
        "2",
        "--steps",
        "2",
        "--size",
        "64",
        "--device",
        "cpu",
        "--out",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    text = out.read_text(encoding="utf-8")
    rows = table_rows(text, "| domain | sets | frames | CLIP-T | CLIP-I | DINO |")
    sets = load_sets()[:2]
    assert [r[0] for r in rows] == [sets[0].domain, sets[1].domain, "overall"]
    assert [int(r[1]) for r in rows] == [1, 1, 2]
    assert int(rows[-1][2]) == len(sets[0].settings) + len(sets[1].settings)
    for row in rows:
        clip_t, clip_i, dino_cos = (float(v) for v in row[3:])
        assert 0.0 <= clip_t <= 2.5
        assert -1.0 <= clip_i <= 1.0 and -1.0 <= dino_cos <= 1.0
    methods = table_rows(text, "| method | CLIP-T |")
    assert [m[0] for m in methods[1:]] == [f"{name} (published)" for name in PUBLISHED_CLIP_T]
    assert re.fullmatch(r"\d\.\d{4}", methods[0][1])


def test_a_missing_clip_folder_is_one_clear_error(tmp_path: Path, capsys) -> None:
    argv = ["eval", "consistory", "--model", "tiny-sd15", "--clip", str(tmp_path / "nope")]
    assert main(argv) != 0
    assert "CLIP folder" in capsys.readouterr().err


def test_sets_out_of_range_are_refused(metric_models: tuple[Path, Path], capsys) -> None:
    argv = [
        "eval",
        "consistory",
        "--model",
        "tiny-sd15",
        "--clip",
        str(metric_models[0]),
        "--sets",
        "0",
    ]
    assert main(argv) != 0
    assert "--sets from 1 to 192" in capsys.readouterr().err
