"""A browser stand-in that speaks Streamlit's own websocket protocol, without a browser.

One `Session` is one browser tab: it connects to `/_stcore/stream` with the `streamlit` subprotocol,
asks for reruns with `BackMsg.rerun_script` (a `ClientState` naming the page, the query string, the
widget values that changed and, for a widget inside a fragment, the fragment), reads every
`ForwardMsg` as it arrives and keeps what a browser would: the page's elements by delta path, the
widgets on it by label, the navigation's pages, the URL query string, the fragments that asked to be
rerun every few seconds and the cached messages the server may refer to by hash. It also fetches the
page's images from `/media`, as a browser does when it draws them.

A rerun is timed from sending it to the `script_finished` of the run it started, matched by the run
identity that `new_session` and `script_finished` carry. What would break a page for a user is
recorded as it arrives: exception elements, compile errors, unknown pages, a closed connection.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_FRAGMENT = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
ALERT_ERROR = 1  # Alert.Format.ERROR: an st.error box
CACHE_HASHES = 256  # cached messages a session remembers (the browser keeps its own bounded cache)
WIDGET_KINDS = ("slider", "selectbox", "radio", "multiselect", "number_input", "checkbox", "button",
                "plotly_chart", "echarts_chart", "bidi_component", "file_uploader", "download_button")


class ProtocolError(Exception):
    """The server said something a browser could not have understood."""


@dataclass
class Widget:
    """A widget on the current page: its kind ("slider", ...), proto and the fragment it lives in."""

    kind: str
    proto: Any
    fragment_id: str
    path: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.proto.id

    @property
    def label(self) -> str:
        return getattr(self.proto, "label", "") or getattr(self.proto, "component_name", "")


@dataclass
class Run:
    """One finished (or abandoned) rerun request."""

    kind: str  # what the user did: "nav", "widget", "draw", "map", "train", "auto", ...
    page: str
    seconds: float
    status: str  # "ok", "timeout", "closed"
    fitted: bool = False  # an Embeddings run that fitted a map instead of reading it from the cache
    map_id: str = ""  # the Embeddings map shown (its settings, from the chart's key)
    exceptions: int = 0
    started: float = 0.0  # time.monotonic() when it was sent


@dataclass
class Problem:
    """Something that would show a user a broken page."""

    session: int
    kind: str  # "exception", "compile_error", "page_not_found", "protocol", "connection", "timeout", ...
    page: str
    text: str
    at: float = field(default_factory=time.monotonic)


class Session:
    """One simulated browser tab connected to a Streamlit server.

    Parameters
    ----------
    base_url : str
        ``http://127.0.0.1:PORT`` of the server.
    number : int
        The session's index, used in reports.
    fetch_media : bool
        Fetch each image of a page from ``/media`` once, as a browser would.
    """

    def __init__(self, base_url: str, number: int, *, fetch_media: bool = True, timeout_s: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.host, self.port = self.base_url.removeprefix("http://").split(":")
        self.number = number
        self.fetch_media = fetch_media
        self.timeout_s = timeout_s
        self.pages: dict[str, str] = {}  # page name -> page_script_hash
        self.page_hash = ""
        self.query_string = ""
        self.elements: dict[tuple[int, ...], Element] = {}
        self.element_fragments: dict[tuple[int, ...], str] = {}
        self.auto_reruns: dict[str, float] = {}  # fragment id -> interval in seconds
        self.runs: list[Run] = []
        self.problems: list[Problem] = []
        self.error_alerts: list[str] = []
        self.warnings: list[str] = []
        self.media_fetched = 0
        self.media_missing = 0
        self.bytes_received = 0
        self.messages_received = 0
        self.cache_hits = 0  # messages the server sent as a reference to one this session had cached
        self.closed_reason: str | None = None  # set when the connection ends without our asking
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._cache: OrderedDict[str, ForwardMsg] = OrderedDict()
        self._media_seen: set[str] = set()
        self._media_pending: list[str] = []
        self._closing = False
        # The rerun this session is waiting for: the fragment it targets, the run id once started.
        self._waiting: dict | None = None
        self._run_exceptions = 0
        self._run_fitted = False
        self._run_map = ""
        self._changed = asyncio.Event()

    # ---- connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        url = self.base_url.replace("http://", "ws://") + "/_stcore/stream"
        self._ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, max_queue=None,
                                            open_timeout=30, ping_interval=None)
        self._reader = asyncio.create_task(self._read(), name=f"session-{self.number}-reader")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, Exception):
                self._reader.cancel()

    @property
    def alive(self) -> bool:
        return self.closed_reason is None

    # ---- what is on the page --------------------------------------------------------------------

    @property
    def page_name(self) -> str:
        return next((name for name, h in self.pages.items() if h == self.page_hash), "?")

    def title(self) -> str | None:
        """The page's first heading in the main area (its st.title)."""
        for path in sorted(self.elements):
            el = self.elements[path]
            if path[0] == 0 and el.WhichOneof("type") == "heading":
                return el.heading.body
        return None

    def widgets(self) -> list[Widget]:
        out = []
        for path in sorted(self.elements):
            el = self.elements[path]
            kind = el.WhichOneof("type")
            if kind in WIDGET_KINDS:
                out.append(Widget(kind, getattr(el, kind), self.element_fragments.get(path, ""), path))
        return out

    def widget(self, label: str, kind: str | None = None) -> Widget | None:
        for w in self.widgets():
            if w.label == label and (kind is None or w.kind == kind):
                return w
        return None

    def texts(self) -> list[str]:
        """Bodies of the markdown, caption and alert elements on the page."""
        out = []
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            if kind in ("markdown", "alert"):
                out.append(getattr(el, kind).body)
        return out

    # ---- reruns ---------------------------------------------------------------------------------

    async def rerun(self, kind: str, *, page: str | None = None, query: str = "", widgets: list[WidgetState] = (),
                    fragment_id: str = "", auto: bool = False, timeout_s: float | None = None) -> Run:
        """Ask for a rerun (of `page`, opened with the URL query string `query`, else of the current
        page) and wait for the run it starts to finish."""
        if not self.alive:
            return self._record(Run(kind, self.page_name, 0.0, "closed"))
        msg = BackMsg()
        state = msg.rerun_script
        if page is not None:  # following a navigation link: a new URL without the old query string
            state.page_script_hash = self.pages[page]
            state.query_string = query
        else:
            state.page_script_hash = self.page_hash
            state.query_string = query or self.query_string  # a first load may come with one
        state.widget_states.widgets.extend(widgets)
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self._cache.keys())
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-GB"
        state.context_info.url = f"{self.base_url}/"
        shown_page = page or self.page_name
        self._waiting = {"fragment": fragment_id, "run": None, "done": None}
        self._run_exceptions, self._run_fitted, self._run_map = 0, False, ""
        started = time.perf_counter()
        try:
            await self._ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as e:
            self.mark_lost(f"send failed: {e}")
            return self._record(Run(kind, shown_page, 0.0, "closed"))
        timeout_s = timeout_s or self.timeout_s
        deadline = started + timeout_s
        while self._waiting["done"] is None and self.alive:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                break
        seconds = time.perf_counter() - started
        done = self._waiting["done"]
        self._waiting = None
        if done is None:
            status = "closed" if not self.alive else "timeout"
            if status == "timeout" and not auto:  # a page that never finishes loading
                self.report_problem("timeout", shown_page, f"{kind} rerun did not finish in {timeout_s:.0f} s")
            return self._record(Run(kind, shown_page, seconds, status))
        if self.fetch_media:
            await self._fetch_media()
        return self._record(Run(kind, self.page_name, seconds, "ok", fitted=self._run_fitted,
                                map_id=self._run_map, exceptions=self._run_exceptions,
                                started=time.monotonic() - seconds))

    def _record(self, run: Run) -> Run:
        self.runs.append(run)
        return run

    # ---- reading --------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                self.bytes_received += len(data)
                self.messages_received += 1
                msg = ForwardMsg()
                try:
                    msg.ParseFromString(data)
                    self._handle(msg)
                except ProtocolError as e:
                    self.report_problem("protocol", self.page_name, str(e))
                except Exception as e:  # a message this client cannot parse is a protocol error too
                    self.report_problem("protocol", self.page_name, f"{type(e).__name__}: {e}")
                self._changed.set()
        except websockets.ConnectionClosed as e:
            if not self._closing:
                self.mark_lost(f"connection closed by the server ({e})")
        except Exception as e:
            if not self._closing:
                self.mark_lost(f"{type(e).__name__}: {e}")
        else:
            if not self._closing:
                self.mark_lost("connection closed by the server")
        finally:
            self._changed.set()

    def mark_lost(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self.report_problem("connection", self.page_name, reason)

    def report_problem(self, kind: str, page: str, text: str) -> None:
        self.problems.append(Problem(self.number, kind, page, text))

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # the server refers to a message we said we had
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                raise ProtocolError(f"server referred to unknown cached message {msg.ref_hash}")
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, cached.WhichOneof("type")
            self.cache_hits += 1
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
            self._cache.move_to_end(msg.hash)
            while len(self._cache) > CACHE_HASHES:
                self._cache.popitem(last=False)

        if kind == "new_session":
            run = msg.metadata.run
            if not run.fragment_ids:  # a full run draws the page afresh
                self.elements.clear()
                self.element_fragments.clear()
                self.auto_reruns.clear()
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
            if self._waiting is not None and self._waiting["run"] is None:
                wanted = self._waiting["fragment"]
                if (wanted and wanted in run.fragment_ids) or (not wanted and not run.fragment_ids):
                    self._waiting["run"] = run.script_run_id
                elif wanted and not run.fragment_ids:
                    self._waiting["run"] = run.script_run_id  # a full run replaced the fragment's
        elif kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "delta":
            self._handle_delta(msg)
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fid, None)
        elif kind == "script_finished":
            status = msg.script_finished
            if status == COMPILE_ERROR:
                self.report_problem("compile_error", self.page_name, "script finished with a compile error")
            w = self._waiting
            if w is not None and w["run"] is not None and msg.metadata.run.script_run_id == w["run"]:
                if status == FINISHED_EARLY:  # superseded (st.rerun or a newer request): wait for the next
                    w["run"] = None
                else:
                    w["done"] = status
        elif kind == "session_event":
            event = msg.session_event
            if event.HasField("script_compilation_exception"):
                e = event.script_compilation_exception
                self.report_problem("compile_error", self.page_name, f"{e.type}: {e.message}")
        elif kind == "page_not_found":
            self.report_problem("page_not_found", self.page_name, msg.page_not_found.page_name)

    def _handle_delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        path = tuple(msg.metadata.delta_path)
        el = delta.new_element
        self.elements[path] = el
        self.element_fragments[path] = delta.fragment_id
        kind = el.WhichOneof("type")
        if kind == "exception":
            e = el.exception
            text = f"{e.type}: {e.message}".strip()
            if e.is_warning:
                self.warnings.append(text)
            else:
                self._run_exceptions += 1
                where = " / ".join(line.strip() for line in list(e.stack_trace)[-2:])
                self.report_problem("exception", self.page_name, f"{text} [{where}]")
        elif kind == "alert" and el.alert.format == ALERT_ERROR:
            self.error_alerts.append(f"{self.page_name}: {el.alert.body}")
        elif kind == "markdown" and el.markdown.body.startswith("Fitted in "):
            self._run_fitted = True
        elif kind == "echarts_chart" and "-emb-map-" in el.echarts_chart.id:
            self._run_map = el.echarts_chart.id.split("-emb-map-", 1)[1]
        elif kind == "imgs" and self.fetch_media:
            for img in el.imgs.imgs:
                if img.url.startswith("/media/") and img.url not in self._media_seen:
                    self._media_seen.add(img.url)
                    self._media_pending.append(img.url)

    # ---- media ----------------------------------------------------------------------------------

    async def _fetch_media(self) -> None:
        pending, self._media_pending = self._media_pending, []
        for url in pending:
            status = await http_get(self.host, int(self.port), url)
            if status == 200:
                self.media_fetched += 1
            else:
                self.media_missing += 1


