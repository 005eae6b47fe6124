// hil_dwc: stream data-width converter for integer width ratios (finn-hlslib streamtools.h
// StreamingDataWidthConverter_Batch). Firings follow hw.schedule.streaming(words_in, words_out):
// widening (OUT_W = R*IN_W): every firing reads, the R-th of each group writes {in, buffered};
// narrowing (IN_W = R*OUT_W): every firing writes, the first of each group reads the word whose
// slices (lowest first) are written by the R firings. Output through the 2-word `rtl` queue.
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
  localparam int R = (IN_W > OUT_W) ? IN_W / OUT_W : OUT_W / IN_W;
  localparam int BW = (IN_W > OUT_W) ? IN_W : OUT_W;
  int r;
  logic [BW-1:0] buffer;
  logic q_ready;
  wire reads = (IN_W >= OUT_W) ? (r == 0) : 1'b1;
  wire writes = (IN_W <= OUT_W) ? (r == R - 1) : 1'b1;
  assign in_ready = reads && (!writes || q_ready);
  wire fire = (!reads || in_valid) && (!writes || q_ready);
  logic [OUT_W-1:0] result;

  always_comb begin
    if (IN_W == OUT_W) result = OUT_W'(in_data);
    else if (IN_W > OUT_W) result = (r == 0) ? OUT_W'(in_data) : OUT_W'(buffer[r*OUT_W +: OUT_W]);
    else begin
      logic [BW-1:0] word;
      word = buffer;
      word[r*IN_W +: IN_W] = in_data;
      result = OUT_W'(word);
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) r <= 0;
    else if (fire) begin
      if (IN_W > OUT_W && r == 0) buffer <= BW'(in_data);
      if (IN_W < OUT_W) buffer[r*IN_W +: IN_W] <= in_data;
      r <= (r == R - 1) ? 0 : r + 1;
    end
  end

  hil_fifo #(.WIDTH(OUT_W), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(result), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
