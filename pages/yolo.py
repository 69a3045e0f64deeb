"""YOLO: one pass of a network predicts every box on an S×S grid — IoU, the grid and its anchors, the score filter
and non-max suppression step by step, on scenes, photos, uploads and the live webcam; anchors from k-means; retraining
and mAP (course notes 1.3.5)."""

import streamlit as st

from playground import links, state
from playground.store import run_store
from playground.yolo import anchors, grid, iou, picture, stages, train
from playground.yolo.detector import detector_ui
from playground.yolo.link import LINKS, TABS
from playground.yolo.settings import thresholds_ui

st.title("YOLO")
st.caption("You only look once: the image is cut into an S×S grid and one pass of a convolutional network gives, for "
           "every cell and each of its B anchors, a box, the probability p_c that it holds an object and the class "
           "probabilities. A score filter and non-max suppression turn those B·S² boxes into detections.")

links.restore("yolo", LINKS)  # a reloaded or shared link: the section, thresholds, scene and settings
store = run_store()
train.collect(store)
seed = int(state.get(state.SEED))

with st.container(border=True):
    detector = detector_ui()
    th = thresholds_ui()

st.subheader("The picture", divider="gray")
pic = picture.input_ui(detector, th) if detector is not None else None
view = picture.view_of(pic, detector.side) if pic is not None and detector is not None else None
classes = pic.classes if pic is not None and pic.classes else (detector.classes if detector is not None else ())


def _needs(draw):
    def run() -> None:
        if detector is None:
            st.info("Choose a detector that loads (above) to see this.")
        elif view is None:
            st.info("Choose a picture above (a scene, a photo, an upload, or a frame of the webcam).")
        else:
            draw()
    return run


SECTIONS = {
    "IoU": iou.iou_ui,
    "Grid view": _needs(lambda: grid.grid_ui(detector, view, classes)),
    "Thresholds & NMS": _needs(lambda: stages.stages_ui(detector, view, th)),
    "Anchors": (lambda: anchors.anchors_ui(detector)) if detector is not None else _needs(lambda: None),
    "Retrain & evaluate": lambda: _train_and_evaluate(),
}


def _train_and_evaluate() -> None:
    st.markdown("**Retrain**")
    train.train_ui(store, seed)
    if detector is not None:
        st.markdown("**Evaluate**")
        train.evaluate_ui(detector, seed)


assert tuple(SECTIONS) == TABS
tabs = st.tabs(list(SECTIONS), key="_w_yolo_tab", on_change="rerun")  # lazy: only the open tab runs
for tab, draw in zip(tabs, SECTIONS.values(), strict=True):
    if tab.open:
        with tab:
            draw()
links.publish(LINKS)
