"""The style page's optimisation: Start submits ``engine.jobs.style.style_job`` for this session; while it runs two
fragments redraw the progress with Stop, the current image and the cost curves from snapshots of its log; when it
ends its result joins this session's gallery (``gallery``), once, with its settings."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from PIL import Image

from engine.device import describe, resolve
from engine.jobs import runner as jobs
from engine.jobs.job import Job
from engine.jobs.runner import ServerBusyError
from engine.jobs.style import StyleLog, StyleSnapshot, style_job
from engine.style.backbones import FeatureExtractor, availability, backbone, load_extractor
from engine.style.optimise import INITS, StyleConfig, StyleResult, image_tensor, picture
from engine.units import format_seconds
from playground import state
from playground.figures.primitives import plotly_config
from playground.figures.style import cost_curves
from playground.owner import owner_id
from playground.widgets.image_source import Picture

PAGE = "style"  # the jobs' about["page"]: what a reloaded style page re-attaches to
PROGRESS_S = 0.5  # seconds between two redraws of the progress and the image while a job runs
CURVES_S = 1.5  # ... and of the curves
GALLERY_MAX = 12


@dataclass
class GalleryItem:
    """One result of this session: the picture, the settings that made it and how it went."""

    image: np.ndarray
    config: StyleConfig
    content: str
    style: str
    style_image: np.ndarray = field(repr=False)
    status: str
    steps: int
    seconds: float
    first: float
    last: float
    device: str

    @property
    def settings(self) -> str:
        c = self.config
        layers = ", ".join(f"{n} {w:g}" for n, w in c.style.items())
        return (f"{backbone(c.backbone).title} · {self.image.shape[1]}×{self.image.shape[0]} · α {c.alpha:g}, "
                f"β {c.beta:g} · content {c.content} · style {layers} · {self.steps} steps of "
                f"{'L-BFGS' if c.optimizer == 'lbfgs' else 'Adam'} (lr {c.learning_rate:g}) from "
                f"{INITS[c.init]} · J {self.first:.4g} → {self.last:.4g} · {format_seconds(self.seconds)} on "
                f"{self.device}")


@st.cache_resource(max_entries=4, show_spinner="Loading the backbone…")
def shared_extractor(name: str, device: str) -> FeatureExtractor:
    """The backbone's extractor for every session of this server (frozen, in eval mode: jobs share it)."""
    return load_extractor(name, device)


def extractor_for(config: StyleConfig) -> FeatureExtractor | None:
    """The shared extractor when the weights are on this machine; None when the job must download them first."""
    from engine.nets.weights import resolve_weights

    b = backbone(config.backbone)
    try:
        resolve_weights(b.weights, b.title)
    except FileNotFoundError:
        return None
    return shared_extractor(config.backbone, str(resolve(config.device)))


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------- start


def _start(content: Picture, style: Picture, config: StyleConfig, allow_download: bool) -> None:
    state.put(state.STYLE_MESSAGE, None)
    current = state.get(state.STYLE_JOB)
    if current is not None and not current.done:
        state.put(state.STYLE_MESSAGE, "This session is already running an optimisation; stop it first.")
        return
    ok, why = availability(config.backbone, allow_download)
    if not ok:
        state.put(state.STYLE_MESSAGE, why)
        return
    log = StyleLog(config)
    task = {"content": content, "style": style, "config": config}
    try:
        job = jobs.runner().submit(style_job, content.image, style.image, config, log=log,
                                   extractor=extractor_for(config), allow_download=allow_download,
                                   owner=owner_id(), about={"page": PAGE, "log": log, "task": task})
    except (ServerBusyError, ValueError, FileNotFoundError) as e:
        state.put(state.STYLE_MESSAGE, str(e)[:1].upper() + str(e)[1:])
        return
    state.put(state.STYLE_JOB, job)
    state.put(state.STYLE_LOG, log)
    state.put(state.STYLE_TASK, task)


def _reattach() -> None:
    """In a new session (a reload, a new tab): this owner's latest optimisation, found again with its log."""
    if state.STYLE_JOB in st.session_state:
        return
    job = jobs.runner().latest(owner_id(), page=PAGE)
    state.put(state.STYLE_JOB, job)
    if job is not None:
        state.put(state.STYLE_LOG, job.about["log"])
        state.put(state.STYLE_TASK, job.about["task"])


def run_ui(content: Picture | None, style: Picture | None, config: StyleConfig | None, allow_download: bool,
           problem: str) -> None:
    """The Start button, what it will do, and the live view of this owner's optimisation."""
    _reattach()
    job: Job | None = state.get(state.STYLE_JOB)
    running = job is not None and not job.done
    ready = content is not None and style is not None and config is not None
    button, plan = st.columns([1, 5], vertical_alignment="center")
    if button.button("Start", key="_w_st_start", type="primary", icon=":material/play_arrow:", width="stretch",
                     disabled=running or not ready) and ready:
        _start(content, style, config, allow_download)
        st.rerun()
    if problem:
        plan.error(problem)
    elif not ready:
        plan.caption("Choose a content image and a style image.")
    else:
        try:
            where = describe(resolve(config.device))
        except ValueError as e:
            where = str(e)
        plan.caption(f"Optimises the pixels of G for {config.steps} steps on {where}, starting from "
                     f"{INITS[config.init]}: J = {config.alpha:g}·J_content + {config.beta:g}·J_style.")
    said = state.get(state.STYLE_MESSAGE)
    if said:
        st.error(said)
    collect()
    live_ui()


