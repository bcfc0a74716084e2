"""What the simulated students do: move between pages, set sliders and select boxes, draw digits,
ask for maps, and the scripted moments of a lecture (several students pressing Train on the same
settings at once, two asking for the same new UMAP map at once).

Every student has its own seeded random generator, so a run can be repeated. Between actions a
student "thinks" for a while; meanwhile, like a browser, it reruns every fragment that asked to be
rerun every few seconds (the live training panel).
"""
from __future__ import annotations

import asyncio
import base64
import io
import math
import random
import time
from dataclasses import dataclass

from bench.lecture_hall.client import Run, Session, Widget, widget_value

# Each page's st.title, to check that a navigation landed where it should.
PAGE_TITLES = {"Home": "Latent Lab", "Train": "Train", "Draw & reconstruct": "Draw & reconstruct",
               "Latent grid": "Latent grid", "Embeddings": "Embeddings", "Filters & codes": "Filters & codes",
               "Stacked pretraining": "Stacked pretraining", "Models": "Models"}
PAGE_WEIGHTS = {"Home": 1, "Train": 2, "Draw & reconstruct": 3, "Latent grid": 3, "Embeddings": 2.5,
                "Filters & codes": 2, "Stacked pretraining": 0.5, "Models": 1}
DRAW, EMBEDDINGS, TRAIN = "Draw & reconstruct", "Embeddings", "Train"
CANVAS_SIDE, STROKE = 280, 18  # as on the Draw page
# Buttons a student may press at random; the others train, prepare or delete models.
SAFE_BUTTONS = {"New samples", "Clear"}
# Map settings come from a short list, as a lecturer would suggest them ("try 5, 15 and 50
# neighbours"), so each model has five maps to ask for (PCA, t-SNE, three UMAPs) and students share
# them; the other map settings stay at their defaults. Every other widget takes any value it allows.
MAP_CHOICES = {"Perplexity": [30], "Neighbours": [5, 15, 50], "Minimum distance": ["0.1"],
               "Test digits": ["1,000"], "Seed": [0]}
MAP_WIDGETS = ("Method", *MAP_CHOICES)
THINK_S = (1.0, 3.0)  # pause between a student's actions


@dataclass(frozen=True)
class TrainSettings:
    """A Train page configuration: the ae family with this code size and number of epochs."""

    code: int
    epochs: int

    def matches(self, spec: dict) -> bool:
        model, train = spec.get("model", {}), spec.get("train", {})
        return (spec.get("family") == "ae" and list(model.get("hidden", [])) == [256, self.code]
                and train.get("epochs") == self.epochs)


