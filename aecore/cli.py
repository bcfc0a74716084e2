"""`python -m aecore`: train (a family or a classic recipe), list, recipes, info and prepare from the command line.

Every model and training setting is a flag generated from the config dataclasses (`--hidden 256 32`,
`--level 0.3`, `--lr 1e-3`), so a new field is on the CLI without touching this file. Bad arguments
or data print one line and exit with code 2; `--json` ends standard output with one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import MISSING, asdict, fields
from typing import Any, get_type_hints

from aecore.configs import FAMILIES, TrainConfig, config_class
from aecore.errors import AecoreError, ConfigError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _setting_fields() -> dict[str, tuple[type, Any]]:
    """Every model and training setting name -> (type hint, an example default)."""
    out: dict[str, tuple[type, Any]] = {}
    for cls in [TrainConfig, *map(config_class, FAMILIES)]:
        hints = get_type_hints(cls)
        for f in fields(cls):
            out.setdefault(f.name, (hints[f.name], f.default if f.default is not MISSING else None))
    return out


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_setting_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("model and training settings (defaults depend on --model)")
    for name, (hint, default) in sorted(_setting_fields().items()):
        if name == "epochs":
            continue
        flag = "--" + name.replace("_", "-")
        text = str(hint)
        if "tuple" in text:
            elem = float if "float" in text else int
            group.add_argument(flag, dest=name, type=elem, nargs="+", default=None, metavar="N")
        elif hint is bool:
            group.add_argument(flag, dest=name, type=_bool, default=None, metavar="true|false")
        else:
            group.add_argument(flag, dest=name, type=hint, default=None, metavar=type(default).__name__.upper())


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m aecore", description="Latent Lab's modeling core.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one model (or load it from the store)")
    t.add_argument("--model", default=None, help=f"family: {', '.join(FAMILIES)} (default ae)")
    t.add_argument("--recipe", default=None, help="a classic recipe (see `recipes`); other flags override it")
    t.add_argument("--dataset", default="auto", help="mnist, mnist-sample, fashion-mnist, auto, or a path")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    t.add_argument("--download", action="store_true", help="download the dataset if it is missing")
    t.add_argument("--retrain", action="store_true", help="train even if the store has this model")
    t.add_argument("--json", action="store_true", help="end standard output with one JSON object")
    _add_setting_flags(t)
    sub.add_parser("list", help="list cached models with their metrics").add_argument("--json", action="store_true")
    sub.add_parser("recipes", help="list the classic recipes").add_argument("--json", action="store_true")
    sub.add_parser("info", help="device, data in use, cache directory").add_argument("--json", action="store_true")
    pr = sub.add_parser("prepare", help="get the data and pretrain the lecture set")
    pr.add_argument("--dataset", default="mnist", help="dataset to prepare (default: full MNIST, "
                    "falling back to the offline sample if it cannot be downloaded)")
    pr.add_argument("--epochs", type=int, default=None)
    pr.add_argument("--device", default=None)
    return p


class _ProgressLine:
    """A one-line progress display on stderr (redrawn in place on a terminal, per epoch otherwise)."""

    def __init__(self, label: str):
        self.label, self.tty, self.last = label, sys.stderr.isatty(), 0.0

    def __call__(self, pr) -> None:
        now = time.monotonic()
        if pr.event == "batch" and (not self.tty or now - self.last < 0.25):
            return
        self.last = now
        filled = int(30 * pr.fraction)
        loss = pr.train.get("loss", float("nan"))
        val = f" val {pr.val['loss']:.4g}" if pr.val else ""
        line = (f"{self.label} {pr.stage} {pr.epoch}/{pr.epochs} [{'#' * filled}{'.' * (30 - filled)}] "
                f"{pr.samples_per_s:,.0f} samples/s loss {loss:.4g}{val} eta {pr.eta_s:.0f}s")
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150) + ("\n" if pr.event == "epoch" else ""))
        elif pr.event == "epoch":
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _cmd_train(args) -> int:
    from aecore.runs import resolve, train_and_store
    from aecore.spec import make_spec
    from aecore.store import ModelStore
    settings = {k: getattr(args, k) for k in _setting_fields() if k != "epochs" and getattr(args, k, None) is not None}
    extra: dict[str, Any] = {}
    if args.recipe is not None:
        from aecore.recipes import recipe
        chosen = recipe(args.recipe)
        if args.model is not None and args.model != chosen.family:
            raise ConfigError(f"recipe {chosen.name} trains a {chosen.family}, not a {args.model}")
        _, data = resolve(make_spec(chosen.family, args.dataset), download=args.download)
        spec, budget = chosen.spec(data.name, n_train=len(data.x_train), epochs=args.epochs, **settings)
        assert budget is not None  # given n_train, a recipe always sizes its budget
        extra = {"recipe": chosen.name, "budget": {**asdict(budget), "text": budget.describe()}}
        print(f"recipe {chosen.name}: {budget.describe()}", file=sys.stderr)
    else:
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        spec = make_spec(args.model or "ae", args.dataset, **settings)
    spec, data = resolve(spec, download=args.download)
    print(f"data: {data.description}", file=sys.stderr)  # the description already gives the split sizes
    store = ModelStore()
    key = spec.key(data.fingerprint)
    stored = None if args.retrain else store.load(key)
    if stored is not None:
        print(f"loaded {key} from the store ({store.root})", file=sys.stderr)
        meta = stored.meta
        model = stored.model
    else:
        t0 = time.perf_counter()
        progress = _ProgressLine(spec.label())
        trained = train_and_store(spec, data, store, device=args.device, extra_meta=extra,
                                  callbacks={"on_batch_end": [progress], "on_epoch_end": [progress]})
        if trained.warning:
            print(f"warning: {trained.warning}", file=sys.stderr)
        meta = trained.stored.meta
        model = trained.stored.model
        print(f"trained {spec.label()} in {time.perf_counter() - t0:.1f}s; stored as {key}", file=sys.stderr)
    summary = {"key": key, "dataset": meta["dataset"]["name"], "dataset_description": meta["dataset"]["description"],
               "model": spec.family, "config": meta["spec"], "epochs": spec.train.epochs,
               "seconds": round(meta["seconds"], 3), "samples_per_s": round(meta["samples_per_s"], 1),
               "train": meta["final"]["train"], "val": meta["final"]["val"], "test": meta["final"]["test"],
               **meta["metrics"], **meta.get("reconstruction", {}), "from_store": stored is not None,
               "parameters": sum(p.numel() for p in model.parameters()),
               "recipe": meta.get("recipe", extra.get("recipe")), "budget": meta.get("budget", extra.get("budget")),
               "history": [{"stage": h["stage"], "epoch": h["epoch"], "train": h["train"], "val": h["val"]}
                           for h in meta["history"]]}
    if args.json:
        print(json.dumps(summary))
    else:
        test = meta["final"]["test"]
        print(f"{key}  {spec.label()}  test " + "  ".join(f"{k} {v:.4g}" for k, v in test.items()))
        for k, v in meta["metrics"].items():
            print(f"  {k}: {v:.4f}")
    return 0


def _cmd_list(args) -> int:
    from aecore.store import ModelStore
    store = ModelStore()
    rows = store.list()
    if args.json:
        print(json.dumps([{"key": m["key"], "label": m.get("label"), "dataset": m["dataset"]["name"],
                           "test": m["final"]["test"], "metrics": m.get("metrics", {}),
                           "seconds": m.get("seconds"), "created": m.get("created")} for m in rows]))
        return 0
    if not rows:
        print(f"no models in {store.root}")
    for m in rows:
        test = m["final"]["test"]
        created = time.strftime('%Y-%m-%d %H:%M', time.localtime(m.get('created', 0)))
        print(f"{m['key']}  {m.get('label', ''):32s} {m['dataset']['name']:14s} "
              f"test loss {test.get('loss', float('nan')):9.3f}  {created}")
    return 0


def _cmd_recipes(args) -> int:
    from aecore.recipes import RECIPES
    if args.json:
        print(json.dumps([r.to_dict() for r in RECIPES.values()]))
        return 0
    for r in RECIPES.values():
        print(f"{r.name:20s} {r.family:9s} {r.source.seed} {r.source.title}\n{'':20s} {r.summary}")
    return 0


def _cmd_info(args) -> int:
    from aecore.data import data_home, default_dataset_name, load_dataset
    from aecore.device import pick_device
    from aecore.store import ModelStore
    name = default_dataset_name()
    data = load_dataset(name)
    store = ModelStore()
    info = {"device": str(pick_device()), "dataset": name, "dataset_description": data.description,
            "data_dir": str(data_home()), "model_dir": str(store.root), "cached_models": len(store.keys())}
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:20s} {v}")
    return 0


def _cmd_prepare(args) -> int:
    from dataclasses import replace

    from aecore.data import load_dataset
    from aecore.runs import get_or_train
    from aecore.spec import lecture_specs, make_train_config

    def show(name, done, total):
        if total:
            print(f"\rdownloading {name}: {done / 2**20:.1f} / {total / 2**20:.1f} MiB", end="", file=sys.stderr)

    try:
        data = load_dataset(args.dataset, download=True, progress=show)
    except AecoreError as e:
        if args.dataset != "mnist":
            raise
        print(f"\nfull MNIST is not available ({e}); preparing the offline sample instead", file=sys.stderr)
        data = load_dataset("mnist-sample")
    print(f"data: {data.description}", file=sys.stderr)
    for spec in lecture_specs(data.name):
        if args.epochs is not None:
            spec = replace(spec, train=make_train_config({**spec.train.__dict__, "epochs": args.epochs}))
        progress = _ProgressLine(spec.label())
        stored, trained = get_or_train(spec, device=args.device,
                                       callbacks={"on_batch_end": [progress], "on_epoch_end": [progress]})
        print(f"{'trained' if trained else 'cached '} {stored.key}  {spec.label()}", file=sys.stderr)
    return 0


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"  # a user reads the reason, not the line of aecore that noticed it


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    command = {"train": _cmd_train, "list": _cmd_list, "recipes": _cmd_recipes, "info": _cmd_info,
               "prepare": _cmd_prepare}[args.command]
    try:
        return command(args)
    except AecoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
