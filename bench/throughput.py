"""Training throughput: a reference-style loop against thesis_lib's trainer, on one machine, in one invocation.

    python bench/throughput.py                       # quick-profile model (small CNN) on the CPU
    python bench/throughput.py --model resnet34a --device cuda --concurrent 1 4 8
    python bench/throughput.py --device cuda --configs resnet34a:32 preact_resnet18:128 --stacked 1 8 32

(a) reference: the loop of the thesis's base code (Uma et al.; mixup-cifar10): a torchvision-style Dataset that
    turns each image into a PIL image, per-image RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor +
    Normalize, a DataLoader (shuffle, ``--workers`` worker processes), fp32, NCHW, batch 32, hard-label cross-entropy.
(b) thesis_lib.training.loop.train on the same model, the same 7,000 CIFAR-10 training images with the same labels and
    augmentation, the same epochs and batch size: images resident on the device, batch augmentation by tensor
    indexing, channels_last (bf16 autocast on a GPU). Also (b) at the quick profile's own batch size.
``--concurrent N ...`` also measures the aggregate throughput of N trainer processes sharing the machine (on a GPU:
sharing the GPU), which is how ``run_all.sh --jobs N`` trains a grid.
``--stacked K ...`` measures (c), the multi-run engine (:mod:`thesis_lib.training.multirun`): K runs of the model stacked in
one process, aggregate images/s, achieved TFLOP/s (3 x forward FLOPs x images/s, FLOPs by torch's counter) and its
fraction of a peak measured in the same invocation (a bf16 8192^3 matrix product on a GPU, fp32 2048^3 on a CPU).
``--configs MODEL:BATCH ...`` repeats everything for each model and batch size (default: ``--model``:``--batch``).

Throughput is images per second over the epochs after the first (the first pays for worker start-up, memory
allocation and cuDNN autotuning); the first epoch's time is reported too. Every number printed is measured in
this invocation; ``--json`` saves them with the device and library versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thesis_lib import data  # noqa: E402
from thesis_lib.labels import hard_labels  # noqa: E402
from thesis_lib.models import get_model  # noqa: E402
from thesis_lib.training.loop import COMPILE_MODES, Targets, TrainConfig, resolve_device, train  # noqa: E402


def training_set(n: int | None):
    """The Uma et al. training images (7,000) and their CIFAR-10 labels; ``n`` keeps the first n."""
    cifar10 = data.load_cifar10_test()
    idx = data.load_uma_split().train[:n]
    return cifar10.images[idx], cifar10.labels[idx].astype(np.int64)


def _steady(epoch_seconds: list[float], n_images: int) -> dict:
    later = epoch_seconds[1:] or epoch_seconds
    return {"images_per_s": n_images * len(later) / sum(later), "first_epoch_s": epoch_seconds[0],
            "epoch_s": epoch_seconds}


# ---------------------------------------------------------------------------------------------------------------
# (a) the reference-style loop
# ---------------------------------------------------------------------------------------------------------------

class PILImages(torch.utils.data.Dataset):
    """CIFAR-10 as torchvision's dataset serves it: one PIL image per __getitem__, transformed on its own."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, augment: bool):
        from torchvision import transforms

        self.images, self.labels = images, labels
        from thesis_lib.models.normalize import CIFAR10_MEAN, CIFAR10_STD

        steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if augment else []
        # normalised per image in the transform, as the thesis's base code does (so its network has no Normalize)
        self.transform = transforms.Compose(steps + [transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def reference(model_name, images, labels, epochs, batch, lr, augment, device, workers, seed=0) -> dict:
    torch.manual_seed(seed)
    model = get_model(model_name).net.to(device)  # the bare network: the transform normalised the input
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(PILImages(images, labels, augment), batch_size=batch, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    seconds = []
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return _steady(seconds, len(images))


# ---------------------------------------------------------------------------------------------------------------
# (b) thesis_lib's trainer
# ---------------------------------------------------------------------------------------------------------------

def ours(model_name, images, labels, epochs, batch, lr, augment, device, seed=0, compile=None) -> dict:
    torch.manual_seed(seed)
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, augment=augment)
    curve = train(get_model(model_name), images, Targets(fixed=hard_labels(labels)), cfg, seed=seed, device=device,
                  compile=compile)
    return _steady([c["seconds"] for c in curve], len(images))


def _concurrent_worker(rank, args, barrier, queue):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.n_concurrent))  # as run_grid(jobs=N) does on a CPU
    images, labels = training_set(args.n_images)
    device = resolve_device(args.device)
    torch.manual_seed(rank)
    model = get_model(args.model)
    cfg = TrainConfig(epochs=1, batch_size=args.batch, lr=args.lr, augment=True)
    # warm-up epoch outside the timed window (allocations, cuDNN autotuning, compiling)
    train(model, images, Targets(fixed=hard_labels(labels)), cfg, seed=rank, device=device, compile=args.compile)
    barrier.wait()
    t0 = time.perf_counter()
    train(model, images, Targets(fixed=hard_labels(labels)),
          TrainConfig(epochs=args.epochs - 1, batch_size=args.batch, lr=args.lr, augment=True),
          seed=rank, device=device, compile=args.compile)
    queue.put((t0, time.perf_counter(), len(images) * (args.epochs - 1)))


