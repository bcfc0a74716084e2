"""The Latent grid's plane at the speed of the hand: a self-contained HTML/JS view for `st.iframe` that
shows the digit decoded under the pointer with no server round trip. The server decodes a fine grid of
codes once (`aecore.latent.decode_plane`) into one image atlas, served by URL so that the browser fetches
it once and caches it; the browser blends the four tiles around the pointer and draws the result
enlarged, beside the plane with the test digits' codes, a crosshair and, for a VAE, one digit's μ and σ
ellipses. `bench.hover` measures this same HTML in Chromium.
"""
from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence

import numpy as np

from aecore.pictures import tile_images

ATLAS_SIDE = 48  # 48 x 48 decodes; 64 x 64 would send ~1.8x the bytes for tiles that blending already joins
ATLAS_QUALITY = 90  # WebP: ~0.4 of the lossless bytes, no visible blocks at 10x enlargement
DIGIT_PX = 280  # the decoded digit's side on screen
HEIGHT = 460  # the view's height in pixels: the plane is square, about the grid's side at 1280x720
COLORS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
          "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9"]  # app.figures.CLASS_COLORS


def atlas_webp(images: np.ndarray) -> bytes:
    """The decodes of `decode_plane`, (n, n, 28, 28) in [0, 1], tiled into one WebP image."""
    from PIL import Image

    n = images.shape[0]
    sheet = tile_images(images.reshape(n * n, 28, 28), ncols=n, pad=0)  # (28n, 28n)
    buffer = io.BytesIO()
    Image.fromarray((np.clip(sheet, 0, 1) * 255).round().astype(np.uint8)).save(
        buffer, format="WEBP", quality=ATLAS_QUALITY)
    return buffer.getvalue()


def data_url(webp: bytes) -> str:
    """`webp` inlined as a data URL, for the view outside the dashboard (`bench.hover`)."""
    return "data:image/webp;base64," + base64.b64encode(webp).decode("ascii")


def square_view(box: tuple[float, float, float, float], pad: float = 0.06) -> tuple[float, float, float, float]:
    """A square (x0, x1, y0, y1) around `box`, `pad` of its larger side to spare: one scale on both
    axes, so a σ ellipse keeps its shape."""
    x0, x1, y0, y1 = box
    half = max(x1 - x0, y1 - y0) * (0.5 + pad)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - half, cx + half, cy - half, cy + half


def plane_atlas(model, codes: np.ndarray, n: int = ATLAS_SIDE) -> tuple[bytes, tuple[float, float, float, float]]:
    """(the atlas as WebP bytes, the square view it covers) for a model with a 2-D code, whose test digits
    have `codes` (N, 2): the view holds 98% of the codes on each axis (`app.figures.robust_box`)."""
    from aecore.latent import decode_plane
    from app.figures import robust_box

    view = square_view(robust_box(codes))
    return atlas_webp(decode_plane(model, n, view)), view


def plane_view_html(atlas_url: str, n: int, view: tuple[float, float, float, float], codes: np.ndarray,
                    labels: np.ndarray, class_names: Sequence[str], *, mark: dict | None = None,
                    text_px: int = 16, height: int = HEIGHT) -> str:
    """The hover view's page.

    Parameters
    ----------
    atlas_url : str
        Where the browser fetches the atlas (`atlas_webp` of `decode_plane(model, n, view)`): a URL the
        server serves (`app.resources.media_url`), fetched once and then taken from the browser's cache
        however often the page reruns, or a `data_url`.
    n : int
        The atlas's side in tiles.
    view : (x0, x1, y0, y1)
        The plane shown, the same box the atlas was decoded over (square: `square_view`).
    codes, labels, class_names
        The test digits' codes (N, 2), drawn as dots coloured by class.
    mark : dict, optional
        {"name": str, "mu": (2,), "sigma": (2,)}: a star at μ with its 1σ and 2σ ellipses.
    text_px : int
        The smallest text, as the charts' (`app.figures.text_px`).

    The page counts its redraws in ``window.hoverDraws`` (their milliseconds in ``window.hoverDrawMs``)
    and keeps the code under the pointer in ``document.body.dataset.z``, for tests and `bench.hover`.
    """
    points = np.round(np.asarray(codes, dtype=np.float64), 3)
    config = {
        "atlas": atlas_url, "n": int(n), "view": [float(v) for v in view],
        "points": [[float(x), float(y), int(c)] for (x, y), c in zip(points, labels)],
        "colors": COLORS, "names": [str(c) for c in class_names], "px": int(text_px), "height": int(height),
        "digit": DIGIT_PX,
        "mark": None if mark is None else {"name": mark["name"], "mu": [float(v) for v in mark["mu"]],
                                           "sigma": [float(v) for v in mark["sigma"]]},
    }
    return _PAGE.replace("__CONFIG__", json.dumps(config, separators=(",", ":")))


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  body { margin: 0; font-family: "Source Sans Pro", sans-serif; color: #1a1a1a; background: #fff;
         display: flex; gap: 20px; align-items: flex-start; overflow: hidden; }
  #plane { cursor: crosshair; touch-action: none; display: block; }
  #digit { display: block; background: #000; image-rendering: pixelated; }
  #z { margin-top: 8px; font-variant-numeric: tabular-nums; }