def collect() -> None:
    """Once per finished job: its result joins the gallery."""
    job: Job | None = state.get(state.STYLE_JOB)
    if job is None or not job.done or state.get(state.STYLE_COLLECTED) == job.id:
        return
    state.put(state.STYLE_COLLECTED, job.id)
    result, task = job.result, state.get(state.STYLE_TASK) or {}
    if isinstance(result, StyleResult) and result.image is not None and result.history:
        add_to_gallery(result, task["content"].caption, task["style"].caption, task["style"].image)


def add_to_gallery(result: StyleResult, content: str, style: str, style_image: np.ndarray) -> None:
    """Keep ``result`` first in the gallery; its style image is kept as the optimisation used it (its centred part
    at the result's size: an upload's megapixels are not held for each result)."""
    gallery = state.get(state.STYLE_GALLERY, [])
    used = picture(image_tensor(style_image, tuple(result.image.shape[:2])))
    gallery.insert(0, GalleryItem(result.image, result.config, content, style, used, result.status,
                                  result.last.step, result.seconds, result.history[0].total, result.last.total,
                                  result.device))
    del gallery[GALLERY_MAX:]


# --------------------------------------------------------------------------------------------------- live view


def live_ui() -> None:
    job: Job | None = state.get(state.STYLE_JOB)
    if job is None:
        st.caption("Press **Start**: the generated image and the cost curves update here as G is optimised.")
        return
    running = not job.done

    @st.fragment(run_every=PROGRESS_S if running else None)
    def _status() -> None:
        job, log = state.get(state.STYLE_JOB), state.get(state.STYLE_LOG)
        snap = log.snapshot()
        if job.done:
            _outcome_ui(job, snap)
        else:
            _progress_ui(job, snap)
        if running and job.done:
            st.rerun()  # the whole page: the gallery and the Gram matrices follow

    @st.fragment(run_every=CURVES_S if running else None)
    def _curves() -> None:
        log: StyleLog = state.get(state.STYLE_LOG)
        snap = log.snapshot()
        if snap.points:
            c = log.config
            st.plotly_chart(cost_curves(snap.points, c.steps, c.alpha, c.beta), width="stretch",
                            config=plotly_config(), key="_w_st_curves")
        elif running:
            st.caption("The curves start after the first step.")

    picture, curves = st.columns([2, 3])
    with picture:
        _status()
    with curves:
        _curves()


def _progress_ui(job: Job, snap: StyleSnapshot) -> None:
    e = snap.latest
    if job.status == "queued":
        text = jobs.runner().waiting(job) or "Waiting in the queue…"
    elif e is None:
        text = f"Preparing: {snap.status}…"
    else:
        text = (f"step {e.step}/{e.steps} · J {e.total:.4g} (content {e.content:.4g}, style {e.style:.4g}) · "
                f"{e.step / e.seconds if e.seconds else 0:.2f} steps/s · about {format_seconds(e.eta_s)} left")
    st.progress(snap.fraction, text=text)
    stopping = job.stop.is_set()
    st.button("Stopping…" if stopping else "Stop", key="_w_st_stop", icon=":material/stop:",
              on_click=job.request_stop, disabled=stopping)
    if snap.image is not None:
        st.image(snap.image, caption=f"G after step {snap.image_step}", width="stretch")


def _outcome_ui(job: Job, snap: StyleSnapshot) -> None:
    r = snap.result
    if job.status == "failed" and r is None:
        st.error(f"The optimisation failed: {job.error}", icon=":material/error:")
        return
    if r is None:
        return
    if r.status == "finished":
        st.success(f"Finished {r.last.step} steps in {format_seconds(r.seconds)} on {r.device}: J "
                   f"{r.history[0].total:.4g} → {r.last.total:.4g}.", icon=":material/check_circle:")
    elif r.status == "stopped":
        st.warning(f"Stopped after {len(r.history)} of {r.config.steps} steps.", icon=":material/pause_circle:")
    else:
        st.error(f"The optimisation failed: {r.reason}", icon=":material/error:")
    if r.image is not None:
        st.image(r.image, caption=f"G after step {r.last.step if r.last else 0}", width="stretch")
        st.download_button("Download the result (PNG)", png_bytes(r.image), file_name="style-transfer.png",
                           mime="image/png", icon=":material/download:", key=f"_w_st_download_{job.id}")
