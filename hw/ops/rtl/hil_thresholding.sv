// hil_thresholding: multi-threshold activation, PE channels per word (finn-hlslib Thresholding_Batch).
//
// One firing per cycle, each reading one word and writing one (Thresholding.token_schedule()); channel
// group t = firing mod (C/PE). out = #{k : x >= T[t*PE+pe][k]} + ACT_VAL (BIPOLAR: the count bit).
// Output through the 2-word queue of the `rtl` timing profile (latency 1, in flight 2).
module hil_thresholding #(
  parameter int C = 1, parameter int PE = 1,
  parameter int IBITS = 1, parameter int IN_MODE = 0,
  parameter int TBITS = 32,                 // threshold width (signed)
  parameter int NSTEPS = 1, parameter int ACT_VAL = 0,
  parameter int OBITS = 1,
  parameter THRESH_FILE = "thresholds.mem"
) (
  input  logic                clk,
  input  logic                rst_n,
  input  logic [PE*IBITS-1:0] in_data,
  input  logic                in_valid,
  output logic                in_ready,
  output logic [PE*OBITS-1:0] out_data,
  output logic                out_valid,
  input  logic                out_ready
);
  localparam int TMEM = C / PE;
  logic [PE*NSTEPS*TBITS-1:0] tmem [TMEM];
  initial $readmemh(THRESH_FILE, tmem);

  localparam int TW = (TMEM > 1) ? $clog2(TMEM) : 1;
  localparam int CW = $clog2(NSTEPS + 1);
  logic [TW-1:0] t;
  logic q_ready;
  assign in_ready = q_ready;
  wire fire = in_valid && q_ready;
  logic [PE*OBITS-1:0] result;

  always_comb begin
    for (int pe = 0; pe < PE; pe++) begin
      // explicit widths (synthesis builds what the comparison needs): the element decoded into IBITS+1
      // signed bits, compared with a TBITS-bit threshold (both sign-extended to the wider). The count
      // adds a conditional, not an `if` as a loop's body: that form crashes Yosys 0.23 (genrtlil.cc:1381).
      logic signed [IBITS:0] v;
      logic [CW-1:0] count;
      v = (IBITS + 1)'(hil_pkg::decode(64'(in_data[pe*IBITS +: IBITS]), IBITS, IN_MODE));
      count = '0;
      for (int k = 0; k < NSTEPS; k++)
        count = count + CW'((v >= $signed(thr[(pe*NSTEPS + k)*TBITS +: TBITS])) ? 1 : 0);
      result[pe*OBITS +: OBITS] = OBITS'(32'(count) + ACT_VAL);
    end
  end

  // The thresholds of the channel group of the next firing, registered: read at t's next value (0 in
  // reset), so that each register bit is a function of that address alone (one LUT6 per bit to 32 words).
  // Written as `if (!rst_n) ... else if (fire)`, Yosys 0.23 merges t into the ROM's read port and builds
  // each bit as a function of t, t+1, fire, reset and its own value (a LUT8 of 4 LUT6s at 32 words).
  // (a power-of-two TMEM wraps by itself: no compare, whose inputs each register bit would add)
  wire wrap = (TMEM == (1 << TW)) ? 1'b0 : (t == TW'(TMEM - 1));
  wire [TW-1:0] t_next = (!rst_n || wrap) ? '0 : t + 1'b1;
  logic [PE*NSTEPS*TBITS-1:0] thr;
  always_ff @(posedge clk) begin
    if (!rst_n || fire) begin
      t <= t_next;
      thr <= tmem[t_next];
    end
  end

  hil_fifo #(.WIDTH(PE*OBITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(result), .in_valid(fire), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
