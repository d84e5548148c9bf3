#!/usr/bin/python3
"""A second PyTorch side for bench/run.sh's tiny mode: the way one would train a grid of
small networks in PyTorch, N copies of torch_bench.py's tiny MLP as ONE batched model.

  torch_batched.py [--nets 64,1024] [--epochs 400] [--repeats 1] [--warmup 5] [--seed 0]
  torch_batched.py --config     prints torch.__config__.show() and the BLAS core, and exits

The trial is torch_bench.py's tiny mode, for each of the N nets: the circle data
(torch_bench.circle_data: 1000 points, noise 0.1, 500 train / 500 test, standardized),
2-8-8-8-2 ReLU, He uniform weights and zero biases, batch 10, plain SGD with lr 0.03 on
the mean cross-entropy of the batch, a fresh shuffle every epoch. Net i uses seed
SEED + i: its initial weights are exactly those torch_bench.py draws for that seed
(built with torch_bench.make_mlp after torch.manual_seed(SEED + i), then stacked), and
its shuffles come from its own generator, carried on from that seed's state after the
init, so net i sees the same orders as torch_bench.py's run of seed SEED + i.

Batched: weights [N, in, out], biases [N, 1, out], every layer one torch.baddbmm; the
minibatch of step s is an index tensor [N, batch] into the training set (each row its
net's own order); the loss is the sum over nets of each net's mean cross-entropy, so one
backward pass and one torch.optim.SGD step serve all N nets (the gradient of net i's
parameters is that of its own mean loss). After every epoch (and before the first, as
actgrid and torch_bench.py do) the test accuracy of every net, under torch.no_grad().
That is all this side measures per epoch: not the training-set loss and accuracy nor the
probe metrics (activation statistics, per-layer gradient norms) that actgrid and
torch_bench.py compute every epoch, so its per-epoch work is the lighter one.

Timed: the training loop with the per-epoch test accuracy (one timer around all epochs).
Not timed: building the N nets (per-net init, stacking, the optimizer), done before the
timer starts on this side (actgrid's figure includes building its network). One thread,
float32, CPU. Each (N, repeat) prints one JSON line; "steps_per_second" is
network-steps per second: N x steps actually run / seconds.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench  # noqa: E402  (the same data, model and BLAS probe as the eager side)

WIDTH, DEPTH, BATCH, LR = 8, 3, 10, 0.03  # torch_bench.py's tiny mode


class BatchedMLP:
    """N independent MLPs as stacked tensors; parameters are leaves with grad."""

    def __init__(self, nets, seed0, features, classes, n_train):
        weights, biases = [[] for _ in range(DEPTH + 1)], [[] for _ in range(DEPTH + 1)]
        self.generators = []
        for i in range(nets):
            torch.manual_seed(seed0 + i)  # as torch_bench.py: manual_seed, then build()
            model = torch_bench.make_mlp(features, WIDTH, DEPTH, classes)
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]
            for layer, lin in enumerate(linears):
                weights[layer].append(lin.weight.detach().t())  # [in, out]
                biases[layer].append(lin.bias.detach().unsqueeze(0))  # [1, out]
            g = torch.Generator()
            g.set_state(torch.get_rng_state())  # net i's shuffles continue its seed's stream
            self.generators.append(g)
        self.weights = [torch.stack(w).contiguous().requires_grad_() for w in weights]
        self.biases = [torch.stack(b).contiguous().requires_grad_() for b in biases]
        self.params = [p for pair in zip(self.weights, self.biases) for p in pair]
        self.n_train = n_train

    def forward(self, x):
        """x: [N, rows, in] (or expanded from [rows, in]) -> logits [N, rows, classes]."""
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if layer < last:
                x = torch.relu(x)
        return x

    def shuffles(self):
        """One epoch's orders: [N, n_train], row i from net i's generator."""
        return torch.stack([torch.randperm(self.n_train, generator=g) for g in self.generators])


def test_accuracy(model, test_x, test_y, nets):
    """Test accuracy of every net: [N]."""
    with torch.no_grad():
        logits = model.forward(test_x.expand(nets, -1, -1))
        return (logits.argmax(dim=2) == test_y).to(torch.float32).mean(dim=1)


def train(model, opt, data, nets, epochs):
    """actgrid's RunTrial for N nets at once: epoch-0 test accuracy, then per epoch one
    shuffled pass of minibatch steps (last partial batch kept) and the test accuracy.
    Returns (steps per net, accuracies [epochs + 1, N])."""
    train_x, train_y, test_x, test_y = data
    n_train = train_x.shape[0]
    history = [test_accuracy(model, test_x, test_y, nets)]
    steps = 0
    for _ in range(epochs):
        order = model.shuffles()  # [N, n_train]
        for first in range(0, n_train, BATCH):
            idx = order[:, first:first + BATCH]  # [N, batch]
            logits = model.forward(train_x[idx])  # [N, batch, classes]
            # Sum over nets of each net's mean loss over its batch.
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), train_y[idx].reshape(-1),
                                   reduction="sum") / idx.shape[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        history.append(test_accuracy(model, test_x, test_y, nets))
    return steps, torch.stack(history)


def build(nets, seed0, data):
    features, classes = data[0].shape[1], int(max(data[1].max(), data[3].max())) + 1
    model = BatchedMLP(nets, seed0, features, classes, data[0].shape[0])
    opt = torch.optim.SGD(model.params, lr=LR)
    return model, opt


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="64,1024", help="comma-separated N values (default 64,1024)")
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per N, each on freshly built nets")
    ap.add_argument("--warmup", type=int, default=5, help="untimed epochs on fresh nets before each N")
    ap.add_argument("--seed", type=int, default=0, help="net i uses seed SEED + i")
    ap.add_argument("--config", action="store_true", help="print torch.__config__.show() and exit")
    args = ap.parse_args(argv[1:])
    nets_list = [int(n) for n in args.nets.split(",") if n.strip()]
    if not nets_list or min(nets_list) < 1 or args.epochs < 1 or args.repeats < 1 or args.warmup < 0:
        ap.error("--nets, --epochs and --repeats must be >= 1, --warmup >= 0")

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.set_default_dtype(torch.float32)
    blas_core, blas_library = torch_bench.blas_info()
    if args.config:
        print(torch.__config__.show())
        print("BLAS core: %s (%s)" % (blas_core, blas_library))
        return 0

    data = tuple(torch.from_numpy(a.copy()) for a in torch_bench.circle_data())
    n_train = data[0].shape[0]

    for nets in nets_list:
        if args.warmup:
            model, opt = build(nets, args.seed, data)
            train(model, opt, data, nets, args.warmup)
        for repeat in range(args.repeats):
            t0 = time.perf_counter()
            model, opt = build(nets, args.seed, data)
            build_seconds = time.perf_counter() - t0
            start = time.perf_counter()
            steps, history = train(model, opt, data, nets, args.epochs)
            seconds = time.perf_counter() - start
            final = history[-1]
            print(json.dumps({
                "side": "pytorch-batched",
                "mode": "tiny",
                "nets": nets,
                "repeat": repeat,
                "epochs": args.epochs,
                "seeds": nets,
                "steps": nets * steps,  # network-steps
                "steps_per_net": steps,
                "seconds": round(seconds, 6),
                "build_seconds_untimed": round(build_seconds, 6),
                "steps_per_second": round(nets * steps / seconds, 1),  # network-steps/s
                "samples_per_second": round(nets * args.epochs * n_train / seconds, 1),
                "final_test_acc": round(float(final.mean()), 4),  # mean over nets
                "final_test_acc_min": round(float(final.min()), 4),
                "final_test_acc_max": round(float(final.max()), 4),
                "final_test_acc_median": round(float(final.median()), 4),
                "test_acc_net0": round(float(final[0]), 4),
                "per_epoch_work": "test accuracy of every net (no train metrics, no probe metrics)",
                "blas_core": blas_core,
                "blas_library": blas_library,
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
            }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
