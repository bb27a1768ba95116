"""Small CIFAR-10 networks of the embedded zoo (trainable on a 2-core CPU).

Every model takes images in [0, 1]; per-channel normalisation is its first layer, so
attacks and defenses never see normalised tensors. Larger paper models come from
RobustBench's own architecture code (see ``registry.py``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)


class Normalize(nn.Module):
    """(x - mean) / std per channel, with constants stored as buffers (saved in checkpoints)."""

    def __init__(self, mean: tuple[float, ...] = CIFAR10_MEAN, std: tuple[float, ...] = CIFAR10_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class PlainCNN(nn.Module):
    """A plain VGG-style conv net: three stages of two 3x3 convs, max-pooling, linear head."""

    def __init__(self, width: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            Normalize(),
            conv_bn(3, w), conv_bn(w, w), nn.MaxPool2d(2),
            conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
            conv_bn(2 * w, 4 * w), conv_bn(4 * w, 4 * w), nn.AdaptiveMaxPool2d(1),
            nn.Flatten(), nn.Linear(4 * w, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PreActBlock(nn.Module):
    """Pre-activation residual block (He et al. 2016), as in PreActResNet-18."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + skip


class MiniPreActResNet(nn.Module):
    """A PreActResNet with one block per stage and a configurable width (PreActResNet-18 style)."""

    def __init__(self, width: int = 16, blocks: tuple[int, ...] = (1, 1, 1), num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [Normalize(), nn.Conv2d(3, width, 3, 1, 1, bias=False)]
        c = width
        for stage, n_blocks in enumerate(blocks):
            c_out = width * 2**stage
            for b in range(n_blocks):
                layers.append(PreActBlock(c, c_out, stride=2 if (stage > 0 and b == 0) else 1))
                c = c_out
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class AirNet(nn.Module):
    """A fast, accurate clean classifier in the style of airbench (Jordan 2024): conv-BN-GELU stages with pooling."""

    def __init__(self, widths: tuple[int, int, int] = (64, 128, 128), num_classes: int = 10) -> None:
        super().__init__()
        w0 = 24
        layers: list[nn.Module] = [Normalize(), nn.Conv2d(3, w0, 2, padding=0, bias=True), nn.GELU()]
        c = w0
        for w in widths:
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(w), nn.GELU(),
                nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.GELU(),
            ]
            c = w
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, num_classes, bias=False)]
        self.net = nn.Sequential(*layers)
        self.scale = 1 / 9

    def forward(self, x: Tensor) -> Tensor:
        # Input is 32x32; the 2x2 stem conv without padding gives 31x31, pooled 15, 7, 3.
        return self.net(x) * self.scale


class TinyViT(nn.Module):
    """A small Vision Transformer (Dosovitskiy et al. 2021): 4x4 patches, pre-norm encoder, mean pooling."""

    def __init__(self, dim: int = 96, depth: int = 4, heads: int = 4, patch: int = 4, num_classes: int = 10) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.patchify = nn.Conv2d(3, dim, patch, stride=patch)
        n_tokens = (32 // patch) ** 2
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patchify(self.normalize(x)).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.encoder(tokens)).mean(dim=1))


class MLP(nn.Module):
    """A fully connected ReLU network on the flattened image: the kind of model bound propagation certifies.

    ``layers`` holds only ``nn.Linear`` and ``nn.ReLU`` (what ``bound-propagation`` bounds); flattening
    is outside it, so ``model.layers`` is the function whose output bounds A5 maximises (no input
    normalisation: inputs are [0, 1] pixels, the eps-ball is in pixel units)."""

    def __init__(self, hidden: tuple[int, ...] = (256, 256), num_classes: int = 10, in_features: int = 3 * 32 * 32) -> None:
        super().__init__()
        sizes = (in_features, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x.flatten(1))


class CertifiedCNN(nn.Module):
    """A small strided conv net for certified (IBP) training: two 4x4 stride-2 convolutions, a hidden linear layer
    (the "small" CNN of Wong & Kolter 2018 and Gowal et al. 2018; A5's own CIFAR-10 classifier is a deeper one of the
    same kind, too slow to certify-train on a 2-core CPU).

    ``layers`` holds only Conv2d / ReLU / Flatten / Linear (what :mod:`mspd_core.bounds` bounds) and is the whole
    forward; no input normalisation (inputs are [0, 1] pixels, the eps-box is in pixel units)."""

    input_shape = (3, 32, 32)

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 100, num_classes: int = 10) -> None:
        super().__init__()
        c1, c2 = channels
        self.layers = nn.Sequential(
            nn.Conv2d(3, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * 8 * 8, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


ARCHITECTURES = {
    "mlp": MLP,
    "certified_cnn": CertifiedCNN,
    "plain_cnn": PlainCNN,
    "mini_preact_resnet": MiniPreActResNet,
    "airnet": AirNet,
    "tiny_vit": TinyViT,
}


def build(arch: str, **kwargs) -> nn.Module:
    """Instantiate an embedded architecture by name (clear error for unknown names)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)