def concurrent(args, n: int) -> dict:
    """``n`` trainer processes on one device (on a CPU each with ``cores // n`` threads, as ``run_grid(jobs=n)``
    gives them); aggregate images/s from the first start to the last finish of the timed epochs."""
    import multiprocessing as mp

    args = argparse.Namespace(**{**vars(args), "n_concurrent": n})
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_concurrent_worker, args=(r, args, barrier, queue)) for r in range(n)]
    for p in procs:
        p.start()
    done = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    start, end = min(d[0] for d in done), max(d[1] for d in done)
    return {"runs": n, "images_per_s": sum(d[2] for d in done) / (end - start), "wall_s": end - start}


def stacked(model_name, images, labels, epochs, batch, lr, augment, device, k) -> dict:
    """(c) ``k`` runs of ``model_name`` trained together by the multi-run engine; aggregate over the timed epochs."""
    from thesis_lib.training import multirun

    models = []
    for r in range(k):
        torch.manual_seed(r)
        models.append(get_model(model_name))
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, augment=augment)
    targets = Targets(fixed=hard_labels(labels))
    curves = multirun.train_stacked(models, [images] * k, [targets] * k, cfg, seeds=list(range(k)), device=device)
    out = _steady([c["seconds"] for c in curves[0]], k * len(images))
    later = curves[0][1:] or curves[0]
    out.update(runs=k, graph=curves[0][0].get("graph", False), capture_s=curves[0][0].get("capture_s", 0.0),
               step_ms=1000 * sum(c["seconds"] for c in later) / sum(c["seconds"] / c["step_s"] for c in later))
    return out


def peak_tflops(device: torch.device) -> dict:
    """A dense matrix product's TFLOP/s on this device, measured now: the ceiling achieved TFLOP/s is judged by."""
    cuda = device.type == "cuda"
    n, dtype = (8192, torch.bfloat16) if cuda else (2048, torch.float32)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    reps = 20 if cuda else 3
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if cuda:
        torch.cuda.synchronize()
    return {"tflops": 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e12, "what": f"{n}^3 {str(dtype)[6:]} matmul"}


