#!/usr/bin/python3
"""PyTorch side of the actgrid benchmark (see bench/run.sh); prints one JSON line.

  torch_bench.py tiny [EPOCHS]     circle, 2-8-8-8-2 relu, batch 10, SGD (default 400)
  torch_bench.py fashion [EPOCHS]  Fashion-MNIST, 784-256-256-10 relu, batch 128, Adam (default 3)

Does per epoch the work of actgrid's RunTrial (worker/engine/trainer.cc): one pass of
minibatch steps, then loss and accuracy over the whole training and test sets, and on
the probe set (the first min(1000, n_train) training samples) the per-layer dead
fraction, sparsity, activation mean / std and the weight-gradient norm of the mean
probe loss. Uses Debian's python3-torch and numpy only.
"""
import ctypes
import gzip
import json
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
MAX_PROBE = 1000  # kMaxProbeSamples in worker/engine/trainer.h


# ---------------------------------------------------------------- data

def standardize(train_x, test_x):
    """Per-feature (x - mean) / std fit on the training set, population std in double;
    a constant feature is only centred (as dataset.cc's StandardizeAffine)."""
    x64 = train_x.astype(np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    const = (x64.max(axis=0) <= x64.min(axis=0)) | (std <= 0)
    factor = np.where(const, 1.0, 1.0 / np.where(std > 0, std, 1.0))
    mean32, factor32 = mean.astype(np.float32), factor.astype(np.float32)
    return (train_x - mean32) * factor32, (test_x - mean32) * factor32


def circle_data(samples=1000, noise=0.1, test_fraction=0.5, seed=7):
    """The TF Playground circle: half the points inside radius 2.5, half in [3.5, 5);
    the label comes from the noisy point, the stored point is the clean one."""
    rng = np.random.default_rng(seed)
    radius = 5.0

    def half(count, r_lo, r_hi):
        r = rng.uniform(r_lo, r_hi, count)
        angle = rng.uniform(0.0, 2.0 * math.pi, count)
        x, y = r * np.sin(angle), r * np.cos(angle)
        nx = x + rng.uniform(-radius, radius, count) * noise
        ny = y + rng.uniform(-radius, radius, count) * noise
        label = (np.sqrt(nx * nx + ny * ny) < radius * 0.5).astype(np.int64)
        return np.stack([x, y], axis=1), label

    xa, ya = half((samples + 1) // 2, 0.0, radius * 0.5)
    xb, yb = half(samples // 2, radius * 0.7, radius)
    x = np.concatenate([xa, xb]).astype(np.float32)
    y = np.concatenate([ya, yb])
    # Shuffled before the split, as dataset.cc's SplitShuffled (else test = outer ring).
    order = rng.permutation(samples)
    n_test = min(max(int(round(samples * test_fraction)), 1), samples - 1)
    n_train = samples - n_test
    tr, te = order[:n_train], order[n_train:]
    train_x, test_x = standardize(x[tr], x[te])
    return train_x, y[tr], test_x, y[te]


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def fashion_data(root=FASHION_DIR):
    def images(split):
        return read_idx(f"{root}/{split}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32)

    def labels(split):
        return read_idx(f"{root}/{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)

    train_x, test_x = standardize(images("train"), images("t10k"))
    return train_x, labels("train"), test_x, labels("t10k")


# ---------------------------------------------------------------- model

def make_mlp(inputs, width, depth, classes):
    layers, fan_in = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, classes))
    model = nn.Sequential(*layers)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")  # U(-a, a), a = sqrt(6 / fan_in)
            nn.init.zeros_(m.bias)
    return model


def forward_hidden(model, x):
    """Logits and the output of every hidden activation (the ReLU outputs)."""
    hidden = []
    for m in model:
        x = m(x)
        if isinstance(m, nn.ReLU):
            hidden.append(x)
    return x, hidden


def hidden_linears(model):
    return [m for m in model if isinstance(m, nn.Linear)][:-1]


# ---------------------------------------------------------------- metrics

def probe_metrics(model, x, y):
    """Forward with grad on the probe set: loss / accuracy counts of the chunk, the
    per-layer activation statistics and the weight-gradient norms of the mean loss."""
    model.zero_grad(set_to_none=True)
    logits, hidden = forward_hidden(model, x)
    loss_sum = F.cross_entropy(logits, y, reduction="sum")
    (loss_sum / x.shape[0]).backward()
    layers = []
    with torch.no_grad():
        for a, lin in zip(hidden, hidden_linears(model)):
            a = a.detach()
            active = a > 0  # relu'(z) = 1 iff z > 0 iff a > 0
            a64 = a.double()
            mean = a64.mean()
            layers.append({
                "dead_fraction": float((~active.any(dim=0)).double().mean()),
                "sparsity": float((a == 0).double().mean()),
                "act_mean": float(mean),
                "act_std": float(torch.sqrt(torch.clamp((a64 * a64).mean() - mean * mean, min=0.0))),
                "grad_norm": float(lin.weight.grad.double().norm()),
            })
        correct = int((logits.argmax(dim=1) == y).sum())
    model.zero_grad(set_to_none=True)
    return float(loss_sum.detach()), correct, layers


def evaluate_split(model, x, y, chunk, probe=False):
    loss_sum, correct, layers = 0.0, 0, None
    for start in range(0, x.shape[0], chunk):
        xs, ys = x[start:start + chunk], y[start:start + chunk]
        if probe and start == 0:
            l, c, layers = probe_metrics(model, xs, ys)
        else:
            with torch.no_grad():
                logits = model(xs)
                l = float(F.cross_entropy(logits, ys, reduction="sum"))
                c = int((logits.argmax(dim=1) == ys).sum())
        loss_sum += l
        correct += c
    return loss_sum, correct, layers


def measure_epoch(epoch, model, data, chunk):
    train_x, train_y, test_x, test_y = data
    tl, tc, layers = evaluate_split(model, train_x, train_y, chunk, probe=True)
    vl, vc, _ = evaluate_split(model, test_x, test_y, chunk)
    n_train, n_test = train_x.shape[0], test_x.shape[0]
    units = len(layers)
    return {
        "epoch": epoch,
        "train_loss": tl / n_train, "train_acc": tc / n_train,
        "test_loss": vl / n_test, "test_acc": vc / n_test,
        "dead_fraction": sum(l["dead_fraction"] for l in layers) / units,  # equal widths
        "sparsity": sum(l["sparsity"] for l in layers) / units,
        "layers": layers,
    }


# ---------------------------------------------------------------- training

def run_trial(model, opt, data, batch, epochs, max_batches=None):
    """actgrid's RunTrial: epoch-0 metrics, then per epoch a shuffled pass of minibatch
    steps (last partial batch kept) and the metrics. Returns the per-epoch metrics."""
    train_x, train_y = data[0], data[1]
    n_train = train_x.shape[0]
    chunk = min(MAX_PROBE, n_train)  # trainer.cc evaluates in chunks of the probe size
    history = [measure_epoch(0, model, data, chunk)]
    steps = 0
    for epoch in range(1, epochs + 1):
        if not math.isfinite(history[-1]["train_loss"]):
            break  # diverged, as trainer.cc stops
        order = torch.randperm(n_train)
        for first in range(0, n_train, batch):
            idx = order[first:first + batch]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            if max_batches is not None and steps >= max_batches:
                break
        history.append(measure_epoch(epoch, model, data, chunk))
        if max_batches is not None and steps >= max_batches:
            break
    return history


def blas_info():
    """The BLAS library mapped into this process and its OpenBLAS core name."""
    a = torch.ones(64, 64)
    _ = a @ a
    paths = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "blas" in os.path.basename(parts[-1]).lower() and parts[-1] not in paths:
                paths.append(parts[-1])
    # Prefer the OpenBLAS library itself over the libblas.so.3 alternative shim.
    paths.sort(key=lambda p: 0 if "openblas" in os.path.basename(p) else 1)
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return fn().decode(), path
    return "unknown", paths[0] if paths else ""


def main(argv):
    mode = argv[1] if len(argv) > 1 else "tiny"
    if mode not in ("tiny", "fashion"):
        print("usage: torch_bench.py tiny|fashion [EPOCHS [SEEDS]]", file=sys.stderr)
        return 2
    tiny = mode == "tiny"
    epochs = int(argv[2]) if len(argv) > 2 else (400 if tiny else 3)
    seeds = int(argv[3]) if len(argv) > 3 else 1

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    blas_core, blas_library = blas_info()

    arrays = circle_data() if tiny else fashion_data()
    data = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    n_train = data[0].shape[0]
    features, classes = data[0].shape[1], int(max(data[1].max(), data[3].max())) + 1
    width, depth, batch = (8, 3, 10) if tiny else (256, 2, 128)

    def build():
        model = make_mlp(features, width, depth, classes)
        if tiny:
            opt = torch.optim.SGD(model.parameters(), lr=0.03)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        return model, opt

    # Warm-up on a fresh model: 5 epochs (tiny) or 20 batches (fashion).
    model, opt = build()
    if tiny:
        run_trial(model, opt, data, batch, 5)
    else:
        run_trial(model, opt, data, batch, 1, max_batches=20)

    # Seeds 0..SEEDS-1: time summed, accuracy averaged (as actgrid_bench does).
    seconds, accs = 0.0, []
    for seed in range(seeds):
        torch.manual_seed(seed)
        model, opt = build()
        start = time.perf_counter()
        history = run_trial(model, opt, data, batch, epochs)
        seconds += time.perf_counter() - start
        accs.append(history[-1]["test_acc"])

    steps = seeds * epochs * ((n_train + batch - 1) // batch)
    print(json.dumps({
        "side": "pytorch",
        "mode": mode,
        "epochs": epochs,
        "seeds": seeds,
        "steps": steps,
        "seconds": round(seconds, 6),
        "steps_per_second": round(steps / seconds, 1),
        "samples_per_second": round(seeds * epochs * n_train / seconds, 1),
        "final_test_acc": round(sum(accs) / len(accs), 4),
        "test_acc_per_seed": [round(a, 4) for a in accs],
        "blas_core": blas_core,
        "blas_library": blas_library,
        "torch_version": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
