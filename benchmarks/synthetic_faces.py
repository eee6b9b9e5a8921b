"""Synthetic face renderer: faces per second, and how hard its data set is for a small CNN.

    python -m benchmarks.synthetic_faces                # speed at 48 / 64 / 128 / 256 px
    python -m benchmarks.synthetic_faces --train 8      # + a small CNN trained for 8 epochs

The CNN is trained on the train identities and scored on the test identities (never seen in
training). These are SYNTHETIC faces: the accuracy says how learnable the renderer's expressions
are, nothing about real photographs.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fexlab.preprocessing.synthetic import SyntheticSpec, render_samples, synthetic_dataset

__all__ = ["render_speed", "train_small_cnn"]


def render_speed(size: int = 64, n: int = 2000, gray: bool = False, batch: int = 256) -> float:
    """Faces rendered per second, in batches of ``batch`` (after one warm-up batch)."""
    spec = SyntheticSpec(n=n + batch, size=size, gray=gray)
    render_samples(spec, range(n, n + batch))
    start = time.perf_counter()
    for first in range(0, n, batch):
        render_samples(spec, range(first, min(first + batch, n)))
    return n / (time.perf_counter() - start)


def _small_cnn(channels: int):
    from torch import nn

    def block(c_in: int, c_out: int) -> list:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                nn.MaxPool2d(2)]

    return nn.Sequential(*block(channels, 16), *block(16, 32), *block(32, 64), *block(64, 128), *block(128, 128),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, 7))


def _tensors(dataset, gray: bool):
    import torch

    images = dataset.materialize().stacked().astype(np.float32) / 127.5 - 1.0
    if gray:
        images = images[..., :1]
    return torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), torch.from_numpy(dataset.labels())


def _accuracy(model, images, labels) -> float:
    import torch

    model.eval()
    with torch.inference_mode():
        predicted = torch.cat([model(images[i : i + 512]).argmax(1) for i in range(0, len(images), 512)])
    return float((predicted == labels).float().mean())


def train_small_cnn(n: int = 7000, size: int = 64, seed: int = 0, epochs: int = 8, gray: bool = False) -> dict:
    """Train a 5-layer CNN for ``epochs`` (one-cycle schedule) on the train identities.

    Returns its accuracy on the validation and on the test identities, which it never saw.
    """
    import torch

    torch.manual_seed(seed)
    data = synthetic_dataset(n=n, size=size, seed=seed, gray=gray)
    train_x, train_y = _tensors(data.split("train"), gray)
    val_x, val_y = _tensors(data.split("val"), gray)
    test_x, test_y = _tensors(data.split("test"), gray)
    model = _small_cnn(train_x.shape[1])
    steps = epochs * ((len(train_x) + 63) // 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    start, history = time.perf_counter(), []
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(train_x), generator=generator).split(64):
            x = train_x[batch]
            flip = torch.rand(len(x), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = torch.nn.functional.cross_entropy(model(x), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        history.append({"epoch": epoch, "seconds": round(time.perf_counter() - start, 1),
                        "val_accuracy": round(_accuracy(model, val_x, val_y), 4)})
        print(json.dumps(history[-1]), flush=True)
    return {
        "data": data.name, "train_faces": len(train_x), "test_faces": len(test_x), "epochs": epochs,
        "training_seconds": round(time.perf_counter() - start, 1),
        "train_accuracy": round(_accuracy(model, train_x, train_y), 4),
        "val_accuracy": history[-1]["val_accuracy"],
        "test_accuracy_unseen_identities": round(_accuracy(model, test_x, test_y), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=0, metavar="EPOCHS", help="also train a small CNN this many epochs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--n", type=int, default=7000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--gray", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| size | faces/s (RGB) |\n|---|---|")
    for size in (48, 64, 128, 256):
        print(f"| {size} | {render_speed(size, n=1000 if size < 200 else 500):.0f} |", flush=True)
    if args.train > 0:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        result = train_small_cnn(args.n, args.size, args.seed, args.train, args.gray)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
