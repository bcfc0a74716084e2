"""A new model family is one file and one registry line: a throwaway family written to a temporary
module trains and is stored, is on the CLI, and has its widgets on the Train page, with nothing else
edited."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aecore.cli import main
from aecore.configs import FAMILIES, FAMILY_REGISTRY, Family, config_class
from aecore.models import build_model, model_class
from aecore.runs import train_and_store
from aecore.spec import make_spec

ENTRY = Path(__file__).resolve().parents[1] / "app" / "Home.py"

# The whole family: its settings (with what the lab shows of them) and its model, in one file.
TOY_FAMILY = '''
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from aecore.configs import Control, FamilyConfig
from aecore.models.base import INPUT_DIM, Autoencoder, reconstruction_loss


@dataclass(frozen=True)
class ToyConfig(FamilyConfig):
    code: int = 3  # code size

    description: ClassVar[str] = "Toy autoencoder (one linear layer each way)"
    controls: ClassVar[tuple[Control, ...]] = (Control("code", "slider", "Toy code size", lo=2, hi=8, step=1),)
    small: ClassVar[dict[str, Any]] = {"code": 2}


class Toy(Autoencoder):
    family = "toy"
    config_class = ToyConfig

    def __init__(self, cfg: ToyConfig):
        super().__init__(cfg)
        self.enc = nn.Linear(INPUT_DIM, cfg.code)
        self.dec = nn.Linear(cfg.code, INPUT_DIM)

    @property
    def code_dim(self) -> int:
        return self.cfg.code

    def encode(self, x):
        return self.enc(x)

    def decode(self, code):
        return torch.sigmoid(self.dec(code))

    def loss(self, x):
        recon = reconstruction_loss(self.dec(self.encode(x)), x, "bce", logits=True).mean()
        return {"loss": recon, "recon": recon}
'''


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    """The toy family's file on the import path and its one registry line; both gone after the test."""
    (tmp_path / "toy_family.py").write_text(textwrap.dedent(TOY_FAMILY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(FAMILY_REGISTRY, "toy", Family("toy_family.ToyConfig", "toy_family.Toy"))
    yield
    sys.modules.pop("toy_family", None)


@pytest.mark.usefixtures("toy_family")
def test_a_family_from_one_file_trains_and_is_stored(tiny_data, tiny_npz, store):
    assert "toy" in FAMILIES and model_class("toy").config_class is config_class("toy")
    spec = make_spec("toy", str(tiny_npz), epochs=1, **config_class("toy").small)
    stored = train_and_store(spec, tiny_data, store).stored
    assert store.keys() == [stored.key]
    loaded = store.load(stored.key)
    assert type(loaded.model).__name__ == "Toy" and loaded.model.code_dim == 2
    assert build_model("toy").code_dim == 3  # the config's default


@pytest.mark.usefixtures("toy_family")
def test_a_family_from_one_file_is_on_the_cli(tiny_npz, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy" in capsys.readouterr().out  # in the --model help's list of families
    # its settings are flags without touching the CLI (`--code` is no built-in family's setting)
    assert main(["train", "--model", "toy", "--code", "4", "--epochs", "1", "--dataset", str(tiny_npz), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == "toy" and summary["config"]["model"]["code"] == 4


@pytest.mark.usefixtures("toy_family", "fresh_app", "ask_before_training")
def test_a_family_from_one_file_has_its_controls_on_the_train_page():
    at = AppTest.from_file(str(ENTRY), default_timeout=60).run()
    at.switch_page("../pages/train.py").run()
    picker = at.selectbox(key="w_family")
    assert "toy — Toy autoencoder (one linear layer each way)" in picker.options  # named with its description
    picker.select("toy").run()
    assert not at.exception, at.exception
    assert at.slider(key="w_toy_code").label == "Toy code size" and at.slider(key="w_toy_code").value == 3
