"""A real detector of photos beside the YOLO the page looks inside: torchvision's SSDlite320 trained on COCO
(``engine.detection.coco``), on the page's picture, through the same score threshold, NMS and step-through. Its
weights are never part of the app: found in ``$CNNPG_WEIGHTS_DIR`` or torch's cache, or downloaded (13.4 MB, checked
by hash) only when the user ticks that they allow it; without them the tab says why and how to get them
(docs/detection.md, "Detectors of whole images")."""

from __future__ import annotations

import streamlit as st

from engine.detection import coco
from engine.detection.detectors import image_tensor
from engine.training.runs import CheckpointError
from playground.yolo.picture import Input
from playground.yolo.settings import Thresholds
from playground.yolo.stages import boxes_ui

K = "_w_yolo_coco_"


@st.cache_resource(show_spinner="Loading the COCO detector…", max_entries=1)
def _detector(where: str) -> coco.CocoDetector:
    """One copy for every session (read-only); ``where`` (the weights' file) keys it."""
    return coco.load_coco()


def coco_ui(pic: Input | None, th: Thresholds) -> None:
    st.caption(f"{coco.TITLE}: a single-shot detector like YOLO (a grid of default boxes on several feature maps), "
               "trained on the 80 kinds of everyday objects of COCO — people, cars, cats, cups… Its candidates go "
               "through the thresholds above, as the bundled detector's do.")
    ok, where = coco.available()
    if not ok:
        st.info(f"The COCO detector is off: {where}", icon=":material/cloud_off:")
        allow = st.checkbox(f"Allow downloading its weights ({coco.MEGABYTES:g} MB from download.pytorch.org, "
                            "checked against their published hash)", key=K + "allow")
        if st.button("Download the weights", key=K + "download", disabled=not allow, icon=":material/download:"):
            try:
                with st.spinner("Downloading the COCO detector's weights…"):
                    coco.locate(allow_download=True)
            except (OSError, ValueError, RuntimeError) as e:
                st.error(f"The download did not work: {e}")
                return
            st.rerun()
        return
    try:
        detector = _detector(where)
    except (OSError, CheckpointError, RuntimeError) as e:
        st.error(f"The COCO detector could not be loaded ({where}): {e}")
        return
    if pic is None:
        st.info("Choose a picture above (a photo, an upload, a drawing or a frame of the webcam).")
        return
    with st.spinner("Detecting…"):
        raw = detector.candidates(image_tensor(pic.rgb))
    st.caption(f"Weights: {where}. Candidates: every box the network scores at least {coco.CANDIDATE_SCORE:g} "
               f"(at most {coco.MAX_CANDIDATES:,}), its own NMS switched off — so the score filter and NMS below are "
               "yours." + (" It never saw generated shapes: try a photo." if pic.boxes is not None else ""))
    boxes_ui(raw, detector.classes, pic.rgb, th, "candidates", key=K)
