// hil_fmpadding: zero padding of a feature map (finn-hlslib FMPadding_Batch). One firing per output
// word (FMPadding.token_schedule()): inside the image it reads a word and writes it, on the border it
// writes zero without reading. Output through the 2-word `rtl` queue.
module hil_fmpadding #(
  parameter int OH = 8, parameter int OW = 8,
  parameter int TOP = 1, parameter int LEFT = 1, parameter int BOTTOM = 1, parameter int RIGHT = 1,
  parameter int CF = 1,            // NumChannels / SIMD
  parameter int WIDTH = 8
) (
  input  logic             clk,
  input  logic             rst_n,
  input  logic [WIDTH-1:0] in_data,
  input  logic             in_valid,
  output logic             in_ready,
  output logic [WIDTH-1:0] out_data,
  output logic             out_valid,
  input  logic             out_ready
);
  // loop counters at their ranges' widths (an `int` is 32 flip-flops to Yosys, which proves no range)
  localparam int YW = (OH > 1) ? $clog2(OH) : 1;
  localparam int XW = (OW > 1) ? $clog2(OW) : 1;
  localparam int CW = (CF > 1) ? $clog2(CF) : 1;
  logic [YW-1:0] y;
  logic [XW-1:0] x;
  logic [CW-1:0] c;
  wire reads = 32'(y) >= TOP && 32'(y) < OH - BOTTOM && 32'(x) >= LEFT && 32'(x) < OW - RIGHT;
  logic q_ready;
  assign in_ready = reads && q_ready;
  wire fire = (!reads || in_valid) && q_ready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      y <= '0; x <= '0; c <= '0;
    end else if (fire) begin
      if (32'(c) + 1 < CF) c <= c + 1'b1;
      else begin
        c <= '0;
        if (32'(x) + 1 < OW) x <= x + 1'b1;
        else begin
          x <= '0;
          y <= (32'(y) + 1 < OH) ? y + 1'b1 : '0;
        end
      end
    end
  end

  hil_fifo #(.WIDTH(WIDTH), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(reads ? in_data : '0), .in_valid(fire), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
