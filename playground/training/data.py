"""The training page's data section: a named set, a zip of class folders or webcam samples, with its card and
samples, and the check that the builder's network fits it (with the task's one-click fix for the output)."""

from __future__ import annotations

import streamlit as st

from engine.data import (
    ClassIds,
    DatasetCard,
    LoadedData,
    Points,
    availability,
    channel_stats,
    dataset_card,
    dataset_names,
    describe_adaptation,
    load_dataset,
)
from engine.nets.spec import NetworkSpec
from engine.nets.summary import Summary
from engine.training.fitting import fit_output, fit_problems
from engine.training.tasks import card_task
from playground import state
from playground.builder import editor as builder_ui
from playground.figures import detection as detection_figs
from playground.figures import training as figs
from playground.training import zip_decode
from playground.training.common import BUILDER_PAGE, PERSIST, Picked, message, named_data, short

TRAIN_LIMITS = (500, 1000, 2000, 5000, 10000, 20000)
DOWNLOADABLE = {"mnist": "about 11 MB", "fashion_mnist": "about 30 MB", "cifar10": "about 170 MB"}
SOURCES = {"named": "A data set", "zip": "Your images (zip)", "webcam": "Webcam capture"}
# The set a fresh page opens on: the first of these (then of the others) that is here and fits the builder's network
# as it is, so Train works at the first click (LeNet-5: MNIST 5k, a result in seconds on a laptop's CPU).
FIRST_CHOICE = ("mnist5k", "digits", "shapes", "fashion_mnist", "cifar10")
DECODE_PROGRESS_S = 0.5  # seconds between redraws of a zip's decoding progress


@st.cache_data(max_entries=128, show_spinner=False)
def _fit_problems(spec_json: str, card: DatasetCard) -> list[str]:
    return fit_problems(spec_json, card)


def first_choice(spec: NetworkSpec, names: list[str], here: dict[str, bool]) -> str:
    """The data set a fresh page opens on: the first (``FIRST_CHOICE``, then the others) that is on this machine and
    that ``spec`` fits as it is; the first that is here when none fits (the one-click fix then adapts the network)."""
    order = [n for n in FIRST_CHOICE if n in names] + [n for n in names if n not in FIRST_CHOICE]
    present = [n for n in order if here[n]] or order
    spec_json = spec.to_json(indent=None)
    return next((n for n in present if not _fit_problems(spec_json, dataset_card(n))), present[0])


def data_ui(seed: int, spec: NetworkSpec) -> Picked | None:
    """Choose the data: a named set, a zip of class folders, or webcam samples. Shows its card and samples;
    returns it, or None (not available, not uploaded yet, or unreadable — with the reason on the page). A fresh
    page opens on a named set that ``spec`` fits (``first_choice``)."""
    source = st.segmented_control("Source", list(SOURCES), format_func=SOURCES.get, default="named",
                                  key="_w_tr_source", persist_state=PERSIST, required=True)
    if source == "zip":
        return _zip_ui(seed)
    if source == "webcam":
        return _webcam_ui()
    return _named_ui(seed, spec)


def _named_ui(seed: int, spec: NetworkSpec) -> Picked | None:
    names = dataset_names()
    where = {name: availability(name) for name in names}
    left, right = st.columns([2, 3], gap="large")
    with left:
        first = first_choice(spec, names, {n: ok for n, (ok, _) in where.items()})
        name = st.selectbox(
            "Data set", names, index=names.index(first), key="_w_tr_dataset", persist_state=PERSIST,
            format_func=lambda n: dataset_card(n).title + ("" if where[n][0] else " — not on this machine"),
            help="The bundled sets are always here; MNIST, Fashion-MNIST and CIFAR-10 need their files (or a "
                 "download you allow).")
        card = dataset_card(name)
        ok, how = where[name]
        if not ok:
            _download_ui(name, card, how)
        max_train = None
        if ok and card.train_size > TRAIN_LIMITS[0]:
            options = [n for n in TRAIN_LIMITS if n < card.train_size] + [card.train_size]
            max_train = st.select_slider(
                "Training images to use", options, value=card.train_size, key=f"_w_tr_max_train_{name}",
                persist_state=PERSIST, format_func=lambda n: f"{n:,}" + (" (all)" if n == card.train_size else ""),
                help="A subset trains faster on a CPU; the validation set stays whole.")
    picked = None
    if ok:
        try:
            picked = named_data(name, seed, None if max_train == card.train_size else max_train)
        except (ValueError, OSError) as e:
            left.error(f"{card.title} could not be loaded: {e}")
    with right:
        _card_ui(picked.data.card if picked else card, how if ok else None)
        if picked is not None:
            _samples_ui(picked.data)
    return picked