def canvas_value(rng: random.Random) -> dict:
    """The value the drawing canvas sends after a stroke: its drawing (the fabric.js objects) and the
    canvas as a PNG data URL, white ink on black like the Draw page's canvas."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    points = []
    for _stroke in range(rng.randint(1, 2)):  # a loop or a bar, like a hurried digit
        cx, cy = rng.uniform(90, 190), rng.uniform(90, 190)
        rx, ry = rng.uniform(20, 60), rng.uniform(30, 80)
        start, sweep = rng.uniform(0, 2 * math.pi), rng.uniform(math.pi, 2 * math.pi)
        line = [(cx + rx * math.cos(start + sweep * t / 20), cy + ry * math.sin(start + sweep * t / 20))
                for t in range(21)]
        pen.line(line, fill=(255, 255, 255, 255), width=STROKE, joint="curve")
        points.append(line)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    paths = [{"type": "path", "stroke": "#FFFFFF", "strokeWidth": STROKE, "fill": None,
              "path": [["M", *line[0]]] + [["L", x, y] for x, y in line[1:]]} for line in points]
    return {"drawing": {"raw": {"version": "5.3.0", "objects": paths, "background": "#000000"},
                        "data": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}}


def random_value(widget: Widget, page: str, rng: random.Random):
    """A value a user could give `widget` on `page` (None if it is not one to play with)."""
    p = widget.proto
    choices = MAP_CHOICES.get(widget.label) if page == EMBEDDINGS else None
    if widget.kind == "slider":
        if p.options:
            allowed = [o for o in (choices or p.options) if o in p.options] or list(p.options)
            return rng.choice(allowed)
        if choices:
            return rng.choice([c for c in choices if p.min <= c <= p.max] or [p.min])
        steps = int(round((p.max - p.min) / p.step)) if p.step else 0
        value = p.min + rng.randint(0, steps) * p.step
        return int(round(value)) if p.data_type == 0 else round(value, 6)
    if widget.kind in ("selectbox", "radio"):
        return rng.choice(list(p.options)) if len(p.options) > 1 else None
    if widget.kind == "multiselect":
        limit = min(p.max_selections or 3, 3, len(p.options))
        return rng.sample(list(p.options), rng.randint(1, limit)) if limit else None
    if widget.kind == "number_input":
        if choices:
            return rng.choice(choices)
        lo = p.min if p.has_min else p.default - 10
        hi = p.max if p.has_max else p.default + 10
        return rng.randint(int(lo), int(hi)) if p.data_type == 0 else rng.uniform(lo, hi)
    if widget.kind == "checkbox":
        return rng.random() < 0.5
    if widget.kind == "button":
        return True if widget.label in SAFE_BUTTONS else None
    if (widget.kind == "plotly_chart" and p.selection_mode) or \
            (widget.kind == "echarts_chart" and p.selection_activated):
        return chart_selection(page, rng)
    return None


def chart_selection(page: str, rng: random.Random) -> dict:
    """A click on the Latent grid's map, or a box dragged over the Embeddings map."""
    if page == EMBEDDINGS:  # an ECharts brush: series-local indices of a few classes' points
        x0, y0 = rng.uniform(-5, 5), rng.uniform(-5, 5)
        return {"selection": {"selected": [{"series_index": c, "series_id": f"class-{c}", "series_name": str(c),
                                            "data_type": "main",
                                            "data_indices": sorted(rng.sample(range(50), rng.randint(1, 10)))}
                                           for c in sorted(rng.sample(range(10), rng.randint(1, 4)))],
                              "areas": [{"brush_index": 0, "brush_type": "rect",
                                         "coord_range": [[x0, x0 + 2], [y0, y0 + 2]]}]}}
    k = rng.randrange(1600)
    return {"selection": {"points": [{"x": rng.uniform(-2, 2), "y": rng.uniform(-2, 2), "customdata": [-1],
                                      "curve_number": 0, "point_number": k, "point_index": k}],
                          "point_indices": [k], "box": [], "lasso": []}}


