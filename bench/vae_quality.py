"""A 784-400-20 VAE trained by aecore's Trainer and by the textbook loop: test loss and wall time.

Both train `make_spec("vae", dataset, hidden=(400,), latent=20)` from the same initial weights for
the same number of epochs (`--epochs`, default 10): aecore with its `TrainConfig` defaults, the
textbook loop as in pytorch/examples/vae (DataLoader, batch 128, Adam 1e-3). The test loss per digit
is BCE summed over pixels + KL. The PyTorch example evaluates it with z sampled from q(z|x); the main
figure here uses z = μ for both (deterministic), and the sampled-z figure is shown beside it: the
negative ELBO, its expectation over z estimated with `SAMPLE_DRAWS` draws per digit (fixed seed), so
that a difference of a few tenths is not the noise of a single draw. Wall time is the whole training
call: aecore's includes its own validation pass and probe codes after each epoch and its final test
evaluation, which the textbook loop skips; "batches s" is the training batches alone (aecore's own
count, without those passes; the textbook's loop, with turning the images into a tensor).
Each time is also taken on the process's CPU clock, steadier than wall time on a busy machine.

    python -m bench.vae_quality --epochs 10
"""
from __future__ import annotations

from dataclasses import asdict, replace

import torch

from aecore.models import build_model
from aecore.runs import train_spec
from aecore.spec import make_spec
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
    warm_up,
)
from bench.textbook import train_textbook

SAMPLE_DRAWS = 10


@torch.no_grad()
def sampled_loss(model: torch.nn.Module, x: torch.Tensor, draws: int = SAMPLE_DRAWS, seed: int = 0) -> float:
    """Test loss with z drawn from q(z|x) (the pytorch/examples/vae evaluation), averaged over `draws`
    draws per digit: the negative ELBO per digit."""
    was_training = model.training
    model.train()  # the VAE samples z only in training mode; nothing in these models updates state
    torch.manual_seed(seed)
    total = sum(float(model.loss(x[i:i + 2048])["loss"]) * len(x[i:i + 2048])
                for _ in range(draws) for i in range(0, len(x), 2048))
    model.train(was_training)
    return total / (draws * len(x))


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3,
                        help="run both this many times, seeds 0, 1, ..., order alternating")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 1, 1
    set_threads(args.threads)
    info = machine()
    print_machine(info)

    data = load_bench_data(args.dataset, args.quick)
    x_test = image_tensor(data.x_test)
    spec = make_spec("vae", args.dataset, hidden=(400,), latent=20, epochs=args.epochs)
    print(f"{spec.label()} on {data.name}: {args.epochs} epochs each, {len(data.x_train):,} train / "
          f"{len(data.x_test):,} test digits")
    warm_up(build_model(spec.family, spec.model))

    runs = []
    for repeat in range(args.repeats):
        # Each repeat its own seed (initial weights and shuffling, the same for both loops): a
        # difference of a few tenths between two runs is within the spread of seeds.
        spec = replace(spec, train=replace(spec.train, seed=repeat))
        order = ["textbook", "aecore"] if repeat % 2 == 0 else ["aecore", "textbook"]
        for loop in order:
            clock = Stopwatch()
            if loop == "aecore":
                clock.start()
                result = train_spec(spec, data, device="cpu")
                seconds, cpu_seconds, model = clock.elapsed, clock.cpu, result.model
                loop_seconds = args.epochs * len(data.x_train) / result.samples_per_s  # its batches only
                batch, lr = spec.train.batch_size, spec.train.lr
            else:
                torch.manual_seed(spec.train.seed)  # the same initial weights as train_spec
                model = build_model(spec.family, spec.model)
                clock.start()
                loop_seconds = train_textbook(model, data.x_train, epochs=args.epochs, seed=spec.train.seed).seconds
                seconds, cpu_seconds = clock.elapsed, clock.cpu
                batch, lr = 128, 1e-3
            parts = evaluate_loss(model, x_test)
            run = {"loop": loop, "repeat": repeat, "batch_size": batch, "lr": lr, "seconds": seconds,
                   "loop_seconds": loop_seconds, "cpu_seconds": cpu_seconds,
                   "samples_per_s": args.epochs * len(data.x_train) / seconds,
                   "test_loss": parts["loss"], "test_recon": parts["recon"], "test_kl": parts["kl"],
                   "test_loss_sampled_z": sampled_loss(model, x_test)}
            runs.append(run)
            print(f"  repeat {repeat + 1}: {loop}: {seconds:.1f} s ({cpu_seconds:.1f} CPU s), "
                  f"test loss {run['test_loss']:.2f}", flush=True)

    summary = {}
    for loop in ("textbook", "aecore"):
        mine = [r for r in runs if r["loop"] == loop]
        summary[loop] = {k: median(r[k] for r in mine) for k in
                         ("seconds", "loop_seconds", "cpu_seconds", "samples_per_s", "test_loss", "test_recon",
                          "test_kl", "test_loss_sampled_z")}
        summary[loop] |= {"batch_size": mine[0]["batch_size"], "lr": mine[0]["lr"]}
    tb, ae = summary["textbook"], summary["aecore"]
    rows = [[name, s["batch_size"], f"{s['lr']:g}", f"{s['test_loss']:.2f}", f"{s['test_recon']:.2f}",
             f"{s['test_kl']:.2f}", f"{s['test_loss_sampled_z']:.2f}", s["seconds"], ratio(tb["seconds"], s["seconds"]),
             s["loop_seconds"], ratio(tb["loop_seconds"], s["loop_seconds"]),
             s["cpu_seconds"], ratio(tb["cpu_seconds"], s["cpu_seconds"])]
            for name, s in (("textbook (pytorch/examples/vae)", tb), ("aecore Trainer, defaults", ae))]
    print_table(f"{spec.label()}, {args.epochs} epochs: test loss per digit (BCE summed over pixels + KL), "
                f"medians of {args.repeats} run(s)",
                ["loop", "batch", "lr", "loss (z=mu)", "BCE", "KL", f"loss (z sampled, {SAMPLE_DRAWS} draws)",
                 "wall s", "x faster", "batches s", "x faster (batches)",
                 "CPU s", "x faster (CPU)"], rows)
    print(f"\naecore - textbook test loss (z = mu): {ae['test_loss'] - tb['test_loss']:+.2f} per digit; "
          f"with z sampled ({SAMPLE_DRAWS} draws): {ae['test_loss_sampled_z'] - tb['test_loss_sampled_z']:+.2f}; "
          f"time ratio textbook / aecore: {ratio(tb['seconds'], ae['seconds']):.2f} wall, "
          f"{ratio(tb['cpu_seconds'], ae['cpu_seconds']):.2f} CPU")

    payload = {
        "benchmark": "vae_quality", "dataset": data.name, "machine": info, "quick": args.quick,
        "model": spec.label(), "epochs": args.epochs, "repeats": args.repeats,
        "evaluation": "test loss per digit = BCE summed over pixels + KL, z = posterior mean (sampled z also given)",
        "sample_draws": SAMPLE_DRAWS,
        "textbook": tb, "aecore": ae,
        "loss_difference": ae["test_loss"] - tb["test_loss"],
        "loss_difference_sampled_z": ae["test_loss_sampled_z"] - tb["test_loss_sampled_z"],
        "speedup": ratio(tb["seconds"], ae["seconds"]),
        "loop_speedup": ratio(tb["loop_seconds"], ae["loop_seconds"]),
        "cpu_speedup": ratio(tb["cpu_seconds"], ae["cpu_seconds"]),
        "train_config_defaults": asdict(TrainConfig()),
        "runs": runs,
    }
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
