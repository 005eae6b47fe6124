// hil_mvau: matrix-vector-activation unit, PE x SIMD folded (finn-hlslib mvau.hpp Matrix_Vector_Activate_Batch).
//
// One firing per cycle over the loop nest (nf < NF, sf < SF), NF = MH/PE, SF = MW/SIMD, repeated per
// input vector -- exactly MVAU.token_schedule(): a firing with nf == 0 reads one SIMD-wide input word
// (kept in ibuf[sf] and replayed for nf > 0); the firing with sf == SF-1 writes one PE-wide output word.
// A firing issues when its input word is valid (if it reads) and the 2-word output queue has room (if
// it writes); the queue is the op's pipeline: a result is visible one cycle after its firing (latency 1)
// and at most 2 results wait (in flight 2) -- the `rtl` timing profile (hw/emulator/impl.py).
// Arithmetic: weight lane (pe, s) at bits [(pe*SIMD+s)*WBITS +: WBITS] of word nf*SF+sf; XNOR mode adds
// popcount(~(x ^ w)); thresholds: out = #{k : acc >= T[nf*PE+pe][k]} + ACT_VAL (BIPOLAR: the count bit).
module hil_mvau #(
  parameter int MW = 1, parameter int MH = 1, parameter int PE = 1, parameter int SIMD = 1,
  parameter int IBITS = 1, parameter int IN_MODE = 0,   // hil_pkg UNSIGNED / SIGNED / BIPOLAR
  parameter int WBITS = 1, parameter int W_MODE = 0,
  parameter int XNOR = 0,
  parameter int ACC_W = 32,                            // accumulator and threshold width (signed)
  parameter int HAS_THR = 1, parameter int NSTEPS = 1, parameter int ACT_VAL = 0,
  parameter int OBITS = 1,
  parameter WEIGHT_FILE = "weights.mem",
  parameter THRESH_FILE = "thresholds.mem"
) (
  input  logic                  clk,
  input  logic                  rst_n,
  input  logic [SIMD*IBITS-1:0] in_data,
  input  logic                  in_valid,
  output logic                  in_ready,
  output logic [PE*OBITS-1:0]   out_data,
  output logic                  out_valid,
  input  logic                  out_ready
);
  localparam int NF = MH / PE;
  localparam int SF = MW / SIMD;
  localparam int TW = PE * NSTEPS * ACC_W;

  logic [PE*SIMD*WBITS-1:0] wmem [NF*SF];
  logic [(HAS_THR ? TW : 1)-1:0] tmem [NF];
  initial begin
    $readmemh(WEIGHT_FILE, wmem);
    if (HAS_THR) $readmemh(THRESH_FILE, tmem);
  end

  logic [SIMD*IBITS-1:0] ibuf [SF];
  logic signed [ACC_W-1:0] acc [PE];
  // Datapath widths are explicit so that synthesis builds what the arithmetic needs: an element is
  // decoded into IBITS+1 (WBITS+1) signed bits, a product into IBITS+WBITS+2, and sums wrap at ACC_W,
  // which holds every partial sum's final value (two's complement sums are exact modulo 2^ACC_W).
  localparam int PW = IBITS + WBITS + 2;
  localparam int NFW = (NF > 1) ? $clog2(NF) : 1;
  localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
  localparam int CW = $clog2(NSTEPS + 1);
  logic [NFW-1:0] nf;
  logic [SFW-1:0] sf;

  // the firing of this cycle
  wire reads = (nf == 0);
  wire writes = (sf == SFW'(SF - 1));
  logic q_ready;
  assign in_ready = reads && (!writes || q_ready);
  wire fire = (!reads || in_valid) && (!writes || q_ready);

  wire [SIMD*IBITS-1:0] x = reads ? in_data : ibuf[sf];
  wire [PE*SIMD*WBITS-1:0] w = wmem[nf*SF + sf];
  logic signed [ACC_W-1:0] next_acc [PE];
  logic [PE*OBITS-1:0] result;

  always_comb begin
    for (int pe = 0; pe < PE; pe++) begin
      logic signed [ACC_W-1:0] dot;
      logic signed [IBITS:0] xv;
      logic signed [WBITS:0] wv;
      logic signed [PW-1:0] prod;
      logic [CW-1:0] count;
      dot = '0;
      for (int s = 0; s < SIMD; s++) begin
        if (XNOR) begin
          if (x[s*IBITS] == w[(pe*SIMD + s)*WBITS]) dot = dot + ACC_W'(1);
        end else begin
          xv = (IBITS + 1)'(hil_pkg::decode(64'(x[s*IBITS +: IBITS]), IBITS, IN_MODE));
          wv = (WBITS + 1)'(hil_pkg::decode(64'(w[(pe*SIMD + s)*WBITS +: WBITS]), WBITS, W_MODE));
          prod = PW'(xv) * PW'(wv);
          dot = dot + ACC_W'(prod);
        end
      end
      next_acc[pe] = ((sf == 0) ? ACC_W'(0) : acc[pe]) + dot;
      if (HAS_THR) begin
        count = '0;
        for (int k = 0; k < NSTEPS; k++)
          count = count + CW'((next_acc[pe] >= $signed(tmem[nf][(pe*NSTEPS + k)*ACC_W +: ACC_W])) ? 1 : 0);
        result[pe*OBITS +: OBITS] = OBITS'(32'(count) + ACT_VAL);
      end else begin
        result[pe*OBITS +: OBITS] = OBITS'(next_acc[pe]);
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      nf <= '0;
      sf <= '0;
    end else if (fire) begin
      if (reads) ibuf[sf] <= in_data;
      for (int pe = 0; pe < PE; pe++) acc[pe] <= next_acc[pe];
      if (sf == SFW'(SF - 1)) begin
        sf <= '0;
        nf <= (nf == NFW'(NF - 1)) ? '0 : nf + 1'b1;
      end else begin
        sf <= sf + 1'b1;
      end
    end
  end

  hil_fifo #(.WIDTH(PE*OBITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(result), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
