"""Tests of the benchmarks: each one runs end to end with --quick and ends its output with one JSON
line carrying its figures; and the measuring helpers they share do what they say."""
from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout

import numpy as np
import pytest

from bench import maps, pca_baseline, time_to_quality, vae_quality
from bench.common import Stopwatch, evaluate_loss, fmt, image_tensor, subset
from bench.textbook import Checkpoint, checkpoint_steps, train_textbook
from tests.browser import missing_browser_reason

QUICK = ["--quick", "--dataset", "mnist-sample"]
EXTRA_ARGS = {time_to_quality: ["--candidate", "256:3e-3"]}

EXPECTED_KEYS = {
    time_to_quality: {"benchmark", "dataset", "machine", "bar", "textbook", "aecore", "candidates", "speedup",
                      "cpu_speedup", "target_speedup", "meets_target", "data_pipeline", "runs"},
    pca_baseline: {"benchmark", "dataset", "machine", "ae_test_mse", "pca_test_mse", "ratio", "target_ratio",
                   "meets_target", "ae_seconds", "pca_seconds"},
    vae_quality: {"benchmark", "dataset", "machine", "epochs", "textbook", "aecore", "loss_difference", "speedup",
                  "runs"},
    maps: {"benchmark", "dataset", "machine", "tsne", "umap", "cache"},
}
MACHINE_KEYS = {"cpus", "torch", "torch_threads", "load_average"}


def last_json_line(text: str) -> dict:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the benchmark printed nothing"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`quick_run(module)` -> (what main returned, its standard output); each benchmark runs once, with
    its own AECORE_HOME under pytest's temporary folder, so ~/.cache is never touched."""
    done = {}

    def run(module):
        if module not in done:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("AECORE_HOME", str(tmp_path_factory.mktemp("bench-home")))
                out = io.StringIO()
                with redirect_stdout(out):
                    returned = module.main(QUICK + EXTRA_ARGS.get(module, []))
            done[module] = (returned, out.getvalue())
        return done[module]

    return run


# ---- every benchmark, end to end ---------------------------------------------------------------------

# bench.maps fits t-SNE and UMAP in fresh processes, cold numba cache included: slow.
@pytest.mark.parametrize("module", [pytest.param(m, marks=pytest.mark.slow) if m is maps else m for m in EXPECTED_KEYS],
                         ids=lambda m: m.__name__.split(".")[-1])
def test_quick_run_ends_with_a_json_line_of_its_figures(module, quick_run):
    returned, out = quick_run(module)
    figures = last_json_line(out)
    assert EXPECTED_KEYS[module] <= set(figures)
    assert figures["benchmark"] == module.__name__.split(".")[-1]
    assert figures["quick"] is True
    assert MACHINE_KEYS <= set(figures["machine"])
    assert len(out.splitlines()) > 3  # a readable table came before the JSON
    assert set(returned) == set(figures)


def test_time_to_quality_reports_the_bar_and_both_loops(quick_run):
    figures = last_json_line(quick_run(time_to_quality)[1])
    assert figures["bar"] > 0
    assert figures["textbook"]["epochs_to_bar"] == 1.0  # the bar is its own final loss
    assert figures["textbook"]["speedup"] == 1.0
    assert [(c["batch_size"], c["lr"]) for c in figures["candidates"]] == [(256, 3e-3)]
    assert {r["loop"] for r in figures["runs"]} == {"textbook", "aecore"}
    for run in figures["runs"]:
        epochs = [point[0] for point in run["curve"]]
        assert epochs == sorted(epochs) and run["samples_per_s"] > 0


@pytest.mark.slow  # the quick run of bench.maps (shared with its slow parametrized run above)
def test_maps_reports_knn_accuracy_of_both_tsne_maps(quick_run):
    figures = last_json_line(quick_run(maps)[1])
    tsne = figures["tsne"]
    assert tsne["points"] == 300 and tsne["ours_s"] > 0 and tsne["sklearn_s"] > 0
    for name in ("knn_ours", "knn_sklearn", "knn_codes"):
        assert 0.0 <= tsne[name] <= 1.0
    assert figures["cache"]["tsne_s"] < 0.3
    assert figures["umap"]["cold"] is None  # --quick leaves UMAP's minute of compiling out


# ---- the helpers ---------------------------------------------------------------------------------------

def test_stopwatch_leaves_out_paused_time():
    clock = Stopwatch().start()
    with clock.paused():
        time.sleep(0.2)
    assert clock.elapsed < 0.15
    assert clock.cpu < 0.15


def test_checkpoint_steps_spread_over_the_epoch_and_end_it():
    assert checkpoint_steps(430, 4) == {108, 215, 322, 430}
    assert checkpoint_steps(3, 4) == {1, 2, 3}
    assert checkpoint_steps(10, 0) == set()


def test_first_checkpoint_at_or_below_the_bar():
    points = [Checkpoint(e, e, e, 0, {"loss": loss}) for e, loss in ((0.5, 9.0), (1.0, 7.0), (1.5, 6.0))]
    assert time_to_quality.first_at_or_below(points, 7.0).epochs == 1.0
    assert time_to_quality.first_at_or_below(points, 5.0) is None


def test_textbook_loop_trains_and_evaluates_at_checkpoints(tiny_data):
    import torch

    from aecore.models import build_model

    torch.manual_seed(0)
    model = build_model("ae", {"hidden": (32, 8)})
    x = image_tensor(tiny_data.x_test)
    result = train_textbook(model, tiny_data.x_train, epochs=2, evaluate=lambda m: evaluate_loss(m, x),
                            evals_per_epoch=2)
    assert [c.epochs for c in result.checkpoints] == [0.5, 1.0, 1.5, 2.0]  # 512 digits: 4 batches an epoch
    assert result.checkpoints[-1].parts["loss"] < result.checkpoints[0].parts["loss"]
    assert result.samples == 2 * len(tiny_data.x_train) and result.seconds > 0
    assert model.training  # evaluation put it back as it found it


