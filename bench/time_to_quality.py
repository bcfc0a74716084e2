"""Time to quality: how much sooner aecore's Trainer reaches the textbook loop's test loss.

The textbook loop (`bench.textbook`: DataLoader, batch 128, Adam 1e-3) trains the model for
`--epochs` (5) epochs; its test loss then (BCE summed over pixels, per digit, evaluation mode) is the
bar. aecore's Trainer, with its own `TrainConfig` defaults and any `--candidate` settings, trains the
same model from the same initial weights until its test loss is at or below the bar (at most
`--max-epochs`). Both loops are evaluated on the test split every 1/`--evals-per-epoch` of an epoch
(the last at each epoch end) with the clock stopped, so the figures are training time only. Each
time is taken on two clocks: wall time, and the process's CPU time, which other work on a busy
machine barely disturbs (with one torch thread, `--threads 1`, it is the steadier of the two).

    python -m bench.time_to_quality                          # 784-256-32-256-784 ae on Fashion-MNIST
    python -m bench.time_to_quality --candidate 256:3e-3     # also try batch 256, lr 3e-3
    python -m bench.time_to_quality --family vae --epochs 5  # the same question for another family
    python -m bench.time_to_quality --candidate 256:5e-3 --max-epochs 10 --run-to-end  # and final quality
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from aecore.models import build_model
from aecore.runs import train_spec
from aecore.spec import RunSpec, make_spec
from aecore.trainer import TrainConfig
from bench.common import (
    Stopwatch,
    bench_parser,
    emit_json,
    evaluate_loss,
    image_tensor,
    load_bench_data,
    machine,
    median,
    print_machine,
    print_table,
    ratio,
    set_threads,
    subset,
    warm_up,
)
from bench.textbook import Checkpoint, checkpoint_steps, train_textbook

TARGET_SPEEDUP = 2.0
FAMILIES = ("ae", "dae", "sparse", "contractive", "vae", "conv_vae")  # one training stage each


def model_spec(family: str, dataset: str) -> RunSpec:
    """The model under test: the brief's 784-256-32-256-784 BCE ae, or another family's defaults."""
    if family == "ae":
        return make_spec("ae", dataset, hidden=(256, 32), recon_loss="bce")
    return make_spec(family, dataset)


def parse_candidate(text: str) -> dict:
    """'256:3e-3' -> {"batch_size": 256, "lr": 0.003}."""
    try:
        batch, lr = text.split(":")
        return {"batch_size": int(batch), "lr": float(lr)}
    except ValueError:
        raise SystemExit(f"--candidate takes BATCH:LR, e.g. 256:3e-3, not {text!r}") from None


def first_at_or_below(checkpoints: list[Checkpoint], bar: float) -> Checkpoint | None:
    return next((c for c in checkpoints if c.parts["loss"] <= bar), None)


def run_textbook(spec: RunSpec, data, x_test: torch.Tensor, epochs: int, evals_per_epoch: int) -> dict:
    torch.manual_seed(spec.train.seed)  # the same initial weights as train_spec gives aecore
    model = build_model(spec.family, spec.model)
    result = train_textbook(model, data.x_train, epochs=epochs, seed=spec.train.seed,
                            evaluate=lambda m: evaluate_loss(m, x_test), evals_per_epoch=evals_per_epoch)
    return {"loop": "textbook", "batch_size": 128, "lr": 1e-3, "checkpoints": result.checkpoints}


def run_aecore(spec: RunSpec, data, x_test: torch.Tensor, bar: float | None, evals_per_epoch: int) -> dict:
    """Train with aecore's Trainer until the test loss reaches `bar` (None: for all the spec's epochs)."""
    n, batch = len(data.x_train), spec.train.batch_size
    clock = Stopwatch()
    checkpoints: list[Checkpoint] = []
    trainer_box = []

    def on_batch_end(p) -> bool | None:
        if p.step not in checkpoint_steps(p.steps, evals_per_epoch):
            return None
        seconds, cpu_seconds = clock.elapsed, clock.cpu
        with clock.paused():
            parts = evaluate_loss(trainer_box[0].model, x_test)
            samples = (p.epoch - 1) * n + min(p.step * batch, n)
            checkpoints.append(Checkpoint(p.epoch - 1 + p.step / p.steps, seconds, cpu_seconds, samples, parts))
        return bar is not None and parts["loss"] <= bar

    clock.start()
    train_spec(spec, data, device="cpu", callbacks={"on_batch_end": [on_batch_end]},
               on_trainer=trainer_box.append)
    return {"loop": "aecore", "batch_size": batch, "lr": spec.train.lr, "checkpoints": checkpoints}


def data_pipeline_seconds(images: np.ndarray, batch_size: int) -> dict[str, float]:
    """CPU seconds for one epoch of batches alone, no model: the DataLoader vs aecore's index slices."""
    x = image_tensor(images)
    t0 = time.process_time()
    for (_batch,) in DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True):
        pass
    loader = time.process_time() - t0
    t0 = time.process_time()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), batch_size):
        _batch = x[perm[i:i + batch_size]]
    slices = time.process_time() - t0
    return {"dataloader_cpu_s": loader, "index_slices_cpu_s": slices}