def _download_ui(name: str, card: DatasetCard, why: str) -> None:
    st.warning(why, icon=":material/cloud_off:")
    if name not in DOWNLOADABLE:
        return
    allow = st.checkbox(f"allow download ({DOWNLOADABLE[name]} from the internet)", key=f"_w_tr_allow_{name}")
    if st.button(f"Download {card.title}", key=f"_w_tr_download_{name}", disabled=not allow,
                 icon=":material/download:"):
        bar = st.progress(0.0, text=f"Downloading {card.title}…")
        try:
            load_dataset(name, download=True,
                         progress=lambda f, text: bar.progress(min(max(float(f), 0.0), 1.0), text=text))
        except (ValueError, OSError, RuntimeError) as e:  # the engine's reasons; a network or disk failure
            st.error(f"{card.title} could not be downloaded: {e}")
        else:
            st.rerun()


def _card_ui(card: DatasetCard, where: str | None) -> None:
    st.markdown(f"**{card.title}** — {card.description}")
    c, h, w = card.image_shape
    cols = st.columns(4)
    cols[0].metric("training images", f"{card.train_size:,}")
    cols[1].metric("validation images", f"{card.val_size:,}")
    names = "Landmarks" if card.targets == Points.kind else "Classes"  # a points set's "classes" are its landmarks
    cols[2].metric(names.lower(), card.num_classes)
    cols[3].metric(f"image size ({'gray' if c == 1 else 'RGB'})", f"{h}×{w}")
    classes = ", ".join(card.classes[:12]) + (" …" if card.num_classes > 12 else "")
    st.caption(f"{names}: {classes}  \nSource: {card.source}  \nLicence: {card.licence}"
               + (f"  \nHere: {where}" if where else ""))


def _samples_ui(data: LoadedData) -> None:
    shown = list(range(min(16, len(data.train))))
    labelled = detection_figs.labelled_samples(data.train.images, data.train.targets, shown)
    if labelled is not None:  # boxes or landmarks: drawn on the images
        st.plotly_chart(labelled, width="content", config={"displayModeBar": False}, key="_tr_labelled_samples")
        return
    if not isinstance(data.train.targets, ClassIds):
        idx, titles = list(range(min(16, len(data.train)))), None
    else:
        idx = figs.class_samples(data.train.labels.numpy(), len(data.train.classes), per_class=2, limit=20)
        titles = [short(data.train.classes[int(data.train.labels[i])]) for i in idx]
    if not idx:
        return
    st.plotly_chart(figs.image_grid(data.train.images[idx].numpy(), titles, cols=8, cell=48), width="content",
                    config={"displayModeBar": False, "staticPlot": True})


def _zip_ui(seed: int) -> Picked | None:
    upload = st.file_uploader(
        "A zip of class folders", type=["zip"], key="_w_tr_zip",
        help="One folder per class, named after it: cats/001.jpg, dogs/a.png … (PNG, JPEG, BMP, GIF, WebP). At "
             "least two classes with two images each. Images are centre-cropped to squares and resized to 64×64.")
    stored = state.get(state.TRAIN_UPLOAD)
    if upload is not None:
        raw = upload.getvalue()
        if stored is None or stored["name"] != upload.name or stored["bytes"] != raw:
            stored = {"name": upload.name, "bytes": raw}
            state.put(state.TRAIN_UPLOAD, stored)
    if stored is None:
        st.caption("Nothing uploaded yet. Example layout: `my_data.zip` → `cats/001.jpg`, `cats/002.jpg`, "
                   "`dogs/001.jpg`, …")
        return None
    job = _decoded(stored["name"], stored["bytes"], seed)
    if job is None:
        return None
    if upload is None:
        st.caption(f"Using your earlier upload, {stored['name']}; upload another zip to replace it.")
    left, right = st.columns([2, 3], gap="large")
    with left:
        _card_ui(job.data.card, None)
    with right:
        _samples_ui(job.data)
    return Picked(job.data, job.stats)