def environment(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return {"device": name, "torch": torch.__version__, "python": platform.python_version(),
            "cpu_count": os.cpu_count()}


def measure(args, model_name, batch, images, labels, augment, device, env, peak) -> dict:
    common = dict(model_name=model_name, images=images, labels=labels, epochs=args.epochs, lr=args.lr,
                  augment=augment, device=device)
    print(f"{model_name}, {len(images)} images, {args.epochs} epochs (first = warm-up), augment={augment}, "
          f"compile={args.compile}, {env['device']}, torch {env['torch']}")
    out = {"config": {"model": model_name, "batch": batch}}
    out["a_reference"] = reference(batch=batch, workers=args.workers, **common)
    a = out["a_reference"]["images_per_s"]
    print(f"(a) reference loop, batch {batch}, {args.workers} workers: {a:9.1f} images/s")
    out["b_thesis_lib"] = ours(batch=batch, compile=args.compile, **common)
    ratio = out["b_thesis_lib"]["images_per_s"] / a
    out["ratio_b_over_a"] = ratio
    print(f"(b) thesis_lib trainer, batch {batch}:      {out['b_thesis_lib']['images_per_s']:9.1f} images/s"
          f"   b/a = {ratio:.2f}x")
    if args.profile_batch and args.profile_batch != batch:
        out["b_thesis_lib_profile_batch"] = ours(batch=args.profile_batch, compile=args.compile, **common)
        r = out["b_thesis_lib_profile_batch"]["images_per_s"] / a
        out["ratio_b_profile_batch_over_a"] = r
        print(f"(b) thesis_lib trainer, batch {args.profile_batch}:      "
              f"{out['b_thesis_lib_profile_batch']['images_per_s']:9.1f} images/s   b/a = {r:.2f}x")
    out["concurrent"] = []
    for n in args.concurrent:
        c = concurrent(argparse.Namespace(**{**vars(args), "model": model_name, "batch": batch}), n)
        c["ratio_over_a"] = c["images_per_s"] / a
        out["concurrent"].append(c)
        print(f"(b) x {n} concurrent runs, batch {batch}:  {c['images_per_s']:9.1f} images/s aggregate"
              f"   /a = {c['ratio_over_a']:.2f}x")
    out["stacked"] = []
    if args.stacked:
        from thesis_lib.cli.allocate import forward_flops

        flops = forward_flops(model_name)
        for k in args.stacked:
            c = stacked(batch=batch, k=k, **common)
            c["ratio_over_a"] = c["images_per_s"] / a
            c["tflops"] = 3 * flops * c["images_per_s"] / 1e12
            c["fraction_of_peak"] = c["tflops"] / peak["tflops"]
            out["stacked"].append(c)
            print(f"(c) {k} runs stacked, batch {batch}{' (CUDA graph)' if c['graph'] else ''}: {c['step_ms']:.2f} ms "
                  f"per step, {c['images_per_s']:9.1f} images/s aggregate   "
                  f"/a = {c['ratio_over_a']:.2f}x   {c['tflops']:.3g} TFLOP/s = {100 * c['fraction_of_peak']:.1f} % "
                  f"of the measured peak")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="small_cnn", help="a thesis_lib model (default: the quick profile's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=3, help="per loop; the first is warm-up (default 3)")
    p.add_argument("--batch", type=int, default=32, help="batch size of both loops (the thesis protocol: 32)")
    p.add_argument("--profile-batch", type=int, default=64,
                   help="also time (b) at this batch size (the quick profile's: 64); 0 to skip")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes for (a)")
    p.add_argument("--n-images", type=int, default=None, help="train on the first n of the 7,000 images")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--concurrent", type=int, nargs="*", default=[],
                   help="also time N trainer runs at once (the grid's --jobs N) and report their aggregate")
    p.add_argument("--compile", default="off", choices=COMPILE_MODES, help="torch.compile mode for (b)")
    p.add_argument("--stacked", type=int, nargs="*", default=[],
                   help="also time K runs stacked by the multi-run engine (aggregate images/s, TFLOP/s)")
    p.add_argument("--configs", nargs="*", default=[],
                   help="MODEL:BATCH pairs to measure in turn (default: --model:--batch)")
    p.add_argument("--json", default=None, help="also write the measurements here")
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error("--epochs must be >= 2 (the first epoch is warm-up)")
    device = resolve_device(args.device)
    images, labels = training_set(args.n_images)
    augment = not args.no_augment
    env = environment(device)
    out = {"args": vars(args), "environment": env, "configs": []}
    if args.stacked:
        out["peak"] = peak_tflops(device)
        print(f"peak: {out['peak']['tflops']:.3g} TFLOP/s ({out['peak']['what']}, measured now)")
    for config in args.configs or [f"{args.model}:{args.batch}"]:
        model_name, _, batch = config.partition(":")
        batch = int(batch or args.batch)
        res = measure(args, model_name, batch, images, labels, augment, device, env, out.get("peak"))
        out["configs"].append(res)
        if len(out["configs"]) == 1:  # the first configuration also at the top level, as before
            out.update({k: v for k, v in res.items() if k != "config"})
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