class Student:
    """One session's behaviour: random actions until a deadline, and the scripted moments."""

    def __init__(self, session: Session, rng: random.Random):
        self.session, self.rng = session, rng
        self._next_auto: dict[str, float] = {}

    # ---- single actions -------------------------------------------------------------------------

    async def open(self) -> Run:
        """The first page load, as when the student opens the link."""
        return await self.session.rerun("load")

    async def navigate(self, page: str, query: str = "") -> Run:
        run = await self.session.rerun("nav", page=page, query=query)
        if run.status == "ok" and self.session.title() != PAGE_TITLES[page]:
            self.session.report_problem("wrong_page", page,
                                        f"asked for {page!r}, the page says {self.session.title()!r}")
        return run

    async def set(self, widget: Widget, value, kind: str = "widget") -> Run:
        return await self.session.rerun(kind, widgets=[widget_value(widget, value)], fragment_id=widget.fragment_id)

    async def draw(self) -> Run | None:
        canvas = next((w for w in self.session.widgets() if w.kind == "bidi_component"
                       and "drawable_canvas" in w.proto.component_name), None)
        if canvas is None:
            return None
        return await self.set(canvas, canvas_value(self.rng), kind="draw")

    async def ask_for_map(self) -> Run | None:
        options = [w for w in self.session.widgets() if w.label in MAP_WIDGETS and not w.proto.disabled]
        if not options:
            return None
        widget = self.rng.choice(options)
        value = random_value(widget, EMBEDDINGS, self.rng)
        return None if value is None else await self.set(widget, value, kind="map")

    async def play_with_a_widget(self) -> Run | None:
        page = self.session.page_name
        candidates = []
        for w in self.session.widgets():
            if getattr(w.proto, "disabled", False) or w.kind in ("bidi_component", "file_uploader",
                                                                  "download_button"):
                continue
            value = random_value(w, page, self.rng)
            if value is not None:
                candidates.append((w, value))
        if not candidates:
            return None
        widget, value = self.rng.choice(candidates)
        kind = "map" if page == EMBEDDINGS and widget.label in MAP_WIDGETS else \
            "select" if widget.kind in ("plotly_chart", "echarts_chart") else "widget"
        return await self.set(widget, value, kind=kind)

    async def random_action(self) -> Run | None:
        here = self.session.page_name
        r = self.rng.random()
        if r < 0.15:
            return await self.navigate(DRAW) if here != DRAW else await self.draw()
        if r < 0.27:
            return await self.navigate(EMBEDDINGS) if here != EMBEDDINGS else await self.ask_for_map()
        if r < 0.50 or here not in PAGE_TITLES:
            pages = [p for p in PAGE_WEIGHTS if p != here and p in self.session.pages]
            return await self.navigate(self.rng.choices(pages, [PAGE_WEIGHTS[p] for p in pages])[0])
        return await self.play_with_a_widget()

    # ---- time passing ---------------------------------------------------------------------------

    async def think(self, seconds: float) -> None:
        """Wait `seconds`, rerunning the page's auto-refreshing fragments on their interval meanwhile."""
        end = time.monotonic() + seconds
        while self.session.alive:
            now = time.monotonic()
            if now >= end:
                return
            for fid, interval in list(self.session.auto_reruns.items()):
                due = self._next_auto.setdefault(fid, now + interval)
                if now >= due:
                    self._next_auto[fid] = now + interval
                    await self.session.rerun("auto", fragment_id=fid, auto=True, timeout_s=15)
            await asyncio.sleep(min(0.1, max(end - time.monotonic(), 0)))

    async def live_until(self, deadline: float) -> None:
        """Random actions, a pause before each, until `deadline` (time.monotonic)."""
        while self.session.alive and time.monotonic() < deadline:
            await self.think(min(self.rng.uniform(*THINK_S), max(deadline - time.monotonic(), 0)))
            if time.monotonic() >= deadline or not self.session.alive:
                return
            await self.random_action()

    async def watch(self, seconds: float) -> None:
        """Stay on the page while its live panel refreshes (or until it stops refreshing)."""
        end = time.monotonic() + seconds
        while self.session.alive and time.monotonic() < end:
            await self.think(0.5)
            if not self.session.auto_reruns:
                return

    # ---- scripted moments -----------------------------------------------------------------------

    async def prepare_training(self, settings: TrainSettings) -> bool:
        """Open Train and set the ae family's code size and epochs; True when Train can be pressed."""
        await self.navigate(TRAIN)
        family = self.session.widget("Model family", "selectbox")
        if family is None:
            return False
        ae = next((o for o in family.proto.options if o.startswith("ae ")), None)
        if ae is None:
            return False
        await self.set(family, ae)
        for label, value in (("Hidden layers", "784-256-32"), ("Code size", settings.code),
                             ("Epochs", settings.epochs)):
            widget = self.session.widget(label)
            if widget is None:
                return False
            await self.set(widget, value)
        button = self.session.widget("Train", "button")
        return button is not None and not button.proto.disabled

    async def press_train(self) -> Run | None:
        button = self.session.widget("Train", "button")
        return None if button is None else await self.set(button, True, kind="train")
