// hil_dwc: stream data-width converter for any width ratio (finn-hlslib streamtools.h
// StreamingDataWidthConverter_Batch for integer ratios, StreamingDataWidthConverterGeneralized_Batch
// for the others). Firings follow DWC.token_schedule() (hw/ops/dwc.py): the converter holds b
// buffered bits (the oldest at bit 0); a firing reads a word when b < OUT_W and writes the lowest
// OUT_W bits when b plus the word read reaches OUT_W. Widening: every firing reads, the one that
// completes a word writes {in, buffered}; narrowing: every firing writes, the first of a word reads.
// Output through the 2-word `rtl` queue.
module hil_dwc #(
  parameter int IN_W = 8, parameter int OUT_W = 8
) (
  input  logic             clk,
  input  logic             rst_n,
  input  logic [IN_W-1:0]  in_data,
  input  logic             in_valid,
  output logic             in_ready,
  output logic [OUT_W-1:0] out_data,
  output logic             out_valid,
  input  logic             out_ready
);
  localparam int BW = IN_W + OUT_W;  // at most OUT_W - 1 bits wait, plus the word read
  localparam int CW = $clog2(BW + 1);
  logic [BW-1:0] buffer;  // b valid bits; the bits above them are 0
  logic [CW-1:0] b;
  logic q_ready;
  wire reads = b < CW'(OUT_W);
  wire [CW-1:0] avail = b + (reads ? CW'(IN_W) : CW'(0));
  wire writes = avail >= CW'(OUT_W);
  assign in_ready = reads && (!writes || q_ready);
  wire fire = (!reads || in_valid) && (!writes || q_ready);
  wire [BW-1:0] word = reads ? (buffer | (BW'(in_data) << b)) : buffer;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      buffer <= '0;
      b <= '0;
    end else if (fire) begin
      buffer <= writes ? (word >> OUT_W) : word;
      b <= avail - (writes ? CW'(OUT_W) : CW'(0));
    end
  end

  hil_fifo #(.WIDTH(OUT_W), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(word[OUT_W-1:0]), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
