// hil_swg: sliding-window generator, im2col order (kh, kw, C) (finn-hlslib slidingwindow.h
// ConvolutionInputGenerator / _kernel_stride). The control is the HLS loop's, counter for counter (the
// same names as hw/ops/_swg_loop.py, which replays it for SWG.token_schedule()), restarted every frame
// as the schedule is; one iteration per cycle when its input word is there (if it reads) and the
// 2-word output queue has room (if it writes). Data: input word i of the frame is kept at i mod BUF
// (BUF = the HLS line buffers, NB blocks of LINE_LEN words); output word (oy, ox, ky, kx, c) is input
// word ((oy*S + ky)*IFM + ox*S + kx)*CF + c.
module hil_swg #(
  parameter int K = 3, parameter int S = 1, parameter int IFM = 8, parameter int OFM = 6,
  parameter int CF = 1,            // IFMChannels / SIMD
  parameter int WIDTH = 8,         // SIMD * bits
  parameter int KS = 0             // K % S != 0: the _kernel_stride variant
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
  localparam int NB = KS ? K + S : K / S + 1;
  localparam int LINE_LEN = KS ? IFM * CF : S * IFM * CF;
  localparam int WRITE_BLOCK = OFM * K * K * CF;
  localparam int READ_BLOCK = KS ? IFM * S * CF : S * IFM * CF;
  localparam int MAX_CYCLES = WRITE_BLOCK > READ_BLOCK ? WRITE_BLOCK : READ_BLOCK;
  localparam int BASE = KS ? IFM * K * CF + (OFM - 1) * MAX_CYCLES + (WRITE_BLOCK > OFM ? WRITE_BLOCK : OFM)
                           : IFM * K * CF + OFM * MAX_CYCLES;
  localparam int ROWS_TO_READ = KS ? IFM : IFM / S;
  localparam int INITIAL = IFM * K * CF;
  localparam int BUF = NB * LINE_LEN;

  logic [WIDTH-1:0] buffer [BUF];
  // The loop counters at their ranges' widths (an `int` is 32 flip-flops to Yosys, which proves no
  // range): t < BASE, inp <= INITIAL, counter <= MAX_CYCLES - 2, cur_line < LINE_LEN, read_block_n <=
  // ROWS_TO_READ (the initial lines, K/S or K, are no more), count_simd < CF, k_x, k_y < K, ofm_x,
  // ofm_y < OFM; each *W the bits of its values (at least 1)
  localparam int FRAME = IFM * IFM * CF;  // input words per frame
  localparam int TW = (BASE > 1) ? $clog2(BASE) : 1;
  localparam int IW = $clog2(INITIAL + 1);
  localparam int NW = (MAX_CYCLES > 1) ? $clog2(MAX_CYCLES) : 1;
  localparam int LW = (LINE_LEN > 1) ? $clog2(LINE_LEN) : 1;
  localparam int RW = $clog2(ROWS_TO_READ + 1);
  localparam int CW = (CF > 1) ? $clog2(CF) : 1;
  localparam int KW = (K > 1) ? $clog2(K) : 1;
  localparam int OW = (OFM > 1) ? $clog2(OFM) : 1;
  localparam int BW = (BUF > 1) ? $clog2(BUF) : 1;
  localparam int AW = ($clog2(FRAME) > $clog2(BUF + 1)) ? $clog2(FRAME) : $clog2(BUF + 1);  // address, BUF
  logic [TW-1:0] t;
  logic [IW-1:0] inp;
  logic [NW-1:0] counter;
  logic [LW-1:0] cur_line;
  logic [RW-1:0] read_block_n;
  logic [CW-1:0] count_simd;
  logic [KW-1:0] k_x, k_y;
  logic [OW-1:0] ofm_x, ofm_y;
  logic [BW-1:0] wr;  // n_read % BUF: input word n_read of the frame is kept at n_read mod BUF

  wire initial_phase = 32'(inp) < INITIAL;
  wire reads = initial_phase || (32'(counter) < READ_BLOCK - 1 && 32'(read_block_n) < ROWS_TO_READ);
  wire writes = !initial_phase && (32'(counter) < WRITE_BLOCK - 1 || (KS && 32'(read_block_n) == IFM));
  logic q_ready;
  assign in_ready = reads && (!writes || q_ready);
  wire fire = (!reads || in_valid) && (!writes || q_ready);
  // output word (oy, ox, ky, kx, c) is input word ((oy*S + ky)*IFM + ox*S + kx)*CF + c < FRAME, at that
  // index mod BUF: computed at AW bits (a divider of AW bits when BUF is no power of two)
  wire [AW-1:0] raddr = AW'(((32'(ofm_y) * S + 32'(k_y)) * IFM + 32'(ofm_x) * S + 32'(k_x)) * CF + 32'(count_simd));
  wire [AW-1:0] rslot = raddr % AW'(BUF);
  wire [WIDTH-1:0] result = buffer[rslot];

  always_ff @(posedge clk) begin
    if (!rst_n || (fire && 32'(t) == BASE - 1)) begin  // a new frame restarts the loop
      t <= '0; inp <= '0; counter <= '0; cur_line <= '0; read_block_n <= '0; wr <= '0;
      count_simd <= '0; k_x <= '0; k_y <= '0; ofm_x <= '0; ofm_y <= '0;
    end else if (fire) begin
      t <= t + 1'b1;
      if (reads) begin
        buffer[wr] <= in_data;
        wr <= (32'(wr) == BUF - 1) ? '0 : wr + 1'b1;
      end
      if (initial_phase) begin
        inp <= inp + 1'b1;
        if (32'(cur_line) + 1 == LINE_LEN) begin
          cur_line <= '0;
          read_block_n <= read_block_n + 1'b1;
          counter <= '0;
        end else cur_line <= cur_line + 1'b1;
      end else begin
        if (writes) begin
          if (32'(count_simd) + 1 < CF) count_simd <= count_simd + 1'b1;
          else begin
            count_simd <= '0;
            if (32'(k_x) + 1 < K) k_x <= k_x + 1'b1;
            else begin
              k_x <= '0;
              if (32'(k_y) + 1 < K) k_y <= k_y + 1'b1;
              else begin
                k_y <= '0;
                if (32'(ofm_x) + 1 < OFM) ofm_x <= ofm_x + 1'b1;
                else begin
                  ofm_x <= '0;
                  if (32'(ofm_y) + 1 < OFM) ofm_y <= ofm_y + 1'b1;
                  else begin
                    ofm_y <= '0;
                    inp <= '0;
                  end
                end
              end
            end
          end
        end
        if (reads) begin
          if (32'(cur_line) + 1 == LINE_LEN) begin
            cur_line <= '0;
            read_block_n <= read_block_n + 1'b1;
          end else cur_line <= cur_line + 1'b1;
        end
        counter <= (32'(counter) + 1 == MAX_CYCLES - 1) ? '0 : counter + 1'b1;
      end
    end
  end

  hil_fifo #(.WIDTH(WIDTH), .DEPTH(2)) queue (
    .clk, .rst_n, .in_data(result), .in_valid(fire && writes), .in_ready(q_ready),
    .out_data, .out_valid, .out_ready, .hwm());
endmodule
