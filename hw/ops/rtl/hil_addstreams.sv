// hil_addstreams: element-wise sum of two streams, PE lanes per word (finn-hlslib AddStreams_Batch).
// One firing per cycle reading one word from both inputs and writing one (AddStreams.token_schedule()),
// into the 2-word output queue of the `rtl` timing profile.
module hil_addstreams #(
  parameter int PE = 1,
  parameter int ABITS = 8, parameter int A_MODE = 0,
  parameter int BBITS = 8, parameter int B_MODE = 0,
  parameter int OBITS = 9
) (
  input  logic                clk,
  input  logic                rst_n,
  input  logic [PE*ABITS-1:0] in0_data,
  input  logic                in0_valid,
  output logic                in0_ready,
  input  logic [PE*BBITS-1:0] in1_data,
  input  logic                in1_valid,
  output logic                in1_ready,
  output logic [PE*OBITS-1:0] out_data,
  output logic                out_valid,
  input  logic                out_ready
);
  logic q_ready;
  // a firing takes both words in one cycle: each ready is offered only when the other word is there
  assign in0_ready = q_ready && in1_valid;
  assign in1_ready = q_ready && in0_valid;
  wire fire = q_ready && in0_valid && in1_valid;
  logic [PE*OBITS-1:0] result;
  always_comb
    for (int p = 0; p < PE; p++)
      result[p*OBITS +: OBITS] = OBITS'(hil_pkg::decode(64'(in0_data[p*ABITS +: ABITS]), ABITS, A_MODE)
                                        + hil_pkg::decode(64'(in1_data[p*BBITS +: BBITS]), BBITS, B_MODE));

  hil_fifo #(.WIDTH(PE*OBITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(result), .in_valid(fire), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
