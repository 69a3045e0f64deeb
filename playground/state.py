"""Every session-state key of the app, in one place, with typed accessors.

Durable values (the architecture, the device choice, the seed) live under keys that no widget owns: Streamlit drops a
widget's value when that widget is not drawn (a page switch), so widgets write into these keys through callbacks.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.nets.spec import NetworkSpec

DEVICE = "device"  # "auto" | "cuda" | "mps" | "xpu" | "cpu"
SEED = "seed"  # int
SPEC = "spec"  # NetworkSpec: the builder's network, the one the training page trains
SPEC_HISTORY = "spec_history"  # list[NetworkSpec]: undo stack of the builder
SELECTED = "builder_selected"  # path of the layer being edited on the builder
BUILDER_ORIGIN = "builder_origin"  # str | None: the preset the builder's network was last loaded from
SHARED_TOKEN = "shared_token"  # the ?spec= token last loaded from the URL, so a rerun doesn't reload it
EDIT_VERSION = "builder_edit_version"  # bumped when the structure changes, so editor widgets start fresh
LINKS_RESTORED = "links_restored"  # set[str]: the pages whose link was read into their widgets (playground/links.py)
OWNER = "owner"  # str: this browser's anonymous owner id (playground/owner.py), read once per session
OWNER_UNSENT = "owner_unsent"  # True until a new owner id's cookie script has been sent to the browser
HELD = "held"  # playground.cache.Held: this session's large results (feature maps, evaluations, ...), bounded

DEFAULTS: dict[str, Any] = {DEVICE: "auto", SEED: 0}


def get(key: str, default: Any = None) -> Any:
    if key not in st.session_state:
        st.session_state[key] = DEFAULTS.get(key, default)
    return st.session_state[key]


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def spec() -> NetworkSpec:
    """The session's network (LeNet-5 until the user builds something else)."""
    if SPEC not in st.session_state:
        from engine.nets.presets import get_preset

        st.session_state[SPEC] = get_preset("lenet5")
    return st.session_state[SPEC]


def set_spec(new: NetworkSpec, remember: bool = True) -> None:
    """Replace the session's network, keeping the previous one for undo."""
    old = st.session_state.get(SPEC)
    if remember and old is not None and old != new:
        history = st.session_state.setdefault(SPEC_HISTORY, [])
        history.append(old)
        del history[:-50]
    st.session_state[SPEC] = new


def bind(widget_key: str, state_key: str) -> None:
    """on_change callback body: copy a widget's value into its durable key."""
    st.session_state[state_key] = st.session_state[widget_key]


def widget_default(widget_key: str, state_key: str) -> None:
    """Before drawing a widget bound to ``state_key``: seed it from the durable value (page switches drop it)."""
    st.session_state[widget_key] = get(state_key)


# --------------------------------------------------------------------------------------------------- convolution lab
# Durable values of pages/conv_lab.py that no widget can keep: data editors lose their content when they are not drawn
# (another tab of the lab, another page). The lab's sliders keep theirs with ``persist_state``; its picture is the
# image source's (IMAGE_SOURCE below).
CONV_GRID = "conv_lab_grid"  # np.ndarray (n, n) float64: the user's own input numbers
CONV_KERNEL = "conv_lab_kernel"  # np.ndarray (f, f) float64: the user's own filter
CONV_BANK = "conv_lab_bank"  # list[engine.conv.bank.BankRow]: the one-layer tab's filters
CONV_EDIT_VERSION = "conv_lab_edit_version"  # int, bumped by a reset so the lab's data editors start fresh
CONV_PLAYING = "conv_lab_playing"  # str | None: the key of the step-through that is animating


