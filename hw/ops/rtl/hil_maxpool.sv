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
  int j;  // firing within the pooled row: NREAD reads, then OFM writes
  wire reads = j < NREAD;
  wire writes = !reads;
  wire [31:0] col = (j % IFM) / K;  // pooled column of this pixel
  wire first = j < IFM && (j % K) == 0;  // first pixel of its window
  logic q_ready;
  assign in_ready = reads;
  wire fire = reads ? in_valid : q_ready;
  logic [C*BITS-1:0] folded;

  always_comb begin
    for (int ch = 0; ch < C; ch++) begin
      logic [BITS-1:0] a, b;
      a = in_data[ch*BITS +: BITS];
      b = row[col < OFM ? col : 0][ch*BITS +: BITS];
      folded[ch*BITS +: BITS] = (first || hil_pkg::decode(64'(a), BITS, MODE) > hil_pkg::decode(64'(b), BITS, MODE)) ? a : b;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) j <= 0;
    else if (fire) begin
      if (reads && col < OFM) row[col] <= folded;
      j <= (j == NREAD + OFM - 1) ? 0 : j + 1;
    end
  end

  hil_fifo #(.WIDTH(C*BITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(row[writes ? j - NREAD : 0]), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
