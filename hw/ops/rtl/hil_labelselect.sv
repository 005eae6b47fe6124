// hil_labelselect: indices of the K largest inputs (finn-hlslib LabelSelect_Batch).
//
// LABELS/PE firings each read one word and insert its PE elements (lower index first) into a list
// sorted descending; an element enters only where it is strictly greater, so ties keep the lower
// index first and values equal to IN_MIN never enter (their slots keep label 0). Then K firings
// each write one label, rank 0 first (LabelSelect.token_schedule()). Output through the 2-word queue.
module hil_labelselect #(
  parameter int LABELS = 2, parameter int PE = 1, parameter int K = 1,
  parameter int IBITS = 8, parameter int IN_MODE = 0,
  parameter longint IN_MIN = 0,
  parameter int OBITS = 8
) (
  input  logic                clk,
  input  logic                rst_n,
  input  logic [PE*IBITS-1:0] in_data,
  input  logic                in_valid,
  output logic                in_ready,
  output logic [OBITS-1:0]    out_data,
  output logic                out_valid,
  input  logic                out_ready
);
  localparam int NIN = LABELS / PE;
  // j counts the firings: NIN reads, then K writes (at its range's width: an `int` is 32 flip-flops
  // to Yosys, which proves no range)
  localparam int JW = $clog2(NIN + K);
  logic [JW-1:0] j;
  // values in IBITS+1 signed bits (every input type and IN_MIN fit); no whole-array assignments or
  // local arrays: Yosys 0.23 rejects them ("Invalid array access")
  logic signed [IBITS:0] vals [K];
  logic [OBITS-1:0] labs [K];
  logic signed [IBITS:0] nvals [K];
  logic [OBITS-1:0] nlabs [K];
  logic q_ready;
  wire reads = 32'(j) < NIN;
  wire writes = !reads;
  assign in_ready = reads;
  wire fire = reads ? in_valid : q_ready;

  always_comb begin
    for (int i = 0; i < K; i++) begin
      nvals[i] = (j == 0) ? (IBITS + 1)'(IN_MIN) : vals[i];
      nlabs[i] = (j == 0) ? '0 : labs[i];
    end
    for (int p = 0; p < PE; p++) begin
      logic signed [IBITS:0] v;
      v = (IBITS + 1)'(hil_pkg::decode(64'(in_data[p*IBITS +: IBITS]), IBITS, IN_MODE));
      // insert v into the sorted top-K: from the bottom up, so that slot i-1 still holds its value
      // from before this insertion when slot i takes it
      for (int i = K - 1; i >= 0; i--) begin
        if (v > nvals[i]) begin
          if (i > 0 && v > nvals[(i > 0) ? i - 1 : 0]) begin
            nvals[i] = nvals[(i > 0) ? i - 1 : 0];
            nlabs[i] = nlabs[(i > 0) ? i - 1 : 0];
          end else begin
            nvals[i] = v;
            nlabs[i] = OBITS'(32'(j) * PE + p);
          end
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) j <= '0;
    else if (fire) begin
      if (reads)
        for (int i = 0; i < K; i++) begin
          vals[i] <= nvals[i];
          labs[i] <= nlabs[i];
        end
      j <= (32'(j) == NIN + K - 1) ? '0 : j + 1'b1;
    end
  end

  hil_fifo #(.WIDTH(OBITS), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(labs[(32'(j) >= NIN) ? JW'(32'(j) - NIN) : '0]), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
