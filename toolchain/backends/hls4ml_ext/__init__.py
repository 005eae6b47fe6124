"""hls4ml extension layer `HilThreshold`: FINN's multi-threshold activation, exact for any bit width.

hls4ml 1.3.0 has binary/ternary tanh kernels but no generic multi-threshold, so the dataflow IR's
thresholds (MVAU with noActivation=0, Thresholding) become this layer, added through hls4ml's
extension API (docs "Extension API": a Layer subclass, a config and a function template, a C++
header registered as custom source). The header is nnet_hil_threshold.h beside this file.

`register()` is idempotent: hls4ml keeps its registries in module globals and raises on a second
registration of a pass name.
"""

from __future__ import annotations

from pathlib import Path

HEADER = Path(__file__).with_name("nnet_hil_threshold.h")
BACKENDS = ("Vivado", "Vitis")
_registered = False

_config_template = """struct config{index} : nnet::hil_threshold_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_chan = {n_chan};
    static const unsigned n_steps = {n_steps};
    static const int out_scale = {out_scale};
    static const int out_bias = {out_bias};
    typedef {threshold_t.name} threshold_t;
    typedef ap_uint<{count_bits}> count_t;
}};\n"""

_function_template = "nnet::hil_threshold<{input_t}, {output_t}, {config}>({input}, {output}, {t});"


def register() -> None:
    """Register the layer, its templates (Vivado and Vitis) and its header with hls4ml."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer, register_layer

    class HilThreshold(Layer):
        """out[c] = out_scale * sum_k [x[c] >= T[c, k]] + out_bias over the last axis."""

        _expected_attributes = [
            Attribute("n_in"),
            Attribute("n_chan"),
            Attribute("n_steps"),
            Attribute("out_scale"),
            Attribute("out_bias"),
            WeightAttribute("threshold"),
            TypeAttribute("threshold"),
        ]

        def initialize(self):
            self.add_output_variable(list(self.get_input_variable().shape))
            self.add_weights_variable(name="threshold", var_name="t{index}", data="threshold")

    class HilThresholdConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(HilThreshold)

        def format(self, node):
            params = self._default_config_params(node)
            params["count_bits"] = max(1, int(node.get_attr("n_steps")).bit_length())
            return _config_template.format(**params)

    class HilThresholdFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(HilThreshold, include_header=["nnet_utils/nnet_hil_threshold.h"])

        def format(self, node):
            params = self._default_function_params(node)
            params["t"] = node.get_weights("threshold").name
            return _function_template.format(**params)

    register_layer("HilThreshold", HilThreshold)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(HilThresholdConfigTemplate)
        backend.register_template(HilThresholdFunctionTemplate)
        backend.register_source(HEADER)
    _registered = True
