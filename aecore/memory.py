"""Will a training run fit in memory? An estimate made before anything is allocated.

Settings that pass validation can still ask for more memory than the machine has (six 8192-wide
layers are 683 million parameters). `check_training_fits` builds the model on PyTorch's "meta"
device, where tensors have shapes but no storage, counts its parameters and the activations of one
batch, adds the dataset as the trainer holds it, and refuses in one sentence when the total exceeds
a share of the memory available (physical memory, a container's limit, or a GPU's free memory).
The estimate is rough: a conv_vae with 256 filters, dense 4096 and latent 1024 on the 5,000-digit
sample was estimated at 7.7 GB and peaked at 8.5 GB (ru_maxrss, 3 batches and the test evaluation),
which the 50% share leaves room for.
"""
from __future__ import annotations

import os
from pathlib import Path

from aecore.errors import ConfigError

# Of available memory, what one run may plan to use: the server, other jobs and the map worker need the rest.
MEMORY_SHARE = 0.5
BYTES_PER_PARAMETER = 16  # float32 weight, gradient and Adam's two moments
# Each layer's output is kept for backward and its gradient made, plus the functional ops between layers.
ACTIVATION_FACTOR = 3
BYTES_PER_PIXEL_HELD = 4  # the trainer holds every split as float32 on the device


def training_bytes(spec, n_images: int, n_train: int | None = None) -> int:
    """Estimated peak bytes to train `spec` on `n_images` images (all splits, `n_train` of them
    training images: a batch is never larger) at its batch size."""
    import torch

    from aecore.models import build_model

    batch = min(spec.train.batch_size, n_images if n_train is None else n_train)
    outputs = 0

    def count(module, inputs, output) -> None:
        nonlocal outputs
        if isinstance(output, torch.Tensor):
            outputs += output.numel()

    with torch.device("meta"):  # shapes only: nothing is allocated, however large the model
        model = build_model(spec.family, spec.model)
        stages = model.stages(spec.train.epochs)
        params = {id(p): p.numel() for stage in stages for p in stage.params}
        params.update({id(p): p.numel() for p in model.parameters()})
        leaves = [m for stage in stages for m in _modules_of(stage, model) if not any(True for _ in m.children())]
        hooks = [m.register_forward_hook(count) for m in {id(m): m for m in leaves}.values()]
        x = torch.zeros(batch, 784)
        y = torch.zeros(batch, dtype=torch.int64)
        try:
            for stage in stages:
                stage.loss_fn(x, y)
        finally:
            for h in hooks:
                h.remove()
    activations = ACTIVATION_FACTOR * (outputs + batch * 784) * 4
    return sum(params.values()) * BYTES_PER_PARAMETER + activations + n_images * 784 * BYTES_PER_PIXEL_HELD


def _modules_of(stage, model):
    """The model's modules and those of any network a stage trains besides it (stacked's baseline)."""
    yield from model.modules()
    owner = getattr(stage.loss_fn, "__self__", None)
    if owner is not None and hasattr(owner, "modules"):
        yield from owner.modules()


def available_bytes(device=None) -> int | None:
    """Memory a new run can use now: a GPU's free memory, else the smaller of the kernel's
    MemAvailable and a container's (cgroup v2) limit less its usage; None when unknown."""
    import torch

    if device is not None and torch.device(device).type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except (RuntimeError, AssertionError):
            return None
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_training_fits(spec, n_images: int, n_train: int | None = None, device=None) -> None:
    """Raise ConfigError, in one sentence, when `spec` would need more than MEMORY_SHARE of the
    memory available on `device` (nothing is checked when the available memory is unknown)."""
    available = available_bytes(device)
    if available is None:
        return
    needed = training_bytes(spec, n_images, n_train)
    budget = MEMORY_SHARE * available
    if needed > budget:
        raise ConfigError(
            f"this {spec.family} model needs about {_gb(needed)} to train at batch size "
            f"{min(spec.train.batch_size, n_train or n_images)}, "
            f"more than the {_gb(budget)} this machine can spare now; choose fewer or narrower layers, "
            "a smaller code or a smaller batch")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"
