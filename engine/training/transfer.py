"""Transfer learning: start from a trained network, freeze its first layers, give it a new head for new classes.

The features a network learns in its early layers (edges, textures) carry over to other images; the last layers are
specific to the classes it was trained on (Yosinski et al., "How transferable are features in deep neural
networks?", 2014). So: keep the trained layers, freeze the first ones (``requires_grad`` False — their batch norms
then keep their running statistics during ``fit``), replace the classifier's last linear layer with a fresh one of
``num_classes`` outputs, and train the rest on the new data.

Layers are counted at the top level of the spec, from 0: ``freeze(model, upto=4)`` freezes ``model[0]`` to
``model[3]`` (a slice, ``layers[:4]``).

A source is a finished run (its id) or a pretrained network (``"pretrained:<name>"``, ``engine.nets.weights``);
``start_transfer`` makes the network to fine-tune from either — for a pretrained one, with the data's normalisation
folded into its first convolution — and the page only calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from engine.data import LoadedData, channel_stats
from engine.data.normalization import Normalization
from engine.device import model_device
from engine.nets.build import Network, build, trace
from engine.nets.spec import Linear, NetworkSpec, parse_spec, walk
from engine.nets.summary import Summary, summary
from engine.training.runs import RunStore, load_state_dict
from engine.training.tasks.classify import fit_head
from engine.units import plural

PRETRAINED = "pretrained:"  # a transfer source naming pretrained weights: "pretrained:efficientnet_lite0"


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one top-level layer: ``index`` from 0, ``name`` as the summary writes it ("conv2d #1")."""

    index: int
    name: str
    trainable: int
    frozen: int


@dataclass(frozen=True)
class ParamReport:
    layers: tuple[LayerParams, ...]

    @property
    def trainable(self) -> int:
        return sum(layer.trainable for layer in self.layers)

    @property
    def frozen(self) -> int:
        return sum(layer.frozen for layer in self.layers)


def from_weights(spec: NetworkSpec | dict | str, weights: dict[str, torch.Tensor] | Path | str | bytes) -> Network:
    """``build(spec)`` with ``weights`` loaded (a state dict, a ``.safetensors``/``.pt`` file or safetensors bytes;
    never unpickled), in eval mode."""
    model = build(parse_spec(spec), seed=0)  # every tensor is then overwritten
    state = weights if isinstance(weights, dict) else load_state_dict(weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"the weights do not fit the spec: {str(e).splitlines()[0]}") from None
    return model.eval()


def from_run(store: RunStore, run_id: str) -> Network:
    """A run's network with its last checkpoint's weights (eval mode, CPU)."""
    return store.load_model(run_id)


def head_index(spec: NetworkSpec) -> int:
    """The index of the last top-level linear layer (the classifier's output layer)."""
    linear = [i for i, layer in enumerate(spec.layers) if isinstance(layer, Linear)]
    if not linear:
        raise ValueError("the network has no top-level linear layer to serve as its head")
    return linear[-1]


def replace_head(model: Network, num_classes: int, *, seed: int = 0) -> Network:
    """A new network: ``model``'s layers and weights (and frozen flags), with the last linear layer replaced by a
    freshly initialised one of ``num_classes`` outputs (initialised from ``seed``)."""
    spec = fit_head(model.spec, num_classes)
    head = head_index(spec)
    new = build(spec, seed=seed)  # a private generator: torch's global one is neither read nor moved
    old = model.state_dict()
    keep = {k: v for k, v in old.items() if not k.startswith(f"{head}.") and k in new.state_dict()
            and new.state_dict()[k].shape == v.shape}
    new.load_state_dict(keep, strict=False)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    for n, p in new.named_parameters():
        p.requires_grad_(not (n in frozen and n in keep))
    device = model_device(model)
    return new.to(device)


def freeze(model: Network, upto: int) -> Network:
    """Freeze the top-level layers ``[0, upto)`` and unfreeze the rest, in place; returns ``model``."""
    n = len(model)
    if isinstance(upto, bool) or not isinstance(upto, int) or not 0 <= upto <= n:
        raise ValueError(f"upto must be an integer from 0 to {n} (the number of layers), got {upto!r}")
    for i, layer in enumerate(model):
        for p in layer.parameters():
            p.requires_grad_(i >= upto)
    return model


def transfer(model: Network, num_classes: int, freeze_upto: int, *, seed: int = 0) -> Network:
    """``model`` with a new head of ``num_classes`` outputs and its layers ``[0, freeze_upto)`` frozen: ready for
    ``fit`` on the new data."""
    new = replace_head(model, num_classes, seed=seed)
    _check_freeze(new.spec, freeze_upto)
    return freeze(new, freeze_upto)


def _check_freeze(spec: NetworkSpec, freeze_upto: int) -> None:
    head = head_index(spec)
    if isinstance(freeze_upto, int) and freeze_upto > head:
        raise ValueError(f"freezing layers up to {freeze_upto} would freeze the new head (layer {head}, "
                         f"{spec.layers[head].kind}); freeze at most {plural(head, 'layer')}")


def transfer_report(spec: NetworkSpec | dict | str, num_classes: int, freeze_upto: int) -> ParamReport:
    """Trainable and frozen parameters per top-level layer after ``transfer`` of a network of ``spec`` (they depend
    on the architecture only: counted on a weightless copy, so nothing is drawn or allocated)."""
    new = build(fit_head(parse_spec(spec), num_classes), device="meta")
    _check_freeze(new.spec, freeze_upto)
    return param_report(freeze(new, freeze_upto))


