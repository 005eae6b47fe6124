"""Brevitas models with the DEFAULT quantizers (float scales, float biases, BatchNorm), exported with the
plain `brevitas.export.export_qonnx(model, x, export_path=...)` call, untrained (random BatchNorm
statistics so that the thresholds are not trivial). Topologies: FINN's cybersecurity MLP (finn notebooks
end2end_example/cybersecurity), TFC-w1a1 and CNV-w1a1 (brevitas_examples/bnn_pynq FC.py, CNV.py), and a
small user CNN."""

from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn as nn
from brevitas.export import export_qonnx
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst


def cybsec_mlp():
    # FINN's cybersecurity end-to-end example (notebooks/end2end_example/cybersecurity/1-train-mlp-with-brevitas)
    return nn.Sequential(
        qnn.QuantIdentity(bit_width=2, return_quant_tensor=True),
        qnn.QuantLinear(593, 64, bias=True, weight_bit_width=2), nn.BatchNorm1d(64), nn.Dropout(0.5),
        qnn.QuantReLU(bit_width=2),
        qnn.QuantLinear(64, 64, bias=True, weight_bit_width=2), nn.BatchNorm1d(64), nn.Dropout(0.5),
        qnn.QuantReLU(bit_width=2),
        qnn.QuantLinear(64, 1, bias=True, weight_bit_width=2))


def tfc_w1a1():
    layers = [qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)]
    for i, o in ((784, 64), (64, 64), (64, 64)):
        layers += [qnn.QuantLinear(i, o, bias=False, weight_quant=SignedBinaryWeightPerTensorConst), nn.BatchNorm1d(o),
                   qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)]
    layers += [qnn.QuantLinear(64, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)]
    return nn.Sequential(nn.Flatten(), *layers)


def user_cnn():
    return nn.Sequential(
        qnn.QuantIdentity(bit_width=8), qnn.QuantConv2d(1, 8, 3, bias=True), nn.BatchNorm2d(8), qnn.QuantReLU(),
        nn.MaxPool2d(2), qnn.QuantConv2d(8, 8, 3, bias=True), qnn.QuantReLU(), nn.Flatten(),
        qnn.QuantLinear(8 * 3 * 3, 10, bias=True))


def randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 4 + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.5)
    return model.eval()


def _sign():
    return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)


def cnv_w1a1():
    """FINN's / BNN-PYNQ CNV topology (brevitas_examples bnn_pynq cnv.py): 3x32x32 input, 8-bit input
    quantizer, conv 64-64-pool-128-128-pool-256-256, FC 512-512-10, BatchNorm, 1-bit weights/acts."""
    W = dict(weight_quant=SignedBinaryWeightPerTensorConst, bias=False)
    layers = [qnn.QuantIdentity(bit_width=8)]
    c_in = 3
    for c, pool in ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)):
        layers += [qnn.QuantConv2d(c_in, c, 3, **W), nn.BatchNorm2d(c), _sign()]
        if pool:
            layers.append(nn.MaxPool2d(2))
        c_in = c
    layers.append(nn.Flatten())
    f_in = 256
    for f in (512, 512):
        layers += [qnn.QuantLinear(f_in, f, **W), nn.BatchNorm1d(f), _sign()]
        f_in = f
    layers.append(qnn.QuantLinear(512, 10, **W))
    return nn.Sequential(*layers)


SHAPES = {"cybsec": (1, 593), "tfc": (1, 1, 28, 28), "cnn": (1, 1, 12, 12), "cnv": (1, 3, 32, 32)}


def export(name, path, seed=0):
    """Export model `name` (cybsec, tfc, cnn, cnv) to `path` with the plain export call."""
    model = {"cybsec": cybsec_mlp, "tfc": tfc_w1a1, "cnn": user_cnn, "cnv": cnv_w1a1}[name]
    shape = SHAPES[name]
    torch.manual_seed(seed)
    m = randomize(model(), seed)
    export_qonnx(m, torch.randn(shape), export_path=str(path))
    return path
