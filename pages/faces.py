"""Faces: verification (are two pictures the same person?) and recognition (who is this, among the people you
enrolled?) with a pretrained face embedding — dlib's 128-d ResNet, offline; MTCNN detection and FaceNet as other
backends (course notes 1.4.1; docs/faces.md)."""

import streamlit as st

from playground.faces import common, recognise, verify

st.title("Faces")
st.caption("A network maps a face to 128 numbers (FaceNet: 512) so that the same person's faces land close together "
           "and different people's far apart. Verification (1:1) compares two faces' distance with a threshold; "
           "recognition (1:K) finds the nearest face among the people you enrolled — or says \"unknown\".")
st.caption(":material/lock: Privacy: pictures, uploads and webcam frames are used in memory only. Nothing is written "
           "to disk unless you enrol a face in your gallery — and then only its aligned crop and its numbers, for "
           "your browser alone, until you delete them.")

missing = common.missing_reason()
if missing:
    st.error(f"The face models are not available on this server: {missing}")
    st.stop()
settings = common.settings_ui()
verify_tab, recognise_tab = st.tabs(["Verify", "Recognise"])
with verify_tab:
    verify.verify_ui(settings)
with recognise_tab:
    recognise.recognise_ui(settings)
