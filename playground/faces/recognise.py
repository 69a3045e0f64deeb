"""The Recognise tab: this browser's gallery (enrol a person from one picture — more pictures help —, see, export,
delete), a probe picture's faces identified against it, and the live webcam (``live``). The gallery is this owner's
only (playground/owner.py): nobody else lists, matches against or deletes it."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from engine.faces.gallery import MAX_SAMPLES
from engine.faces.live import KNOWN, STRANGER, draw_boxes
from playground import state
from playground.faces.common import OPTIONS, Settings, face_ui, faces_in, gallery, shared_backend
from playground.faces.live import live_ui
from playground.owner import owner_id
from playground.widgets.image_source import picture_ui, source_ui

MESSAGE = state.FACES_MESSAGE


def recognise_ui(settings: Settings) -> None:
    faces = shared_backend(settings.key)
    owner, store = owner_id(), gallery()
    st.subheader("Your gallery", divider="gray")
    enrol, people = st.columns([3, 2], gap="large")
    with enrol:
        st.markdown("**Enrol someone** — one picture is enough (one-shot): the network was trained so that distances "
                    "between faces it never saw still mean something.")
        face = face_ui("faces_enrol", settings, "the picture to enrol", label="Picture from")
        name = st.text_input("Their name", key="_w_faces_name", max_chars=24, placeholder="e.g. Eileen")
        if st.button("Enrol", icon=":material/person_add:", disabled=face is None, key="_w_faces_enrol"):
            try:
                count = store.enrol(owner, name, [face], faces.name)
            except ValueError as e:
                st.session_state[MESSAGE] = ("error", f"Not enrolled: {e}")
            else:
                st.session_state[MESSAGE] = ("success", f"Enrolled {' '.join(name.split())}: {count} picture"
                                                        f"{'s' if count != 1 else ''} (at most {MAX_SAMPLES}).")
            st.rerun()
    with people:
        _people_ui(store, owner)
    st.subheader("Identify a face", divider="gray")
    st.caption(f"Compared with the pictures enrolled with **{faces.title}** only: each backend's vectors are its own "
               "(a person enrolled with another backend is enrolled again with this one to be recognised by it).")
    _probe_ui(store, owner, settings)
    st.subheader("Live webcam", divider="gray")
    live_ui(store.known(owner, shared_backend(settings.live_key).name, settings.threshold, settings.metric), settings)


def _people_ui(store, owner: str) -> None:
    message = st.session_state.pop(MESSAGE, None)
    if message:
        getattr(st, message[0])(message[1])
    everyone = store.people(owner)
    if not everyone:
        st.caption("Nobody enrolled yet. Enrol a face on the left: it is stored on this server for your browser only, "
                   "until you delete it.")
        return
    st.markdown(f"**{len(everyone)} {'person' if len(everyone) == 1 else 'people'} enrolled**")
    for person in everyone:
        thumb, text, button = st.columns([1, 3, 1], vertical_alignment="center")
        crops = store.crops(owner, person.name)
        if crops:
            thumb.image(crops[0], width=56)
        text.markdown(f"**{person.name}** · {person.samples} picture{'s' if person.samples != 1 else ''}")
        if button.button("", icon=":material/delete:", key=f"_w_faces_delete_{person.name}",
                         help=f"Delete {person.name} and their pictures from the gallery"):
            store.delete(owner, person.name)
            st.session_state[MESSAGE] = ("info", f"Deleted {person.name}.")
            st.rerun()
    a, b = st.columns(2)
    a.download_button("Export (JSON)", json.dumps(store.export(owner), indent=1), file_name="face-gallery.json",
                      mime="application/json", icon=":material/download:", key="_w_faces_export",
                      help="Names and embeddings (128 numbers per picture); no pictures.")
    if b.button("Delete all", icon=":material/delete_forever:", key="_w_faces_clear"):
        store.clear(owner)
        st.session_state[MESSAGE] = ("info", "Deleted everyone from your gallery.")
        st.rerun()


def _probe_ui(store, owner: str, settings: Settings) -> None:
    source = source_ui("faces_probe", label="Picture from")
    picture = picture_ui("faces_probe", source, OPTIONS)
    if picture is None:
        return
    found = faces_in(picture, settings.key)
    if not found:
        st.image(picture.image, caption=picture.caption, width=480)
        st.error("No face was found in this picture: use a photo with a face seen from the front.")
        return
    known = store.known(owner, shared_backend(settings.key).name, settings.threshold, settings.metric)
    matches = known.match([f.vector for f in found])
    labels = [f"{i + 1}: {m.name}" + (f" {m.distance:.2f}" if m.nearest else "") for i, m in enumerate(matches)]
    drawn = draw_boxes(picture.image, [f.face.box for f in found], labels,
                       [KNOWN if m.known else STRANGER for m in matches])
    image, table = st.columns([3, 2])
    image.image(drawn, caption=picture.caption, width="stretch")
    rows = [{"face": i + 1, "answer": m.name, "nearest": m.nearest or "—",
             "distance": None if m.nearest is None else round(m.distance, 3)} for i, m in enumerate(matches)]
    table.dataframe(pd.DataFrame(rows), hide_index=True, key="_w_faces_matches")
    if not known.names:
        table.caption("The gallery is empty: every face is unknown until you enrol someone.")
    else:
        table.caption(f"Nearest enrolled picture per face; \"unknown\" when it is {settings.threshold:g} or farther "
                      f"({settings.metric}).")
