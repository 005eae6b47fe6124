#ifndef NNET_HIL_ACCPOOL_H_
#define NNET_HIL_ACCPOOL_H_

// Global accumulating pool of the hil toolchain (FINN GlobalAccPool, finn-hlslib AccPool_Batch), io_stream:
//   out[c] = sum over the n_pixels pixels of in[p][c]
// The sum itself, in the output type, which the toolchain proves holds every sum. hls4ml's
// GlobalAveragePooling2D (nnet_pooling_stream.h global_pooling2d_cl) divides it by H*W in accum_t; the
// dataflow IR moves that 1/(H*W) into the next layer instead.

#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_types.h"

namespace nnet {

struct hil_accpool_config {
    static const unsigned n_pixels = 1; // H*W words in, one word of n_chan values each
    static const unsigned n_chan = 1;
};

template <class data_T, class res_T, typename CONFIG_T>
void hil_global_acc_pool(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typename res_T::value_type acc[CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=acc complete
HilAccPoolInit:
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS UNROLL
        acc[c] = 0;
    }
HilAccPoolPixels:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
        #pragma HLS PIPELINE
        data_T in_data = data.read();
    HilAccPoolChannels:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            #pragma HLS UNROLL
            acc[c] += in_data[c];
        }
    }
    res_T out_data;
    PRAGMA_DATA_PACK(out_data)
HilAccPoolOut:
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS UNROLL
        out_data[c] = acc[c];
    }
    res.write(out_data);
}

} // namespace nnet

#endif