def gpu_vs_cpu(spec: RunSpec, data, epochs: int = 2) -> dict | None:
    """Samples/s of aecore's Trainer on the CUDA GPU and on the CPU (same spec, `epochs` each), or
    None without a GPU. On CUDA the data sits on the device and bfloat16 autocast is on where supported."""
    if not torch.cuda.is_available():
        return None
    spec = replace(spec, train=replace(spec.train, epochs=epochs))
    train_spec(replace(spec, train=replace(spec.train, epochs=1)), data, device="cuda")  # CUDA's start-up costs
    rates = {device: train_spec(spec, data, device=device).samples_per_s for device in ("cuda", "cpu")}
    return {"device": torch.cuda.get_device_name(0), "epochs": epochs, "gpu_samples_per_s": rates["cuda"],
            "cpu_samples_per_s": rates["cpu"], "ratio": ratio(rates["cuda"], rates["cpu"])}


def summarise(run: dict, bar: float) -> dict:
    """One run's figures: throughput to its last checkpoint, and where it first reached the bar."""
    hit = first_at_or_below(run["checkpoints"], bar)
    last = run["checkpoints"][-1]
    return {
        "loop": run["loop"], "batch_size": run["batch_size"], "lr": run["lr"],
        "samples_per_s": last.samples / max(last.seconds, 1e-9),
        "cpu_samples_per_s": last.samples / max(last.cpu_seconds, 1e-9),
        "epochs_to_bar": hit.epochs if hit else None,
        "seconds_to_bar": hit.seconds if hit else None,
        "cpu_seconds_to_bar": hit.cpu_seconds if hit else None,
        "final_loss": last.parts["loss"],
        # (epochs, wall s, CPU s, test loss) at each checkpoint
        "curve": [[round(c.epochs, 3), round(c.seconds, 2), round(c.cpu_seconds, 2), round(c.parts["loss"], 3)]
                  for c in run["checkpoints"]],
    }