</style></head><body>
<canvas id="plane" aria-label="the latent plane: move the pointer over it"></canvas>
<div id="side"><canvas id="digit" aria-label="the digit decoded under the pointer"></canvas><div id="z"></div></div>
<script>
const C = __CONFIG__;
const N = C.n, T = 28, A = N * T, PX = C.px;
const [vx0, vx1, vy0, vy1] = C.view;
const dpr = window.devicePixelRatio || 1;
const plane = document.getElementById("plane"), digit = document.getElementById("digit");
const zText = document.getElementById("z");
zText.style.fontSize = PX + "px";
const side = C.height - 4;  // the plane's canvas is square
const M = {left: Math.round(PX * 3.2), right: 10, top: Math.round(PX * 1.6), bottom: Math.round(PX * 2.6)};
const W = side - M.left - M.right, H = side - M.top - M.bottom, S = Math.min(W, H);
function sized(canvas, w, h) {
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  const ctx = canvas.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0); return ctx;
}
const ctx = sized(plane, side, side);
const digitSide = Math.max(112, Math.min(C.digit, window.innerWidth - side - 24));
const dctx = sized(digit, digitSide, digitSide);
const toX = (z) => M.left + (z - vx0) / (vx1 - vx0) * S, toY = (z) => M.top + (vy1 - z) / (vy1 - vy0) * S;
const fromX = (px) => vx0 + (px - M.left) / S * (vx1 - vx0), fromY = (py) => vy1 - (py - M.top) / S * (vy1 - vy0);

// The plane without the crosshair, drawn once and copied under each crosshair.
const background = document.createElement("canvas");
const bctx = sized(background, side, side);
function ticks(lo, hi) {
  const step = [0.5, 1, 2, 5, 10, 20].find(s => (hi - lo) / s <= 6) || 50;
  const out = []; for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(6));
  return out;
}
function drawBackground() {
  const b = bctx;
  b.fillStyle = "#fff"; b.fillRect(0, 0, side, side);
  b.strokeStyle = "#bbb"; b.lineWidth = 1; b.strokeRect(M.left, M.top, S, S);
  b.font = PX + "px sans-serif"; b.fillStyle = "#1a1a1a";
  b.textAlign = "center"; b.textBaseline = "top";
  for (const v of ticks(vx0, vx1)) { b.fillText(String(v), toX(v), M.top + S + 4); }
  b.fillText("z\\u2081", M.left + S / 2, M.top + S + PX + 8);
  b.textAlign = "right"; b.textBaseline = "middle";
  for (const v of ticks(vy0, vy1)) { b.fillText(String(v), M.left - 6, toY(v)); }
  b.save(); b.translate(PX * 0.7, M.top + S / 2); b.rotate(-Math.PI / 2); b.textAlign = "center";
  b.fillText("z\\u2082", 0, 0); b.restore();
  b.save(); b.beginPath(); b.rect(M.left, M.top, S, S); b.clip();
  for (const [x, y, c] of C.points) {
    b.fillStyle = C.colors[c % C.colors.length]; b.globalAlpha = 0.75;
    b.beginPath(); b.arc(toX(x), toY(y), 2.6, 0, 2 * Math.PI); b.fill();
  }
  b.globalAlpha = 1;
  if (C.mark) {
    const [mx, my] = C.mark.mu, [sx, sy] = C.mark.sigma, k = S / (vx1 - vx0);
    star(b, toX(mx), toY(my), 7);
    for (const [r, dash] of [[1, []], [2, [5, 3]]]) {  // over the star: a σ of a few pixels stays visible
      for (const [colour, width] of [["#fff", 4], ["#000", 2]]) {
        b.strokeStyle = colour; b.lineWidth = width; b.setLineDash(dash); b.beginPath();
        b.ellipse(toX(mx), toY(my), Math.max(r * sx * k, 1.5), Math.max(r * sy * k, 1.5), 0, 0, 2 * Math.PI);
        b.stroke();
      }
    }
    b.setLineDash([]);
  }
  b.restore();
  // the class colours, along the top
  b.font = PX + "px sans-serif"; b.textAlign = "left"; b.textBaseline = "middle";
  let x = M.left;
  C.names.forEach((name, c) => {
    b.fillStyle = C.colors[c % C.colors.length]; b.fillRect(x, M.top / 2 - 5, 10, 10); x += 14;
    b.fillStyle = "#1a1a1a"; b.fillText(name, x, M.top / 2); x += b.measureText(name).width + 10;
  });
}
function star(b, x, y, r) {
  b.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + i * Math.PI / 5, rr = i % 2 ? r * 0.45 : r;
    b.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  b.closePath(); b.fillStyle = "#000"; b.fill(); b.strokeStyle = "#fff"; b.lineWidth = 1.5; b.stroke();
}
drawBackground();