def _decoded(name: str, raw: bytes, seed: int) -> zip_decode.Decoding | None:
    """The zip's decoding once it is done, else None with its progress (or why it stopped) on the page. It runs off
    the script thread (``playground.training.zip_decode``), once per upload and seed: reruns and page switches find it
    again. A refused zip is also remembered in the session by its digest (``state.TRAIN_UPLOAD_FAILED``): the reruns
    that follow show the reason without asking again."""
    digest = zip_decode.digest_of(name, raw)
    failed = state.get(state.TRAIN_UPLOAD_FAILED)
    if failed is not None and failed["digest"] == digest:
        st.error(failed["message"], icon=":material/folder_zip:")
        return None
    job = zip_decode.decoding(name, raw, seed)
    if job.status == "failed":
        state.put(state.TRAIN_UPLOAD_FAILED, {"digest": digest, "message": job.message})
        st.error(job.message, icon=":material/folder_zip:")
        return None
    if job.status == "cancelled":
        st.info(f"{name}: decoding cancelled.", icon=":material/folder_zip:")
        st.button("Decode it again", key="_w_tr_zip_again", on_click=zip_decode.again, args=(name, raw, seed),
                  icon=":material/refresh:")
        return None
    if not job.finished:
        _progress_ui(job)
        return None
    return job


def _progress_ui(job: zip_decode.Decoding) -> None:
    """The decoding's progress, redrawn on a timer; the whole page runs again once it has finished."""

    @st.fragment(run_every=DECODE_PROGRESS_S)
    def progress() -> None:
        if job.finished:
            st.rerun(scope="app")
        st.progress(job.fraction, text=job.describe())

    progress()
    st.button("Cancel", key="_w_tr_zip_cancel", on_click=job.cancel, icon=":material/cancel:",
              help="Stop decoding this zip (the page stays usable meanwhile: other pages, other settings).")


def _webcam_ui() -> Picked | None:
    from playground.webcam.capture import capture_dataset_ui  # streamlit-webrtc is imported only when it is used

    data = capture_dataset_ui("train_webcam")
    if data is None:
        return None
    _samples_ui(data)
    return Picked(data, channel_stats(data.train))


# --------------------------------------------------------------------------------------------------- fit check


def fit_ui(spec: NetworkSpec, picked: Picked, s: Summary) -> bool:
    """Say how the images are adapted to the network's input; show what must change first, with a one-click fix
    for the output (the data's task says what the output must be). True when the network can train on the data as
    it is."""
    card = picked.data.card
    task = card_task(card)
    if len(spec.input) == 3 and s.ok:
        try:
            how = describe_adaptation(card.image_shape, tuple(spec.input), picked.stats)
        except ValueError as e:
            st.warning(f"input: {e}; set the builder's input to 1 (gray) or 3 (RGB) channels",
                       icon=":material/warning:")
            st.page_link(BUILDER_PAGE, label="Fix the network on the builder", icon=":material/account_tree:")
            return False
        st.info(f"**Input, adapted automatically:** {how} (the training set's statistics). The same happens to "
                f"every image the model sees later.", icon=":material/aspect_ratio:")
    problems = _fit_problems(spec.to_json(indent=None), card)
    for problem in problems:
        st.warning(problem, icon=":material/warning:")
    if any(p.startswith("output:") for p in problems):
        st.button(task.fix_label(card), key="_w_tr_fix_head", type="primary", on_click=_fix_head, args=(card,),
                  icon=":material/build:",
                  help="Changes the network's last layers as little as possible so that its output is what "
                       f"{task.title} needs (for classes: the last linear layer's out_features, or a flatten and a "
                       "linear layer appended). The builder shows the change; Undo there brings the old one back.")
    elif problems:
        st.page_link(BUILDER_PAGE, label="Fix the network on the builder", icon=":material/account_tree:")
    return not problems


def _fix_head(card: DatasetCard) -> None:
    try:
        fitted = fit_output(state.spec(), card)
    except ValueError as e:
        message("error", str(e))
        return
    state.set_spec(fitted)
    builder_ui.bump_version()
    note = card_task(card).fix_note(card)
    st.toast(f"{note[:1].upper()}{note[1:]}.", icon=":material/check:")