def combine(summaries: list[dict], key: tuple) -> dict:
    """Medians over the repeats of one configuration."""
    mine = [s for s in summaries if (s["loop"], s["batch_size"], s["lr"]) == key]
    out = {"loop": key[0], "batch_size": key[1], "lr": key[2], "runs": len(mine),
           "reached": sum(s["seconds_to_bar"] is not None for s in mine)}
    for name in ("samples_per_s", "cpu_samples_per_s", "epochs_to_bar", "seconds_to_bar", "cpu_seconds_to_bar",
                 "final_loss"):
        out[name] = median(s[name] for s in mine if s[name] is not None)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="ae", choices=FAMILIES)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the textbook loop (sets the bar)")
    parser.add_argument("--max-epochs", type=int, default=20, help="aecore gives up after this many epochs")
    parser.add_argument("--evals-per-epoch", type=int, default=4, help="test evaluations per epoch")
    parser.add_argument("--candidate", action="append", default=[], metavar="BATCH:LR",
                        help="also try aecore with this batch size and learning rate (repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="run everything this many times, order alternating")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed of both loops")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on a seeded subset of this many training images (for slow families)")
    parser.add_argument("--run-to-end", action="store_true",
                        help="train aecore for all --max-epochs instead of stopping at the bar (final quality)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.max_epochs, args.evals_per_epoch = 1, 2, 2
    set_threads(args.threads)
    info = machine()
    print_machine(info)

    data = load_bench_data(args.dataset, args.quick)
    if args.train_size is not None and args.train_size < len(data.x_train):
        data = subset(data, args.train_size, len(data.x_val), len(data.x_test))
    x_test = image_tensor(data.x_test)
    spec = model_spec(args.family, args.dataset)
    spec = replace(spec, train=replace(spec.train, seed=args.seed))
    defaults = {"batch_size": TrainConfig().batch_size, "lr": TrainConfig().lr}
    configs = [defaults] + [c for c in map(parse_candidate, args.candidate) if c != defaults]
    aecore_specs = [replace(spec, train=replace(spec.train, epochs=args.max_epochs, **c)) for c in configs]
    print(f"{spec.label()} on {data.name}: {len(data.x_train):,} train / {len(data.x_test):,} test digits; "
          f"bar = textbook test loss after {args.epochs} epochs")

    warm_up(build_model(spec.family, spec.model))
    bar = None
    runs: list[dict] = []  # every run, in the order they ran
    for repeat in range(args.repeats):
        # The textbook run sets the bar, so it goes first the first time; later repeats reverse the
        # order so that a machine getting busier or quieter does not favour one side.
        order = ["textbook"] + list(range(len(configs)))
        if repeat % 2:
            order.reverse()
        for item in order:
            if item == "textbook":
                run = run_textbook(spec, data, x_test, args.epochs, args.evals_per_epoch)
                if bar is None:
                    bar = run["checkpoints"][-1].parts["loss"]
            else:
                run = run_aecore(aecore_specs[item], data, x_test, None if args.run_to_end else bar,
                                 args.evals_per_epoch)
            run["repeat"] = repeat
            runs.append(run)
            hit = first_at_or_below(run["checkpoints"], bar)
            print(f"  repeat {repeat + 1}: {run['loop']} batch {run['batch_size']} lr {run['lr']:g}: "
                  + (f"bar reached after {hit.epochs:.2f} epochs, {hit.seconds:.1f} s ({hit.cpu_seconds:.1f} CPU s)"
                     if hit else "bar not reached"), flush=True)

    summaries = [summarise(r, bar) | {"repeat": r["repeat"]} for r in runs]
    keys = [("textbook", 128, 1e-3)] + [("aecore", c["batch_size"], c["lr"]) for c in configs]
    figures = [combine(summaries, key) for key in keys]
    base = figures[0]
    rows = []
    for f in figures:
        f["speedup"] = ratio(base["seconds_to_bar"], f["seconds_to_bar"])
        f["cpu_speedup"] = ratio(base["cpu_seconds_to_bar"], f["cpu_seconds_to_bar"])
        label = "textbook (DataLoader)" if f["loop"] == "textbook" else (
            "aecore defaults" if f["batch_size"] == defaults["batch_size"] and f["lr"] == defaults["lr"] else "aecore")
        rows.append([label, f["batch_size"], f"{f['lr']:g}", f["samples_per_s"], f["cpu_samples_per_s"],
                     f["epochs_to_bar"], f["seconds_to_bar"], f["speedup"], f["cpu_seconds_to_bar"],
                     f["cpu_speedup"], f["final_loss"], f"{f['reached']}/{f['runs']}"])
    print_table(f"Time to the textbook loop's test loss after {args.epochs} epochs ({args.family}, bar {bar:.2f}; "
                f"medians of {args.repeats} run(s); evaluation excluded)",
                ["loop", "batch", "lr", "samples/s", "CPU samples/s", "epochs to bar", "s to bar", "x sooner",
                 "CPU s to bar", "x sooner (CPU)", "final test loss" if args.run_to_end else "test loss at stop",
                 "reached"], rows)

    pipeline = data_pipeline_seconds(data.x_train, 128)
    epoch_cpu = len(data.x_train) / base["cpu_samples_per_s"]
    print_table("Where an epoch of the textbook loop goes (batch 128, CPU seconds)", ["part", "CPU seconds", "share"],
                [["whole training epoch", epoch_cpu, 1.0],
                 ["DataLoader alone (no model)", pipeline["dataloader_cpu_s"],
                  pipeline["dataloader_cpu_s"] / epoch_cpu],
                 ["index slices alone (aecore's way)", pipeline["index_slices_cpu_s"],
                  pipeline["index_slices_cpu_s"] / epoch_cpu]])

    gpu = gpu_vs_cpu(spec, data, epochs=1 if args.quick else 2)
    if gpu is None:
        print("\nno CUDA GPU here: the GPU/CPU comparison is skipped")
    else:
        print(f"\n{gpu['device']}: {gpu['gpu_samples_per_s']:,.0f} samples/s vs CPU {gpu['cpu_samples_per_s']:,.0f}"
              f" samples/s: GPU/CPU = {gpu['ratio']:.1f}x (aecore defaults, {gpu['epochs']} epochs each)")

    default = figures[1]
    payload = {
        "benchmark": "time_to_quality", "dataset": data.name, "family": args.family, "model": spec.label(),
        "machine": info, "quick": args.quick, "repeats": args.repeats,
        "textbook_epochs": args.epochs, "max_epochs": args.max_epochs, "evals_per_epoch": args.evals_per_epoch,
        "run_to_end": args.run_to_end, "seed": args.seed, "train_size": len(data.x_train),
        "bar": bar,
        "textbook": base, "aecore": default, "candidates": figures[2:],
        "speedup": default["speedup"], "cpu_speedup": default["cpu_speedup"], "target_speedup": TARGET_SPEEDUP,
        "meets_target": bool(default["speedup"] >= TARGET_SPEEDUP),
        "meets_target_cpu": bool(default["cpu_speedup"] >= TARGET_SPEEDUP),
        "data_pipeline": pipeline,
        "gpu": gpu,
        "train_config_defaults": asdict(TrainConfig()),
        "runs": summaries,
    }
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
