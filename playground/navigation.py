"""The app's pages, in menu order and grouped by topic: one entry per page that exists and works (no placeholders).

Pages are registered in ``PAGES`` (an ``engine.registry.Registry``) under a short name; ``GROUPS`` gives the
navigation's sections in order. Link to a page with ``page_path(name)``.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"page group must be one of {GROUPS}, got {self.group!r}")

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file

    @property
    def name(self) -> str:
        return self.file.removesuffix(".py")


PAGES: Registry[PageInfo] = Registry("page")


def page_path(name: str) -> str:
    """The path of page ``name`` (e.g. "builder") for ``st.page_link`` and ``st.switch_page``."""
    return str(PAGES.get(name).path)


def grouped() -> dict[str, list[PageInfo]]:
    """The pages by section, in ``GROUPS`` order, empty sections left out."""
    out: dict[str, list[PageInfo]] = {}
    for group in GROUPS:
        members = [p for p in PAGES.values() if p.group == group]
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
        "Basics",
    ),
    PageInfo(
        "builder.py", "CNN builder", ":material/account_tree:", "builder",
        "Compose a network from conv, pooling, normalisation, activation, dropout, linear, residual and inception "
        "blocks, or start from LeNet-5, AlexNet, VGG-16, ResNet, GoogLeNet or MobileNetV2. Every layer's output "
        "shape, parameters, multiply-accumulates and receptive field update as you edit, with the formula and your "
        "numbers in it; the 1×1-convolution bottleneck lesson; export JSON or PyTorch code, or share a link.",
        "Networks",
    ),
    PageInfo(
        "training.py", "Training", ":material/model_training:", "training",
        "Train the builder's network on real data — synthetic shapes, handwritten digits, MNIST, Fashion-MNIST, faces, "
        "your own zip of class folders — with augmentation and your choice of optimiser, learning-rate schedule and "
        "batch size. Watch the loss and accuracy curves live, stop and resume, compare runs, fine-tune a trained run "
        "on new classes (transfer learning), read the confusion matrix and the mistakes, download the model.",
        "Training",
    ),
    PageInfo(
        "inspect.py", "Look inside", ":material/visibility:", "inspect",
        "Look inside a trained network — or the builder's, untrained: its first-layer filters as images, the feature "
        "maps every convolution makes of one input (an overview across layers, then any layer's channels as a grid), "
        "and its top-5 prediction for a validation sample, your uploaded image, your drawing or live webcam frames.",
        "Training",
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
]:
    PAGES.add(_page.name, _page)
