"""The expression translator's networks: a StarGAN generator with a GANimation attention mask,
and a PatchGAN discriminator.

The generator (Choi et al. 2018) takes a face and the target emotion, given as class weights
tiled into extra input channels, so one network serves all seven emotions and a blend of two
emotions is a valid target. It draws a colour image ``C`` and an attention mask ``m`` in [0, 1]
(Pumarola et al. 2018) and returns ``m * C + (1 - m) * face``: where the mask is 0 the input's
pixels pass through untouched, which is what keeps identity, hair and background. Both nets are
small (a few hundred thousand parameters) so a model trains on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchDiscriminator", "TranslatorOutput", "StarGANGenerator", "condition_maps"]


def condition_maps(weights: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, K) class weights -> (N, K, H, W) constant maps (StarGAN's label channels)."""
    return weights[:, :, None, None].expand(-1, -1, height, width)


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TranslatorOutput(tuple):
    """``(image, colour, mask)``: the edited face and the two maps it was blended from."""

    @property
    def image(self) -> torch.Tensor:
        return self[0]

    @property
    def mask(self) -> torch.Tensor:
        return self[2]


class StarGANGenerator(nn.Module):
    """``(face, target class weights) -> TranslatorOutput``; faces in [-1, 1], ``channels`` deep.

    Two stride-2 convolutions down, ``blocks`` residual blocks at a quarter of the resolution,
    two transposed convolutions up, then two heads: colour (tanh) and attention (sigmoid).
    """

    def __init__(self, num_classes: int = 7, channels: int = 1, width: int = 16, blocks: int = 3):
        super().__init__()
        self.num_classes = num_classes

        def norm_relu(cout: int) -> list[nn.Module]:
            return [nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]

        layers: list[nn.Module] = [nn.Conv2d(channels + num_classes, width, 7, padding=3, bias=False), *norm_relu(width)]
        cin = width
        for _ in range(2):
            layers += [nn.Conv2d(cin, 2 * cin, 4, stride=2, padding=1, bias=False), *norm_relu(2 * cin)]
            cin *= 2
        layers += [_Residual(cin) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(cin, cin // 2, 4, stride=2, padding=1, bias=False), *norm_relu(cin // 2)]
            cin //= 2
        self.body = nn.Sequential(*layers)
        self.colour = nn.Conv2d(cin, channels, 7, padding=3)
        self.attention = nn.Conv2d(cin, 1, 7, padding=3)

    def forward(self, faces: torch.Tensor, weights: torch.Tensor) -> TranslatorOutput:
        h = self.body(torch.cat([faces, condition_maps(weights.to(faces.dtype), *faces.shape[2:])], dim=1))
        colour, mask = torch.tanh(self.colour(h)), torch.sigmoid(self.attention(h))
        return TranslatorOutput((mask * colour + (1 - mask) * faces, colour, mask))


class PatchDiscriminator(nn.Module):
    """Spectrally normalised PatchGAN: one realism score per overlapping patch (hinge loss)."""

    def __init__(self, channels: int = 1, width: int = 32, depth: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for i in range(depth):
            cout = width * 2 ** i
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def total_variation(mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring mask pixels: keeps the attention smooth."""
    return (mask[..., 1:, :] - mask[..., :-1, :]).abs().mean() + (mask[..., :, 1:] - mask[..., :, :-1]).abs().mean()


__all__.append("total_variation")
