// hil_pkg: element decoding shared by the op modules (the qonnx datatype encodings of FINN streams:
// element i of a word at bits [i*BITS +: BITS]; BIPOLAR stored as one bit, 1 = +1, 0 = -1).
package hil_pkg;
  localparam int UNSIGNED = 0;
  localparam int SIGNED = 1;
  localparam int BIPOLAR = 2;

  // the integer value of a BITS-wide element (bits above BITS in `raw` must be 0)
  function automatic logic signed [63:0] decode(input logic [63:0] raw, input int bits, input int mode);
    // assignment to the function name, not `return`: Yosys 0.23's parser has no `return`
    if (mode == BIPOLAR) decode = raw[0] ? 64'sd1 : -64'sd1;
    else if (mode == SIGNED && raw[bits-1]) decode = $signed(raw) - $signed(64'd1 << bits);
    else decode = $signed(raw);
  endfunction
endpackage
