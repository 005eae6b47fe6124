#ifndef NNET_HIL_THRESHOLD_H_
#define NNET_HIL_THRESHOLD_H_

// Multi-threshold activation of the hil toolchain (FINN MultiThreshold / Thresholding semantics),
// io_stream form:   out[c] = out_scale * sum_k [ in[c] >= T[c][k] ] + out_bias
// Thresholds are integers, compared with the integer input exactly (any widths, any signedness).
// A BIPOLAR output is carried as one bit (0 <-> -1, 1 <-> +1): out_scale = 1, out_bias = 0, one step.

#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_types.h"

namespace nnet {

struct hil_threshold_config {
    static const unsigned n_in = 1;     // values per frame
    static const unsigned n_chan = 1;   // channels (the last axis; one stream word holds all of them)
    static const unsigned n_steps = 1;  // thresholds per channel
    static const int out_scale = 1;
    static const int out_bias = 0;
    typedef ap_int<2> threshold_t;
    typedef ap_uint<1> count_t;
};

template <class data_T, class res_T, typename CONFIG_T>
void hil_threshold(hls::stream<data_T> &data, hls::stream<res_T> &res,
                   const typename CONFIG_T::threshold_t thresholds[CONFIG_T::n_chan * CONFIG_T::n_steps]) {
    #pragma HLS ARRAY_PARTITION variable=thresholds complete
HilThresholdPixels:
    for (unsigned i = 0; i < CONFIG_T::n_in / CONFIG_T::n_chan; i++) {
        #pragma HLS PIPELINE
        data_T in_data = data.read();
        res_T out_data;
        PRAGMA_DATA_PACK(out_data)
    HilThresholdChannels:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            #pragma HLS UNROLL
            typename CONFIG_T::count_t count = 0;
        HilThresholdSteps:
            for (unsigned k = 0; k < CONFIG_T::n_steps; k++) {
                #pragma HLS UNROLL
                if (in_data[c] >= thresholds[c * CONFIG_T::n_steps + k]) {
                    count++;
                }
            }
            out_data[c] = CONFIG_T::out_scale * count + CONFIG_T::out_bias;
        }
        res.write(out_data);
    }
}

} // namespace nnet

#endif