# --------------------------------------------------------------------------------------------------- trained models
ACTIVE_RUN = "active_run"  # str | None: id of the run (in the run store) the training page trained last
INSPECT_RUN = "inspect_run"  # str: the run the "Look inside" page shows ("" = the builder's untrained network)
INSPECT_SEEN_ACTIVE = "inspect_seen_active"  # str | None: ACTIVE_RUN when that page last looked, to follow a new run
INSPECT_SAMPLE = "inspect_sample"  # int: the validation sample shown there
INSPECT_DRAW_JOB = "inspect_draw_job"  # Job | None: the one-click digit reader's training (playground/inspect/drawing)
INSPECT_DRAW_COLLECTED = "inspect_draw_collected"  # str | None: id of that job once its run became the network
INSPECT_DRAW_MESSAGE = "inspect_draw_message"  # str | None: why its last click did not start a job
INSPECT_LAYER_LINK = "inspect_layer_link"  # str: the layer a link asked for, until the layer selectbox takes it

# --------------------------------------------------------------------------------------------------- images and webcam
# playground/widgets/image_source.py keeps, per widget key, what its widgets cannot: the source chosen, the uploaded
# file, the drawing, the webcam snapshot. playground/webcam/ keeps, per component key, the last frame, the captured
# samples (durable: they must survive reruns and page switches) and the live prediction's frame counter. The webcam
# worker thread writes into those objects under their own locks; nothing else in session state is touched from it.
IMAGE_SOURCE = "image_source"  # dict[str, image_source.SourceState]
WEBCAM = "webcam"  # dict[str, stream.LatestFrame | capture.Capture | live.FrameMeter]


# --------------------------------------------------------------------------------------------------- training
# pages/training.py (it also sets ACTIVE_RUN above). The job handle survives reruns and page switches here, and a
# reload finds it again through the runner (the job is the owner's: engine.jobs.runner.latest); the run store on disk
# has the rest.
TRAIN_JOB = "train_job"  # engine.jobs.runner.Job | None: this owner's training job, running or done
TRAIN_JOB_TASK = "train_job_task"  # dict: what the job trains ("kind": new/resume/transfer, "data": card name, ...)
TRAIN_COLLECTED = "train_collected"  # str | None: id of the finished job whose outcome was taken into the session
TRAIN_MESSAGE = "train_message"  # (level, text) | None: why the last Train/Resume/Transfer click did not start a job
TRAIN_UPLOAD = "train_upload"  # dict | None: the uploaded zip {"name", "bytes"}; its decoded set is kept by content
# (playground/training/zip_decode.py)
TRAIN_UPLOAD_FAILED = "train_upload_failed"  # dict | None: the last zip refused {"digest", "message"}: not read again
TRAIN_EVAL_LATER = "train_eval_later"  # str | None: a run stopped by the user: evaluated when asked
TRAIN_PREVIEW = "train_preview"  # int: bumped by "New samples" so the augmentation preview draws other images
DEMO_LEASE = "demo_lease"  # playground.store._Lease: in demo mode, this session's hold on its owner's temporary runs

# --------------------------------------------------------------------------------------------------- sliding windows
# pages/sliding.py (playground/sliding/). The one-click classifier's job and the run the page slides survive reruns
# and page switches here; the run itself is in the run store. Results are kept per input so that moving an unrelated
# control does not slide every window again.
SLIDE_JOB = "slide_job"  # engine.jobs.job.Job | None: this session's one-click window-classifier training
SLIDE_COLLECTED = "slide_collected"  # str | None: id of the finished job whose run was taken as the classifier
SLIDE_MESSAGE = "slide_message"  # str | None: why the last "Train" click did not start a job
SLIDE_RUN = "slide_run"  # str | None: id of the run whose classifier the page slides


