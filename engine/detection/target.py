"""The target vector of classification with localisation, its loss, and landmark targets (course notes 1.3.1–1.3.2).

For one image with ``C`` classes the label is

    y = (p_c, b_x, b_y, b_h, b_w, c_1, …, c_C)

``p_c`` is 1 when there is an object; ``(b_x, b_y)`` its box's centre and ``(b_h, b_w)`` its height and width, all as
fractions of the image's side (the top-left corner is (0, 0), the bottom-right (1, 1)); ``c_i`` is 1 for its class.
When ``p_c`` is 0 nothing else means anything, so the loss counts only ``p_c`` there; when ``p_c`` is 1 every
component counts. Here ``p_c`` is trained as a logistic unit (binary cross-entropy on its logit), the box by squared
error on sigmoid outputs (so a prediction lies in [0, 1] like the target), the class by softmax cross-entropy: the
practical choice the course mentions beside plain squared error everywhere. ``loss_terms`` returns every component
per image, so a page can show what each one contributes.

Landmarks are ``k`` points ``(l_x, l_y)`` in a fixed order, also as fractions of the side; their loss is squared
error and their error measure the mean distance normalised by the distance between the eyes (the first two points of
``engine.data.landmarks``), the usual "normalised mean error" of face alignment.

Boxes outside this module are ``xyxy`` in pixels, as in ``torchvision.ops``; ``box_convert`` does the conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import box_convert, box_iou

BOX = slice(1, 5)  # b_x, b_y, b_h, b_w inside y
BOX_WEIGHT = 10.0  # the box terms' weight in the total, as YOLO weights its coordinates (λ_coord = 5, Redmon et al.,
# 2016) and more: squared errors of fractions are small beside the logistic and cross-entropy terms; unweighted, the box
# is learnt last and slowly.
COMPONENTS = ("p_c", "b_x", "b_y", "b_h", "b_w", "class")


def width(num_classes: int) -> int:
    """The length of y for ``num_classes`` classes: 5 + C."""
    return 5 + num_classes


def encode(present: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, num_classes: int, size: int
           ) -> torch.Tensor:
    """Targets ``(N, 5 + C)`` float32 from ``present`` ``(N,)`` bool, ``boxes`` ``(N, 4)`` ``xyxy`` pixels and
    ``labels`` ``(N,)`` class indices, for images ``size`` pixels wide. Rows without an object are zero but for
    ``p_c = 0``."""
    n = present.shape[0]
    y = torch.zeros(n, width(num_classes), device=boxes.device)
    y[:, 0] = present.float()
    present = present.bool()
    y[:, BOX] = box_fractions(boxes, size) * present[:, None]
    y[present, 5 + labels[present].long()] = 1.0
    return y


def decode(output: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A network's raw output ``(N, 5 + C)`` -> (the probability that there is an object ``(N,)``, the box ``(N, 4)``
    ``xyxy`` in pixels, the class probabilities ``(N, C)``)."""
    p = torch.sigmoid(output[:, 0])
    b = torch.sigmoid(output[:, BOX]) * size  # b_x, b_y, b_h, b_w in pixels
    boxes = box_convert(b[:, [0, 1, 3, 2]], "cxcywh", "xyxy")
    return p, boxes, torch.softmax(output[:, 5:], dim=1)