def param_report(model: Network) -> ParamReport:
    """Trainable and frozen parameters of each top-level layer."""
    names = [node.name for node in trace(model.spec)]
    rows = []
    for i, layer in enumerate(model):
        params = list(layer.parameters())
        rows.append(LayerParams(i, names[i], sum(p.numel() for p in params if p.requires_grad),
                                sum(p.numel() for p in params if not p.requires_grad)))
    return ParamReport(tuple(rows))


def frozen_summary(model: Network) -> Summary:
    """``engine.nets.summary.summary`` of the model's spec, with each row's ``params`` / ``frozen_params`` counted from
    the model itself (so frozen layers show as frozen)."""
    result = summary(model.spec)
    rows = []
    for row, (path, _) in zip(result.rows, walk(model.spec.layers), strict=True):
        module = model.get_submodule(".".join(map(str, path)))
        params = list(module.parameters())
        rows.append(replace(row, params=sum(p.numel() for p in params if p.requires_grad),
                            frozen_params=sum(p.numel() for p in params if not p.requires_grad)))
    top = [r for r in rows if r.depth == 0]
    return replace(result, rows=tuple(rows), trainable_params=sum(r.params for r in top))


def from_pretrained(name: str, *, path: Path | str | None = None) -> Network:
    """The pretrained network ``name`` (``engine.nets.weights``: e.g. "efficientnet_lite0", ImageNet weights loaded
    strictly), in eval mode: a source for ``transfer`` like a finished run."""
    from engine.nets.weights import pretrained_model

    return pretrained_model(name, path=path)


def match_input_stats(model: Network, stats: Normalization | tuple, expected: Normalization | tuple) -> Network:
    """Make ``model``, which expects inputs normalised with ``expected`` (per-channel mean, std), take inputs
    normalised with ``stats`` instead, in place; returns ``model``.

    ``fit`` normalises with the training data's own statistics (and stores them with the run, for inference); a
    pretrained network wants the statistics it was trained with. Both are per-channel affine maps, so the change folds
    into the first convolution: its weights scale by ``std / expected std`` per input channel, and the constant shift
    goes into its bias, or (no bias) into the running mean of the batch norm right after it. Exact inside the image;
    the zero padding at the border now stands for the data's mean rather than the pretrained one's.
    """
    stats, expected = Normalization.coerce(stats), Normalization.coerce(expected)
    mean, std = (torch.as_tensor(v, dtype=torch.float32) for v in (stats.mean, stats.std))
    e_mean, e_std = (torch.as_tensor(v, dtype=torch.float32) for v in (expected.mean, expected.std))
    layers = list(model)
    first = next((i for i, m in enumerate(layers) if isinstance(m, torch.nn.Conv2d)), None)
    if first is None or layers[first].groups != 1:
        raise ValueError("the network does not start with a plain convolution to fold the input statistics into")
    conv = layers[first]
    c = conv.in_channels
    mean, std, e_mean, e_std = (t.expand(c) if t.numel() == 1 else t for t in (mean, std, e_mean, e_std))
    scale = std / e_std  # z = scale·u + shift, u the data-normalised input, z what the network expects
    shift = (mean - e_mean) / e_std
    with torch.no_grad():
        delta = (conv.weight.sum(dim=(2, 3)) * shift).sum(dim=1)  # per output channel: conv(z) = conv'(u) + delta
        conv.weight.mul_(scale.view(1, c, 1, 1).to(conv.weight))
        if conv.bias is not None:
            conv.bias.add_(delta.to(conv.bias))
        else:
            bn = layers[first + 1] if first + 1 < len(layers) else None
            if not isinstance(bn, torch.nn.BatchNorm2d) or bn.running_mean is None:
                raise ValueError("the first convolution has no bias and no batch norm after it to take the shift")
            bn.running_mean.sub_(delta.to(bn.running_mean))
    return model


def source_spec(source: str, store: RunStore) -> NetworkSpec:
    """The network spec of a transfer ``source``: a run id in ``store``, or ``"pretrained:<name>"``."""
    if source.startswith(PRETRAINED):
        from engine.nets.weights import known

        return known(source.removeprefix(PRETRAINED)).spec()
    return store.get(source).spec


def source_title(source: str, store: RunStore) -> str:
    """How a page names a source: the run's name, or the pretrained network's title."""
    if source.startswith(PRETRAINED):
        from engine.nets.weights import known

        return known(source.removeprefix(PRETRAINED)).title
    return store.info(source).name


def start_transfer(source: str, data: LoadedData, freeze_upto: int, *, seed: int, store: RunStore
                   ) -> tuple[Network, str]:
    """The network to fine-tune on ``data`` — ``source``'s layers and weights (a run's last checkpoint, or the
    pretrained ``"pretrained:<name>"`` with ``data``'s normalisation folded into its first convolution:
    ``match_input_stats``), a fresh head of ``data``'s class count drawn from ``seed``, layers ``[0, freeze_upto)``
    frozen — and a name for its run ("EfficientNet-Lite0 → Face or not"). ``ValueError`` (or ``FileNotFoundError``
    for missing weights) with the reason."""
    if source.startswith(PRETRAINED):
        from engine.nets.weights import imagenet_stats

        name = source.removeprefix(PRETRAINED)
        model = from_pretrained(name)
        match_input_stats(model, channel_stats(data.train, channels=model.spec.input[0]), imagenet_stats(name))
    else:
        model = from_run(store, source)
    new = transfer(model, data.card.num_classes, freeze_upto, seed=seed)
    return new, f"{source_title(source, store)} → {data.card.title}"