# --------------------------------------------------------------------------------------------------- style transfer
# pages/style.py. The jobs and their logs survive reruns and page switches here; the settings' widgets keep their own
# values with ``persist_state``; the pictures are the image source's (IMAGE_SOURCE above).
STYLE_JOB = "style_job"  # engine.jobs.job.Job | None: this session's optimisation, running or done
STYLE_LOG = "style_log"  # engine.jobs.style.StyleLog | None: its log (the page draws snapshots of it)
STYLE_TASK = "style_task"  # dict | None: what it runs: {"content", "style" (Picture), "config", "label"}
STYLE_COLLECTED = "style_collected"  # str | None: id of the finished job already added to the gallery
STYLE_MESSAGE = "style_message"  # str | None: why the last Start did not start a job
STYLE_GALLERY = "style_gallery"  # list[playground.style.run.GalleryItem]: this session's results, newest first
STYLE_BLEND_JOB = "style_blend_job"  # Job | None: the blend explorer's job (one optimisation per α/β ratio)
STYLE_BLEND_LOGS = "style_blend_logs"  # list[StyleLog]: its logs, one per ratio, in order
STYLE_BLEND_CONFIGS = "style_blend_configs"  # list[StyleConfig]: the configs of those ratios

# --------------------------------------------------------------------------------------------------- localisation
# pages/localisation.py (its training job is this session's TRAIN_JOB above, so the Training page sees it too). Its
# sliders keep their values with ``persist_state``; these hold what no widget can.
LOC_SEEDED = "loc_seeded"  # dict[str, tuple]: per editor ("box", "points"), the (data set, seed, index) its widgets
# were last filled from, so moving to another scene refills them with that scene's own values
LOC_POINTS = "loc_points"  # np.ndarray (K, 2) float32: the user's predicted landmarks for the face shown, in pixels
LOC_RUNS = "loc_runs"  # dict[str, str]: the run last trained from the page per slot ("localise", "landmarks",
# "landmarks_shuffled"), for its results and the ordered-vs-shuffled comparison
LOC_COLLECTED = "loc_collected"  # str | None: id of the finished job whose run was filed under its slot

# --------------------------------------------------------------------------------------------------- YOLO lab
# pages/yolo.py (playground/yolo/). Its retraining job is this session's TRAIN_JOB above (the Training page sees it
# too); its sliders keep their values with ``persist_state``; these hold what no widget can.
YOLO_DETECTOR = "yolo_detector"  # str: "bundled" or the id of the detection run the page looks inside (a run
# trained from the page becomes it when its job is done)
YOLO_COLLECTED = "yolo_collected"  # str | None: id of the finished job whose run was taken as the detector

# --------------------------------------------------------------------------------------------------- one-shot lab
# pages/triplet_lab.py (its training job is this session's TRAIN_JOB, as the localisation page's).
TRIPLET_RUN = "triplet_run"  # str | None: the run last trained from the One-shot lab, shown in its views
TRIPLET_COLLECTED = "triplet_collected"  # str | None: id of the finished job whose run became TRIPLET_RUN

# --------------------------------------------------------------------------------------------------- classroom
# A student's short name and leaderboard choice are kept in the run store (keyed by the owner), not here; the teacher's
# login is this session's only (pages/classroom.py, playground/classroom/).
PERSON = "person"  # engine.training.runs.Person: this owner's name and leaderboard choice, read once per session
NAME_MESSAGE = "name_message"  # str | None: why the last name typed in the sidebar was not kept
TEACHER = "teacher"  # True once this session entered the server's CNNPG_TEACHER_TOKEN
TEACHER_MESSAGE = "teacher_message"  # str | None: why the last token was refused
TEACHER_WRONG = "teacher_wrong"  # list[float]: when this session's recent wrong tokens came (time.monotonic())
CLASS_EXPORT = "class_export"  # Path | None: the zip of the last lesson's runs, written by "End the lesson"
CLASS_MESSAGE = "class_message"  # (level, text) | None: what the last Classroom action did

# Faces (playground/faces/): the gallery lives on disk per owner (engine.faces.gallery); pictures are kept by the
# shared image source (IMAGE_SOURCE) under the keys faces_a, faces_b, faces_enrol and faces_probe.
FACES_MESSAGE = "faces_message"  # (level, text) | None: what the last gallery action did (shown after its rerun)