async def http_get(host: str, port: int, path: str, timeout: float = 30.0) -> int:
    """GET `path` over a fresh connection; returns the HTTP status (0 if the request failed)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError):
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    except (TimeoutError, OSError, ValueError, IndexError):
        return 0
    finally:
        writer.close()


# ---- widget values, as the browser sends them -------------------------------------------------------

def widget_value(widget: Widget, value: Any) -> WidgetState:
    """The `WidgetState` a browser sends when the user sets `widget` to `value`.

    Values are what the user picks on screen: a number for sliders and number inputs, the option's
    text as shown for select boxes, radios, select sliders and multiselects (a list), a bool for
    checkboxes and toggles, True for a button press, a dict for a chart selection or a component.
    """
    state = WidgetState(id=widget.id)
    p = widget.proto
    if widget.kind == "slider":
        if p.options:  # a select_slider: the option's text
            state.string_array_value.data.extend(value if isinstance(value, list) else [str(value)])
        else:
            state.double_array_value.data.extend(value if isinstance(value, list) else [float(value)])
    elif widget.kind in ("selectbox", "radio"):
        state.string_value = str(value)
    elif widget.kind == "multiselect":
        state.string_array_value.data.extend(str(v) for v in value)
    elif widget.kind == "number_input":
        if p.data_type == 0:  # INT
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif widget.kind == "checkbox":
        state.bool_value = bool(value)
    elif widget.kind == "button":
        state.trigger_value = True
    elif widget.kind in ("plotly_chart", "echarts_chart"):
        state.string_value = json.dumps(value)
    elif widget.kind == "bidi_component":
        state.json_value = json.dumps(value)
    else:
        raise ValueError(f"cannot set a {widget.kind}")
    return state
