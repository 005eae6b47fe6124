// hil_duplicatestreams: one stream copied to two (finn-hlslib DuplicateStreams_Batch).
// One firing per cycle reading one word into the 2-word output queue; the queue's head is written to
// both outputs in the same cycle (the timing engine's write event names every port it writes), so
// each out*_valid is offered only while the other output has room -- both edge FIFOs' ready come
// from their count registers, so there is no combinational loop.
module hil_duplicatestreams #(
  parameter int WIDTH = 8
) (
  input  logic             clk,
  input  logic             rst_n,
  input  logic [WIDTH-1:0] in_data,
  input  logic             in_valid,
  output logic             in_ready,
  output logic [WIDTH-1:0] out0_data,
  output logic             out0_valid,
  input  logic             out0_ready,
  output logic [WIDTH-1:0] out1_data,
  output logic             out1_valid,
  input  logic             out1_ready
);
  logic [WIDTH-1:0] head;
  logic head_valid;
  hil_fifo #(.WIDTH(WIDTH), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data, .in_valid, .in_ready,
    .out_data(head), .out_valid(head_valid), .out_ready(out0_ready && out1_ready), .hwm());
  assign out0_data = head;
  assign out1_data = head;
  assign out0_valid = head_valid && out1_ready;
  assign out1_valid = head_valid && out0_ready;
endmodule