def test_sampled_vae_loss_averages_its_draws():
    import torch

    from aecore.models import build_model
    from aecore.spec import make_spec

    spec = make_spec("vae", "mnist-sample", hidden=(32,), latent=4)
    torch.manual_seed(0)
    model = build_model(spec.family, spec.model).eval()
    x = torch.rand(64, 784)
    one, two = (vae_quality.sampled_loss(model, x, draws=1, seed=s) for s in (7, 8))
    assert one != two, "different seeds draw different z"
    torch.manual_seed(7)
    model.train()
    with torch.no_grad():
        first, second = (float(model.loss(x)["loss"]) for _ in range(2))
    model.eval()
    assert vae_quality.sampled_loss(model, x, draws=2, seed=7) == pytest.approx((first + second) / 2, rel=1e-5)
    assert not model.training, "the model's mode is put back"
    assert vae_quality.sampled_loss(model, x, draws=1, seed=7) == pytest.approx(one, rel=1e-6)


def test_knn_accuracy_of_separated_and_mixed_classes():
    rng = np.random.default_rng(0)
    apart = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(10, 0.1, (50, 2))])
    labels = np.repeat([0, 1], 50)
    assert maps.knn_accuracy(apart, labels) == 1.0
    # Pairs of identical points with different labels: each point's nearest *other* point is its twin,
    # so leave-one-out gets every one wrong, whichever of the twins the neighbour search lists first.
    twins = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    assert maps.knn_accuracy(twins, np.array([0, 1, 0, 1]), k=1) == 0.0


def test_fresh_process_times_its_first_map(tmp_path):
    codes_file = tmp_path / "codes.npy"
    np.save(codes_file, np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32))
    (tmp_path / "numba").mkdir()
    timing = maps.first_map_in_fresh_process(codes_file, "pca", tmp_path / "numba")
    assert timing["map_s"] > 0 and timing["process_s"] >= timing["map_s"] + timing["import_s"]


def test_subset_takes_seeded_slices(tiny_data):
    part = subset(tiny_data, 100, 20, 30)
    assert (len(part.x_train), len(part.x_val), len(part.x_test)) == (100, 20, 30)
    assert part.fingerprint != tiny_data.fingerprint
    assert np.array_equal(subset(tiny_data, 100, 20, 30).x_train, part.x_train)


def test_table_cells():
    assert fmt(None) == "-" and fmt(float("nan")) == "-"
    assert fmt(12345.6) == "12,346" and fmt(0.012345) == "0.0123" and fmt(3) == "3"


# ---- the benchmarks that drive Chromium --------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or "")
def test_interaction_and_dashboard_overhead_run_in_chromium(quick_run):
    from bench import dashboard_overhead, interaction

    figures, out = quick_run(interaction)
    assert last_json_line(out)["benchmark"] == "interaction"
    assert 0 < figures["startup_s"] < 60 and 0 < figures["stroke_s"] < 10 and 0 < figures["rerun_s"] < 10
    assert all(s["images"] >= 2 for s in figures["strokes"]), "each stroke shows the input and a reconstruction"
    umap_map = figures["umap_maps"]["0s"]
    assert umap_map["first_map_fit"].startswith("Fitted in") and 0 < umap_map["cached_map_server_s"] < 10
    assert len(umap_map["tries"]) == 1 and umap_map["first_map_max_s"] == umap_map["first_map_s"]  # --quick: one try

    overhead, out = quick_run(dashboard_overhead)
    assert last_json_line(out)["benchmark"] == "dashboard_overhead"
    assert overhead["same_epochs"] and len(overhead["pairs"]) == 1
    assert {"headless", "page polls", "Chromium"} <= set(overhead["pairs"][0])


@pytest.mark.browser
@pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or "")
def test_hover_counts_the_redraws_of_the_pages_own_view(quick_run):
    from bench import hover

    figures, out = quick_run(hover)
    assert last_json_line(out) == figures and figures["quick"] is True
    assert figures["benchmark"] == "hover" and MACHINE_KEYS <= set(figures["machine"])
    assert figures["moves"] > 5 and 0 < figures["draws"] <= figures["moves"] + 1  # one redraw per frame at most
    assert figures["updates_per_s"] == pytest.approx(figures["draws"] / figures["seconds"], abs=0.5)


@pytest.mark.browser
@pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or "")
def test_map_redraw_times_each_way_of_drawing(quick_run):
    from bench import map_redraw

    figures, out = quick_run(map_redraw)
    assert last_json_line(out)["benchmark"] == "map_redraw"
    assert set(figures["seconds"]) == {"picture-1000", "echarts-20", "svg-20", "webgl-20"}
    assert all(len(times) == 2 and all(0 < t < 30 for t in times) for times in figures["seconds"].values())


def test_first_open_times_every_page_of_the_sidebar_but_home():
    from app.navigation import PAGES
    from bench import first_open

    timed = [path for path, *_ in first_open.timed_pages()]
    assert timed == [file.removesuffix(".py") for file, *_ in PAGES if file != "home.py"]
    assert {"lessons", "denoise", "faceoff", "symbols", "classics"} <= set(timed)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or "")
def test_first_open_times_each_page_on_first_open_and_again(quick_run):
    from bench import first_open

    figures, out = quick_run(first_open)
    assert last_json_line(out)["benchmark"] == "first_open"
    assert set(figures["pages"]) == set(first_open.QUICK_PAGES)
    for page in figures["pages"].values():
        assert page["first"] is not None and page["again"] is not None, "a page never showed its content"
    assert not figures["server_errors"]
