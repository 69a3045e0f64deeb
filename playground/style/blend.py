"""The blend explorer: the same content and style optimised at several α/β ratios, side by side (one job,
``engine.jobs.style.blend_job``, one log per ratio), each picture updating as it is optimised."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from engine.jobs import runner as jobs
from engine.jobs.job import Job
from engine.jobs.runner import ServerBusyError
from engine.jobs.style import StyleLog, blend_job
from engine.style.backbones import availability
from engine.style.optimise import StyleConfig
from playground import state
from playground.owner import owner_id
from playground.style.run import PROGRESS_S, extractor_for
from playground.widgets.image_source import Picture

RATIOS = (100.0, 10.0, 1.0, 0.25, 0.1, 0.01, 0.001)


def _configs(config: StyleConfig, ratios: list[float]) -> list[StyleConfig]:
    """The config at each ratio α/β: β kept (40 when it is 0), α = ratio·β; a preview every 2 steps."""
    beta = config.beta or 40.0
    return [replace(config, alpha=r * beta, beta=beta, preview_every=2) for r in sorted(ratios, reverse=True)]


def blend_ui(content: Picture | None, style: Picture | None, config: StyleConfig | None, allow_download: bool
             ) -> None:
    st.caption("One content and style pair at several α/β ratios, with every other setting as above: from mostly "
               "content (high α/β) to mostly style (low α/β). They run one after the other.")
    ratios = st.multiselect("α/β ratios", RATIOS, default=[10.0, 1.0, 0.1], key="_w_st_blend_ratios",
                            persist_state="session", format_func=lambda r: f"{r:g}")
    job: Job | None = state.get(state.STYLE_BLEND_JOB)
    running = job is not None and not job.done
    ready = content is not None and style is not None and config is not None and len(ratios) >= 2
    go, stop = st.columns([1, 1])
    if go.button("Run the blend", key="_w_st_blend_run", icon=":material/tune:", disabled=running or not ready):
        configs = _configs(config, ratios)
        ok, why = availability(config.backbone, allow_download)
        logs = [StyleLog(c) for c in configs]
        try:
            if not ok:
                raise ValueError(why)
            job = jobs.runner().submit(blend_job, content.image, style.image, configs, logs=logs,
                                       extractor=extractor_for(config), owner=owner_id(),
                                       about={"page": "style blend"}, allow_download=allow_download)
        except (ServerBusyError, ValueError, FileNotFoundError) as e:
            st.error(str(e))
        else:
            state.put(state.STYLE_BLEND_JOB, job)
            state.put(state.STYLE_BLEND_LOGS, logs)
            state.put(state.STYLE_BLEND_CONFIGS, configs)
            st.rerun()
    if running:
        stopping = job.stop.is_set()
        stop.button("Stopping…" if stopping else "Stop the blend", key="_w_st_blend_stop", icon=":material/stop:",
                    on_click=job.request_stop, disabled=stopping)
    if not ready and len(ratios) < 2:
        st.caption("Choose at least two ratios.")
    if job is None:
        return

    @st.fragment(run_every=PROGRESS_S if running else None)
    def _pictures() -> None:
        job, logs = state.get(state.STYLE_BLEND_JOB), state.get(state.STYLE_BLEND_LOGS)
        configs = state.get(state.STYLE_BLEND_CONFIGS)
        cols = st.columns(len(logs))
        for col, log, c in zip(cols, logs, configs, strict=True):
            snap = log.snapshot()
            with col:
                st.markdown(f"**α/β = {c.ratio:g}** (α {c.alpha:g}, β {c.beta:g})")
                if snap.image is not None:
                    st.image(snap.image, width="stretch")
                e = snap.latest
                st.caption(f"step {e.step}/{e.steps} · J {e.total:.4g}" if e is not None else snap.status)
        if job.done and job.status == "failed":
            st.error(f"The blend failed: {job.error}")
        if running and job.done:
            st.rerun()

    _pictures()
