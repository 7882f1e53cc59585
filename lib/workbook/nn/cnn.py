"""A small CNN for the 8x8 digits, and notebook 03's MLP beside it for comparison.

Shapes: N batch, C channels, H = W = 8 pixels. Both models map a batch of digits to
logits (N, 10); the CNN takes images (N, 1, 8, 8), the MLP flat pixels (N, 64), so
``x.flatten(1)`` turns the one input into the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = ["CNNConfig", "DigitsCNN", "digits_mlp"]


@dataclass
class CNNConfig:
    channels: tuple[int, ...] = (16, 32)  # filters of each conv block; each block halves H and W
    kernel_size: int = 3  # 3x3, padded to keep the size ("same" padding)
    batch_norm: bool = True  # BatchNorm2d after each conv: steadier, faster training
    dropout: float = 0.25  # before the classifier
    image_size: int = 8  # the digits are 8x8
    num_classes: int = 10


class DigitsCNN(nn.Module):
    """[conv k x k (same) -> BatchNorm -> ReLU -> max-pool 2x2] per entry of ``channels``,
    then dropout and one linear classifier. x (N, 1, 8, 8) -> logits (N, 10).

    With the default (16, 32) channels: 8x8 -> 4x4 -> 2x2, 32 * 2 * 2 = 128 features,
    about 6k parameters (notebook 03's MLP has 38k).
    """

    def __init__(self, config: CNNConfig | None = None):
        super().__init__()
        self.config = config = config or CNNConfig()
        blocks, c_in, size = [], 1, config.image_size
        for c_out in config.channels:
            blocks += [nn.Conv2d(c_in, c_out, config.kernel_size, padding=config.kernel_size // 2,
                                 bias=not config.batch_norm)]  # BatchNorm's shift replaces the bias
            if config.batch_norm:
                blocks.append(nn.BatchNorm2d(c_out))
            blocks += [nn.ReLU(), nn.MaxPool2d(2)]
            c_in, size = c_out, size // 2
        if size < 1:
            raise ValueError(f"{len(config.channels)} pooling steps shrink {config.image_size} "
                             "pixels to nothing: use fewer blocks")
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(config.dropout),
                                        nn.Linear(c_in * size * size, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:  # flat pixels (N, 64): the same data as the MLP's
            side = self.config.image_size
            x = x.view(-1, 1, side, side)
        return self.classifier(self.features(x))  # (N, C', h, w) inside -> (N, 10)


def digits_mlp(hidden: int = 512, dropout: float = 0.5, num_inputs: int = 64,
               num_classes: int = 10) -> nn.Sequential:
    """Notebook 03's tuned MLP: Linear(64, 512) -> ReLU -> Dropout(0.5) -> Linear(512, 10).

    Accepts flat pixels (N, 64) or images (N, 1, 8, 8) (flattened first).
    """
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, hidden), nn.ReLU(),
                         nn.Dropout(dropout), nn.Linear(hidden, num_classes))
