"""hls4ml extension layers, added through hls4ml's extension API (docs "Extension API": a Layer subclass,
a config and a function template, a C++ header registered as custom source; the headers are beside
this file):

* `HilThreshold` (nnet_hil_threshold.h): FINN's multi-threshold activation, exact for any bit width.
  hls4ml 1.3.0 has binary/ternary tanh kernels but no generic multi-threshold, so the dataflow IR's
  thresholds (MVAU/VVAU with noActivation=0, Thresholding) become this layer.
* `HilGlobalAccPool` (nnet_hil_accpool.h): FINN's GlobalAccPool, the per-channel sum over a whole map.
  hls4ml's GlobalAveragePooling2D divides that sum by H·W in its accumulator type
  (nnet_pooling_stream.h global_pooling2d_cl); the IR keeps the sum (the 1/(H·W) is in the next layer).

`register()` is idempotent: hls4ml keeps its registries in module globals and raises on a second
registration of a pass name.
"""

from __future__ import annotations

from pathlib import Path

HEADER = Path(__file__).with_name("nnet_hil_threshold.h")
ACCPOOL_HEADER = Path(__file__).with_name("nnet_hil_accpool.h")
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

_accpool_config_template = """struct config{index} : nnet::hil_accpool_config {{
    static const unsigned n_pixels = {n_pixels};
    static const unsigned n_chan = {n_chan};
}};\n"""

_accpool_function_template = "nnet::hil_global_acc_pool<{input_t}, {output_t}, {config}>({input}, {output});"


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

    class HilGlobalAccPool(Layer):
        """out[c] = sum_p x[p, c] over n_pixels pixels, output shape (n_chan,)."""

        _expected_attributes = [Attribute("n_pixels"), Attribute("n_chan")]

        def initialize(self):
            self.add_output_variable([self.get_attr("n_chan")])

    class HilGlobalAccPoolConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(HilGlobalAccPool)

        def format(self, node):
            return _accpool_config_template.format(**self._default_config_params(node))

    class HilGlobalAccPoolFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(HilGlobalAccPool, include_header=["nnet_utils/nnet_hil_accpool.h"])

        def format(self, node):
            return _accpool_function_template.format(**self._default_function_params(node))

    register_layer("HilThreshold", HilThreshold)
    register_layer("HilGlobalAccPool", HilGlobalAccPool)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in (HilThresholdConfigTemplate, HilThresholdFunctionTemplate, HilGlobalAccPoolConfigTemplate,
                         HilGlobalAccPoolFunctionTemplate):
            backend.register_template(template)
        backend.register_source(HEADER)
        backend.register_source(ACCPOOL_HEADER)
    _registered = True
