import pytest
import torch

from satclip.training.image_encoders import ImageEncoder, ImageEncoderConfig


@pytest.mark.parametrize(
    "backbone,channels,size",
    [("smallcnn", 3, 28), ("resnet18", 13, 32), ("resnet50", 3, 32), ("vit_small_patch16_224", 3, 32)],
)
def test_backbones_project_to_the_embedding(backbone, channels, size):
    enc = ImageEncoder(
        ImageEncoderConfig(backbone=backbone, in_channels=channels, image_size=size, embed_dim=64)
    )
    out = enc(torch.randn(2, channels, size, size))
    assert out.shape == (2, 64)


def test_frozen_backbone_trains_only_the_projection():
    enc = ImageEncoder(ImageEncoderConfig(backbone="resnet18", freeze_backbone=True, embed_dim=16))
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert trainable == ["projection.weight", "projection.bias"]
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    enc.train()
    enc(torch.randn(4, 3, 32, 32)).sum().backward()
    for k, v in enc.backbone.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed (batch-norm statistics must stay frozen too)"


def test_backbone_weights_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    src = ImageEncoder(ImageEncoderConfig(backbone="resnet18", embed_dim=8))
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in src.backbone.state_dict().items()}, str(path))
    dst = ImageEncoder(ImageEncoderConfig(backbone="resnet18", embed_dim=8, weights=str(path)))
    for k, v in src.backbone.state_dict().items():
        assert torch.equal(dst.backbone.state_dict()[k], v)
    other = tmp_path / "other.safetensors"
    save_file({"nothing.weight": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="no tensor matches the resnet18"):
        ImageEncoder(ImageEncoderConfig(backbone="resnet18", weights=str(other)))


def test_unknown_backbone():
    with pytest.raises(ValueError, match="resnet18"):
        ImageEncoderConfig(backbone="resnet34")
