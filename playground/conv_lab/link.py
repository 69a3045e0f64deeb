"""The convolution lab's state in its link (playground/links.py): the open tab, the input (the course's example, your
numbers, a photo — which one —, an upload, a drawing or the webcam) and its size, the filter, f, padding, stride and
dilation, and the pooling and volume tabs' controls. The pictures themselves (an upload, a drawing) stay on the
server: a link says only which kind of input."""

from __future__ import annotations

from engine.conv.filters import filter_names
from engine.media.images import SAMPLE_IMAGES
from playground.conv_lab.convolution import CUSTOM
from playground.conv_lab.inputs import KEY, OWN_SOURCES
from playground.links import Link, choice, integer
from playground.widgets import image_source

TAB_NAMES = ("Convolution", "Volumes & one CNN layer", "Pooling", "Convolution or cross-correlation?")

LINKS = (
    Link("_w_cl_tab", choice(TAB_NAMES), "tab"),
    Link("_w_cl_source", choice([*OWN_SOURCES, *image_source.SOURCES]), "input",
         get=lambda: image_source.chosen(KEY), put=lambda source: image_source.choose(KEY, source)),
    Link("_w_cl_photo", choice(SAMPLE_IMAGES), "photo"),
    Link("_w_cl_n_example", integer(4, 16), "n"),
    Link("_w_cl_n_grid", integer(2, 16), "n_grid"),
    Link("_w_cl_n_photo", integer(8, 128), "n_photo"),
    Link("_w_cl_colour", choice(["gray", "RGB"]), "colour"),
    Link("_w_cl_filter", choice([*filter_names(), CUSTOM]), "filter"),
    Link("_w_cl_f", integer(1, 11), "f"),
    Link("_w_cl_pad", choice(["valid", "same", "custom"]), "padding"),
    Link("_w_cl_p", integer(0, 20), "p"),
    Link("_w_cl_s", integer(1, 8), "s"),
    Link("_w_cl_d", integer(1, 4), "d"),
    Link("_w_cl_pool_mode", choice(["max", "avg"]), "pool"),
    Link("_w_cl_pool_f", integer(1, 8), "pool_f"),
    Link("_w_cl_pool_s", integer(1, 8), "pool_s"),
    Link("_w_cl_v_f", integer(1, 7), "volume_f"),
    Link("_w_cl_v_k", integer(1, 10), "volume_k"),
    Link("_w_cl_v_s", integer(1, 4), "volume_s"),
)
