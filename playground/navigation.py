"""The app's pages, in menu order and grouped by topic: one entry per page that exists and works (no placeholders).

Pages are registered in ``PAGES`` (an ``engine.registry.Registry``) under a short name; ``GROUPS`` gives the
navigation's sections in order. Link to a page with ``page_path(name)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.registry import Registry

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
GROUPS = ("", "Basics", "Networks", "Training", "Detection", "Faces", "Style", "Classroom")  # "": no header


@dataclass(frozen=True)
class PageInfo:
    file: str  # in pages/
    title: str
    icon: str
    url: str
    blurb: str  # what the user does there, in full
    group: str = ""  # one of GROUPS
    week: int | None = None  # the course week it teaches (1–4), for the home page's path; None: not a step
    step: str = ""  # one sentence: what you will do there first, as the path's step
    env: str = ""  # in the menu only when this environment variable is set (the Classroom: CNNPG_TEACHER_TOKEN)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"page group must be one of {GROUPS}, got {self.group!r}")

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file

    @property
    def shown(self) -> bool:
        """Whether the page is in this server's menu (see ``env``)."""
        return not self.env or bool(os.environ.get(self.env, "").strip())

    @property
    def name(self) -> str:
        return self.file.removesuffix(".py")


PAGES: Registry[PageInfo] = Registry("page")


def page_path(name: str) -> str:
    """The path of page ``name`` (e.g. "builder") for ``st.page_link`` and ``st.switch_page``."""
    return str(PAGES.get(name).path)


WEEKS = {1: "Convolutions", 2: "Classic networks and training", 3: "Detection", 4: "Faces and style"}


def course_path() -> dict[int, list[PageInfo]]:
    """The pages that teach each course week, in menu order; weeks with no page yet are left out."""
    out: dict[int, list[PageInfo]] = {}
    for page in PAGES.values():
        if page.week is not None:
            out.setdefault(page.week, []).append(page)
    return dict(sorted(out.items()))


def grouped() -> dict[str, list[PageInfo]]:
    """The pages this server shows (``PageInfo.shown``) by section, in ``GROUPS`` order, empty sections left out."""
    out: dict[str, list[PageInfo]] = {}
    for group in GROUPS:
        members = [p for p in PAGES.values() if p.group == group and p.shown]
        if members:
            out[group] = members
    return out


