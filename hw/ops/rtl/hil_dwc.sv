// hil_dwc: stream data-width converter for any width ratio (finn-hlslib streamtools.h
// StreamingDataWidthConverter_Batch for integer ratios, StreamingDataWidthConverterGeneralized_Batch
// for the others). Firings follow DWC.token_schedule() (hw/ops/dwc.py): the converter holds b
// buffered bits (the oldest at bit 0); a firing reads a word when b < OUT_W and writes the lowest
// OUT_W bits when b plus the word read reaches OUT_W. Widening: every firing reads, the one that
// completes a word writes {in, buffered}; narrowing: every firing writes, the first of a word reads.
// Output through the 2-word `rtl` queue. Integer ratios are built as FINN builds them (below).
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
  logic q_ready;
  logic [OUT_W-1:0] q_data;
  logic q_valid;

  if (IN_W > OUT_W && IN_W % OUT_W == 0) begin : narrow
    // An integer narrowing (IN_W = R * OUT_W, finn-hlslib's StreamingDataWidthConverter_Batch): the
    // firings are those of the general converter below (the first of a word reads it and writes its
    // slice 0, the next R-1 write slices 1..R-1 of the word held), built as a slice counter and an R:1
    // mux per output bit instead of a buffer shifted by its fill count.
    localparam int R = IN_W / OUT_W;
    localparam int SW = $clog2(R);
    logic [SW-1:0] slice;
    logic [IN_W-1:OUT_W] held;  // slices 1..R-1 of the word being written out
    wire reads = (slice == '0);
    assign in_ready = reads && q_ready;
    wire fire = (!reads || in_valid) && q_ready;
    wire [IN_W-1:0] word = {held, in_data[OUT_W-1:0]};
    wire [OUT_W-1:0] out_slice = word[slice*OUT_W +: OUT_W];
    always_ff @(posedge clk) begin
      if (!rst_n) slice <= '0;
      else if (fire) slice <= (slice == SW'(R - 1)) ? '0 : slice + 1'b1;
      if (fire && reads) held <= in_data[IN_W-1:OUT_W];
    end
    assign q_data = out_slice;
    assign q_valid = fire;
  end else if (OUT_W > IN_W && OUT_W % IN_W == 0) begin : widen
    // An integer widening (OUT_W = R * IN_W, StreamingDataWidthConverter_Batch again): every firing
    // reads a word; the first R-1 of an output word are held in its slices 0..R-2 (a decoded enable per
    // slice), the R-th writes {in, held}. The general converter's firings, without its shifter.
    localparam int R = OUT_W / IN_W;
    localparam int SW = $clog2(R);
    logic [SW-1:0] slice;
    logic [OUT_W-IN_W-1:0] held;
    wire writes = (slice == SW'(R - 1));
    assign in_ready = !writes || q_ready;
    wire fire = in_valid && in_ready;
    always_ff @(posedge clk) begin
      if (!rst_n) slice <= '0;
      else if (fire) slice <= writes ? '0 : slice + 1'b1;
      for (int r = 0; r < R - 1; r++)
        if (fire && slice == SW'(r)) held[r*IN_W +: IN_W] <= in_data;
    end
    assign q_data = {in_data, held};
    assign q_valid = fire && writes;
  end else begin : general
    localparam int BW = IN_W + OUT_W;  // at most OUT_W - 1 bits wait, plus the word read
    localparam int CW = $clog2(BW + 1);
    logic [BW-1:0] buffer;  // b valid bits; the bits above them are 0
    logic [CW-1:0] b;
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
    assign q_data = word[OUT_W-1:0];
    assign q_valid = fire && writes;
  end

  hil_fifo #(.WIDTH(OUT_W), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(q_data), .in_valid(q_valid), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
