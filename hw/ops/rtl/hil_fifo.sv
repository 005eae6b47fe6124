// hil_fifo: a registered AXI-Stream FIFO of DEPTH words (the edge semantics of hw/emulator/kernel.py).
//
// * A word written (pushed) in cycle t is readable from cycle t+1: out_valid comes from the count register.
// * A slot freed by a read in cycle t is writable from cycle t+1: in_ready = count < DEPTH, from the
//   register, never from out_ready (no same-cycle pass-through).
// * hwm is the high-water mark as the emulator defines it: max over cycles of count + push, i.e. the
//   slots the capacity rule sees occupied (hw/emulator/timing.py high_water_mark); a debug output,
//   built only with MONITOR = 1 (the co-simulation), so that synthesis counts no monitor logic.
// Plain registers (inferred as LUTRAM/BRAM/SRL by the synthesis tool); no vendor primitives.
module hil_fifo #(
  parameter int WIDTH = 8,
  parameter int DEPTH = 2,
  parameter bit MONITOR = 0
) (
  input  logic             clk,
  input  logic             rst_n,
  input  logic [WIDTH-1:0] in_data,
  input  logic             in_valid,
  output logic             in_ready,
  output logic [WIDTH-1:0] out_data,
  output logic             out_valid,
  input  logic             out_ready,
  output logic [31:0]      hwm
);
  localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam int CW = $clog2(DEPTH + 1);  // count in 0..DEPTH
  logic [WIDTH-1:0] mem [DEPTH];
  logic [AW-1:0] wr_ptr, rd_ptr;
  logic [CW-1:0] count;
  wire push = in_valid && in_ready;
  wire pop = out_valid && out_ready;

  assign in_ready = 32'(count) < DEPTH;
  assign out_valid = count != 0;
  assign out_data = mem[rd_ptr];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count <= '0;
    end else begin
      if (push) begin
        mem[wr_ptr] <= in_data;
        wr_ptr <= (wr_ptr == AW'(DEPTH - 1)) ? '0 : wr_ptr + 1'b1;
      end
      if (pop) rd_ptr <= (rd_ptr == AW'(DEPTH - 1)) ? '0 : rd_ptr + 1'b1;
      count <= count + CW'(push) - CW'(pop);
    end
  end

  generate
    if (MONITOR) begin : g_monitor
      always_ff @(posedge clk) begin
        if (!rst_n) hwm <= '0;
        else if (32'(count) + 32'(push) > hwm) hwm <= 32'(count) + 32'(push);
      end
    end else begin : g_no_monitor
      assign hwm = '0;
    end
  endgenerate
endmodule
