// hil_maxpool: k x k max pooling, stride k, all channels per word (finn-hlslib StreamingMaxPool_Precision).
// Per pooled row: K*IFM firings each read a pixel and fold it into the row buffer of OFM maxima,
// then OFM firings each write one (StreamingMaxPool.token_schedule()). Output via the 2-word queue.
module hil_maxpool #(
  parameter int IFM = 4, parameter int K = 2, parameter int C = 1,
  parameter int BITS = 8, parameter int MODE = 0
) (
  input  logic              clk,
  input  logic              rst_n,
  input  logic [C*BITS-1:0] in_data,
  input  logic              in_valid,
  output logic              in_ready,
  output logic [C*BITS-1:0] out_data,
  output logic              out_valid,
  input  logic              out_ready
);
  localparam int OFM = IFM / K;
  localparam int NREAD = K * IFM;
  logic [C*BITS-1:0] row [OFM];
  // counters at their ranges' widths (an `int` is 32 flip-flops to Yosys, which proves no range)
  localparam int JW = $clog2(NREAD + OFM);
  localparam int PW = (IFM > 1) ? $clog2(IFM) : 1;
  logic [JW-1:0] j;  // firing within the pooled row: NREAD reads, then OFM writes
  logic [PW-1:0] px;  // j % IFM while reading: the pixel's column (a counter, not a divider by IFM)
  wire reads = 32'(j) < NREAD;
  wire writes = !reads;
  localparam int DW = ($clog2(K + 1) > PW) ? $clog2(K + 1) : PW;  // px and K
  wire [DW-1:0] col = DW'(px) / DW'(K);  // pooled column of this pixel (a shift when K is a power of two)
  wire first = 32'(j) < IFM && (DW'(px) % DW'(K)) == 0;  // first pixel of its window
  wire [JW-1:0] wi = j - JW'(NREAD);  // the maximum written
  logic q_ready;
  assign in_ready = reads;
  wire fire = reads ? in_valid : q_ready;
  logic [C*BITS-1:0] folded;

  always_comb begin
    for (int ch = 0; ch < C; ch++) begin
      logic [BITS-1:0] a, b;
      a = in_data[ch*BITS +: BITS];
      b = row[32'(col) < OFM ? col : '0][ch*BITS +: BITS];
      folded[ch*BITS +: BITS] = (first || hil_pkg::decode(64'(a), BITS, MODE) > hil_pkg::decode(64'(b), BITS, MODE)) ? a : b;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      j <= '0;
      px <= '0;
    end else if (fire) begin
      if (reads && 32'(col) < OFM) row[col] <= folded;
      if (reads) px <= (32'(px) == IFM - 1) ? '0 : px + 1'b1;  // NREAD = K*IFM reads end at px 0
      j <= (32'(j) == NREAD + OFM - 1) ? '0 : j + 1'b1;
    end
  end

  hil_fifo #(.WIDTH(C*BITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(row[writes ? wi : '0]), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