def box_fractions(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Boxes ``(N, 4)`` ``xyxy`` in pixels of images ``size`` wide -> ``(N, 4)`` (b_x, b_y, b_h, b_w) as fractions."""
    cxcywh = box_convert(boxes.float(), "xyxy", "cxcywh") / size  # (N, 4): b_x, b_y, b_w, b_h
    return cxcywh[:, [0, 1, 3, 2]]  # the course's order: b_x, b_y, b_h, b_w


def raw_prediction(present: torch.Tensor, boxes: torch.Tensor, probs: torch.Tensor, size: int, eps: float = 1e-4
                   ) -> torch.Tensor:
    """The raw output ``(N, 5 + C)`` whose ``decode`` is a prediction as people write it down: ``present`` ``(N,)`` the
    probability p̂_c, ``boxes`` ``(N, 4)`` ``xyxy`` in pixels of images ``size`` wide, ``probs`` ``(N, C)`` the class
    probabilities (made to sum to 1). Probabilities and box fractions are kept within ``[eps, 1 − eps]``, where the
    logits stay finite. A page's editor of ŷ gives this to ``loss_terms``."""
    if probs.ndim != 2 or boxes.shape != (probs.shape[0], 4) or present.shape != (probs.shape[0],):
        raise ValueError(f"present (N,), boxes (N, 4) and probs (N, C) must agree, got {tuple(present.shape)}, "
                         f"{tuple(boxes.shape)} and {tuple(probs.shape)}")
    if bool((probs < 0).any()) or bool((probs.sum(dim=1) <= 0).any()):
        raise ValueError("class probabilities must be non-negative and not all zero")
    p = torch.cat([present[:, None].float(), box_fractions(boxes, size)], dim=1).clamp(eps, 1 - eps)  # (N, 5)
    q = (probs.float() / probs.float().sum(dim=1, keepdim=True)).clamp_min(eps)  # (N, C)
    return torch.cat([torch.logit(p), q.log()], dim=1)  # softmax(log q) = q / Σq


def target_boxes(y: torch.Tensor, size: int) -> torch.Tensor:
    """The boxes ``(N, 4)`` ``xyxy`` in pixels that targets ``y`` describe."""
    b = y[:, BOX] * size
    return box_convert(b[:, [0, 1, 3, 2]], "cxcywh", "xyxy")


@dataclass(frozen=True)
class LossTerms:
    """Each component's loss per image, ``(N,)`` tensors: ``p_c`` always counts, the others only where ``p_c = 1``
    (they are zero elsewhere). ``total`` is their sum, per image, with the box terms weighted by ``BOX_WEIGHT``."""

    p_c: torch.Tensor
    b_x: torch.Tensor
    b_y: torch.Tensor
    b_h: torch.Tensor
    b_w: torch.Tensor
    cls: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.p_c + BOX_WEIGHT * (self.b_x + self.b_y + self.b_h + self.b_w) + self.cls

    def means(self) -> dict[str, float]:
        """Each component's mean over the batch, by name (``COMPONENTS``), and the total."""
        values = (self.p_c, self.b_x, self.b_y, self.b_h, self.b_w, self.cls)
        out = {name: float(v.mean()) for name, v in zip(COMPONENTS, values, strict=True)}
        out["total"] = float(self.total.mean())
        return out


def loss_terms(output: torch.Tensor, y: torch.Tensor) -> LossTerms:
    """The loss of raw outputs ``(N, 5 + C)`` against targets ``y`` ``(N, 5 + C)``, component by component."""
    if output.shape != y.shape:
        raise ValueError(f"the network gives {tuple(output.shape[1:])} values per image but the target has "
                         f"{tuple(y.shape[1:])}: a localisation head needs 5 + number of classes outputs")
    output = output.float()
    obj = y[:, 0]
    p_c = F.binary_cross_entropy_with_logits(output[:, 0], obj, reduction="none")
    box = (torch.sigmoid(output[:, BOX]) - y[:, BOX]).square() * obj[:, None]  # (N, 4)
    labels = y[:, 5:].argmax(dim=1)
    cls = F.cross_entropy(output[:, 5:], labels, reduction="none") * obj if y.shape[1] > 5 else torch.zeros_like(obj)
    return LossTerms(p_c, box[:, 0], box[:, 1], box[:, 2], box[:, 3], cls)


def iou(pred: torch.Tensor, true: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Intersection over union of matched boxes ``(N, 4)`` and ``(N, 4)`` (``xyxy``) -> ``(N,)``: the diagonal of
    ``torchvision.ops.box_iou``, taken in chunks."""
    out = [box_iou(pred[i:i + chunk], true[i:i + chunk]).diagonal() for i in range(0, len(pred), chunk)]
    return torch.cat(out) if out else torch.zeros(0)


# --------------------------------------------------------------------------------------------------- landmarks


def encode_points(points: torch.Tensor, size: int) -> torch.Tensor:
    """Points ``(N, k, 2)`` ``(x, y)`` in pixels -> targets ``(N, 2k)`` ``(l1_x, l1_y, l2_x, …)`` as fractions."""
    return (points.float() / size).flatten(1)


def decode_points(output: torch.Tensor, size: int) -> torch.Tensor:
    """A landmark network's output ``(N, 2k)`` -> points ``(N, k, 2)`` in pixels."""
    return output.float().reshape(output.shape[0], -1, 2) * size


def point_terms(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Each point's squared error ``(l̂_x − l_x)² + (l̂_y − l_y)²`` for points ``(N, k, 2)`` as fractions -> ``(N, k)``;
    the landmark task's loss is their mean over the (visible) points."""
    return (pred.float() - true.float()).square().sum(dim=2)


def centroid_points(points: torch.Tensor) -> torch.Tensor:
    """Every point of each image ``(N, k, 2)`` moved to the mean of that image's points: what squared error teaches
    a network when the labels' order is random (``engine.data.landmarks.shuffled_order``)."""
    return points.mean(dim=1, keepdim=True).expand_as(points)


def centroid_error(points: torch.Tensor) -> float:
    """The mean normalised error of guessing every point of each image ``(N, k, 2)`` at their centroid: where a network
    trained on shuffled labels ends up."""
    return float(point_error(centroid_points(points), points).mean())


def point_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Normalised mean error per image: the mean distance between predicted and true points ``(N, k, 2)``, divided
    by the distance between the true first two points (the eyes) -> ``(N,)``."""
    ocular = (true[:, 0] - true[:, 1]).norm(dim=1).clamp_min(1e-6)
    return (pred - true).norm(dim=2).mean(dim=1) / ocular