for _page in [
    PageInfo("home.py", "Home", ":material/home:", "home", "What the playground covers and where to start."),
    PageInfo(
        "conv_lab.py", "Convolution lab", ":material/blur_on:", "conv-lab",
        "See exactly what a convolution computes: slide a filter over the course's 6×6 example, your own numbers or "
        "a photo, step by step or playing, with every product and sum shown. Change f, padding, stride and "
        "dilation and watch the output size follow ⌊(n + 2p − f)/s⌋ + 1 with your numbers; see which pixels are "
        "never read; filters over RGB volumes, one CNN layer with its (f·f·n_c + 1)·K parameters, max and average "
        "pooling, and convolution vs cross-correlation.",
        "Basics", 1, "Slide a vertical-edge filter over the course's 6×6 picture and watch each output number being "
        "made; then change padding and stride.",
    ),
    PageInfo(
        "builder.py", "CNN builder", ":material/account_tree:", "builder",
        "Compose a network from conv, pooling, normalisation, activation, dropout, linear, residual and inception "
        "blocks, or start from LeNet-5, AlexNet, VGG-16, ResNet, GoogLeNet or MobileNetV2. Every layer's output "
        "shape, parameters, multiply-accumulates and receptive field update as you edit, with the formula and your "
        "numbers in it; the 1×1-convolution bottleneck lesson; export JSON or PyTorch code, or share a link.",
        "Networks", 2, "Open LeNet-5, then load ResNet-50 or GoogLeNet and see where their parameters and "
        "multiplications go.",
    ),
    PageInfo(
        "training.py", "Training", ":material/model_training:", "training",
        "Train the builder's network on real data — synthetic shapes, handwritten digits, MNIST, Fashion-MNIST, faces, "
        "your own zip of class folders — with augmentation and your choice of optimiser, learning-rate schedule and "
        "batch size. Watch the loss and accuracy curves live, stop and resume, compare runs, fine-tune a trained run "
        "on new classes (transfer learning), read the confusion matrix and the mistakes, download the model.",
        "Training", 2, "Train the builder's LeNet-5 on handwritten digits in a few seconds and read its mistakes.",
    ),
    PageInfo(
        "inspect.py", "Look inside", ":material/visibility:", "inspect",
        "Look inside a trained network — or the builder's, untrained: its first-layer filters as images, the feature "
        "maps every convolution makes of one input (an overview across layers, then any layer's channels as a grid), "
        "and its top-5 prediction for a validation sample, your uploaded image, your drawing or live webcam frames.",
        "Training", 2, "See the filters your trained network learned and what each layer makes of one image.",
    ),
    PageInfo(
        "localisation.py", "Localisation & landmarks", ":material/center_focus_strong:", "localisation",
        "The course's target vector y = (p_c, b_x, b_y, b_h, b_w, c…) by hand: move a box on a scene, switch the "
        "object off, watch y follow; write a prediction and see each loss term (with p_c = 0 only p_c counts). The "
        "same for five face landmarks. Then train a network to output boxes or landmarks, live, and see its "
        "predicted and true boxes and points on held-out images with their IoU and error — and what happens when "
        "the landmarks' order is shuffled.",
        "Detection", 3, "Move a box over a scene and watch the target vector y = (p_c, b_x, b_y, b_h, b_w, c…) "
        "follow, then switch the object off and see which loss terms still count.",
    ),
    PageInfo(
        "sliding.py", "Sliding windows", ":material/grid_view:", "sliding-windows",
        "From a classifier to a detector: slide a classifier of shapes (trained here in one click, or your own run) "
        "over scenes of several shapes or a photo, window by window, then as one pass of its convolutional form — "
        "the same score map, many times faster, with the fully connected layers turned into convolutions. MTCNN's "
        "P-Net finding faces over an image pyramid, and region proposals (R-CNN) with their count of classifier "
        "calls against sliding windows.",
        "Detection", week=3,
        step="Train the window classifier in one click, slide it over a scene of shapes window by window, then see "
        "its convolutional form give the same map in one pass.",
    ),
    PageInfo(
        "yolo.py", "YOLO", ":material/center_focus_weak:", "yolo",
        "Look inside a YOLO detector: move two boxes and watch their IoU; see a scene's S×S grid, the cell and anchor "
        "that own each object and all B·S² raw boxes coloured by score; set the score threshold, the NMS IoU "
        "threshold, the most boxes and per-class or class-agnostic NMS and see each stage, then step through "
        "non-max suppression; detect on generated scenes, photos, uploads and the live webcam with the same "
        "sliders; find anchors with k-means; retrain with your grid, anchors and backbone, and measure mAP.",
        "Detection", week=3,
        step="Move the score and NMS thresholds and watch B·S² raw boxes become a few detections, iteration by "
        "iteration.",
    ),
    PageInfo(
        "faces.py", "Faces", ":material/face:", "faces",
        "Face verification and recognition with a pretrained network (dlib's 128-d ResNet, offline): are two "
        "pictures — photos, uploads, webcam snapshots — the same person? See the aligned faces, their distance on a "
        "scale and the threshold that decides. Enrol people from one picture each, identify a face against your "
        "gallery, or recognise faces live on the webcam with their names and distances.",
        "Faces", week=4,
        step="Verify the astronaut against a photo of yourself, then enrol her and let the webcam say who is in view.",
    ),
    PageInfo(
        "triplet_lab.py", "One-shot lab", ":material/fingerprint:", "one-shot-lab",
        "Train your own Siamese embedding with the triplet loss, live: digits or clothes stand in for people, and some "
        "are held out of training to test one-shot verification on identities never seen. Choose random, semi-hard "
        "or hard triplet mining and see the triplets it picks, watch the embeddings separate in a 2-D projection as "
        "it learns, read the ROC curve and FAR/FRR against the threshold for seen and held-out identities, and "
        "compare with the untrained network and with a logistic unit on |f(x1) − f(x2)|.",
        "Faces", 4, "Train an embedding on eight digits with the triplet loss and see how well it tells apart the two "
        "digits it never saw.",
    ),
    PageInfo(
        "style.py", "Style transfer", ":material/palette:", "style",
        "Neural style transfer: a photo (or your upload or webcam snapshot) painted in the style of an artwork, by "
        "optimising the image's pixels against a pretrained network — EfficientNet-Lite0 offline, or VGG-19. Set α, "
        "β, the content layer and the style layers with their weights, watch the image and the costs change live, "
        "compare the Gram matrices, explore α/β ratios side by side, and stylise the webcam live in fast mode.",
        "Style", week=4,
        step="Start the optimisation with a photo and an artwork, and watch the picture take on the style as J falls.",
    ),
    PageInfo(
        "classroom.py", "Classroom", ":material/school:", "classroom",
        "For the teacher of a class on this server: the jobs running and waiting (stop any), the server's load, the "
        "caps changed live, every student's runs, a leaderboard per data set, and the end of the lesson (stop, "
        "export and clear the class's runs). Asks for the teacher's token; in the menu only when the server has one.",
        "Classroom", env="CNNPG_TEACHER_TOKEN",
    ),
]:
    PAGES.add(_page.name, _page)