// The atlas's pixels, read once; a redraw blends the four tiles around the code (bilinear).
let atlas = null;
const small = document.createElement("canvas"); small.width = small.height = T;
const sctx = small.getContext("2d"), out = sctx.createImageData(T, T);
function blend(z1, z2) {
  const fx = Math.min(Math.max((z1 - vx0) / (vx1 - vx0) * (N - 1), 0), N - 1);
  const fy = Math.min(Math.max((vy1 - z2) / (vy1 - vy0) * (N - 1), 0), N - 1);
  const j0 = Math.min(Math.floor(fx), N - 2), i0 = Math.min(Math.floor(fy), N - 2), u = fx - j0, v = fy - i0;
  const w = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v];
  const top = i0 * T * A + j0 * T, bottom = top + T * A;
  const base = [top, top + T, bottom, bottom + T];
  const d = out.data;
  for (let r = 0; r < T; r++) {
    const row = r * A;
    for (let c = 0; c < T; c++) {
      const k = row + c;
      const g = w[0] * atlas[base[0] + k] + w[1] * atlas[base[1] + k]
              + w[2] * atlas[base[2] + k] + w[3] * atlas[base[3] + k];
      const o = (r * T + c) * 4; d[o] = d[o + 1] = d[o + 2] = g; d[o + 3] = 255;
    }
  }
  sctx.putImageData(out, 0, 0);
}

let pending = null, scheduled = false;
window.hoverDraws = 0;
window.hoverDrawMs = 0;  // time spent redrawing, for bench.hover
function draw() {
  scheduled = false;
  if (!pending || !atlas) return;
  const started = performance.now();
  const [px, py] = pending;
  const z1 = Math.min(Math.max(fromX(px), vx0), vx1), z2 = Math.min(Math.max(fromY(py), vy0), vy1);
  ctx.drawImage(background, 0, 0, side, side);
  const x = toX(z1), y = toY(z2);
  ctx.strokeStyle = "#d00"; ctx.lineWidth = 1.5; ctx.beginPath();
  ctx.moveTo(x, M.top); ctx.lineTo(x, M.top + S); ctx.moveTo(M.left, y); ctx.lineTo(M.left + S, y); ctx.stroke();
  ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke();
  blend(z1, z2);
  dctx.imageSmoothingEnabled = false;
  dctx.drawImage(small, 0, 0, digitSide, digitSide);
  const text = "z = (" + z1.toFixed(2) + ", " + z2.toFixed(2) + ")";
  zText.textContent = text;
  document.body.dataset.z = z1.toFixed(4) + "," + z2.toFixed(4);
  window.hoverDraws += 1;
  window.hoverDrawMs += performance.now() - started;
}
function request(px, py) {
  pending = [px, py];
  if (!scheduled) { scheduled = true; requestAnimationFrame(draw); }
}
plane.addEventListener("pointermove", (e) => {
  const r = plane.getBoundingClientRect();
  request(e.clientX - r.left, e.clientY - r.top);
});
plane.addEventListener("pointerdown", (e) => {
  const r = plane.getBoundingClientRect();
  request(e.clientX - r.left, e.clientY - r.top);
});
// The atlas comes by its URL, not inside this page, so a rerun that rebuilds the page resends only the
// page; a URL fetched before comes from the browser's cache. A file the server has just replaced (the
// page's next run) is fetched again shortly.
async function loadAtlas(tries) {
  try {
    const response = await fetch(C.atlas, {cache: "force-cache"});
    if (!response.ok) throw new Error("atlas: HTTP " + response.status);
    const image = await createImageBitmap(await response.blob());
    const sheet = document.createElement("canvas"); sheet.width = sheet.height = A;
    const s = sheet.getContext("2d", {willReadFrequently: true}); s.drawImage(image, 0, 0);
    const rgba = s.getImageData(0, 0, A, A).data;
    atlas = new Uint8Array(A * A);
    for (let i = 0; i < A * A; i++) atlas[i] = rgba[i * 4];
  } catch (error) {
    if (tries > 0) { setTimeout(() => loadAtlas(tries - 1), 500); } else { zText.textContent = String(error); }
    return;
  }
  const start = C.mark ? C.mark.mu : [(vx0 + vx1) / 2, (vy0 + vy1) / 2];  // the first picture before any move
  request(toX(start[0]), toY(start[1]));
  document.body.dataset.ready = "1";
}
loadAtlas(5);
</script></body></html>
"""
