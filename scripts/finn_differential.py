"""`hil estimate --cost finn` against finn-plus's own estimates, on the generated configurations of
tests/oracle/configs.py plus the op kinds finn-plus has no counterpart of. Prints one line per op kind
(equal / different / FINN refused) and lists every node FINN could not process, with FINN's error.

    PYTHONPATH=$PWD .venv/bin/python scripts/finn_differential.py [--seed 19] [--show-equal]

Needs finn-plus (pip install --no-deps finn-plus==1.6.1 click psutil).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.ops.graph import NodeSpec  # noqa: E402
from tests.oracle.configs import Config, all_configs  # noqa: E402
from tests.oracle.differential import compare, valid  # noqa: E402
from tests.oracle.finn_flow import require_finn  # noqa: E402

# ops finn-plus 1.6.1 has no counterpart of: shown so the report says so instead of hiding them
NO_COUNTERPART = [
    Config("swg_hls", "xc7z020clg400-1", [NodeSpec("SWG", dict(
        ConvKernelDim=[3, 3], IFMChannels=64, IFMDim=[30, 30], OFMDim=[28, 28], SIMD=32, Stride=[1, 1],
        inputDataType="BIPOLAR", outputDataType="BIPOLAR", ram_style="distributed"))]),
    Config("maxpool", "xc7z020clg400-1", [NodeSpec("StreamingMaxPool", dict(
        ImgDim=[28, 28], PoolDim=[2, 2], NumChannels=64, dataType="BIPOLAR"))]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--show-equal", action="store_true")
    args = ap.parse_args()
    print(f"finn-plus {require_finn()}")
    logging.getLogger("finn_logger").setLevel(logging.ERROR)  # FINN's per-node style warnings
    configs = all_configs(seed=args.seed)
    usable = [c for c in configs if valid(c)]
    print(f"{len(configs)} generated configurations, {len(usable)} pass our verification")
    equal, different, refused = Counter(), Counter(), []
    for config in usable + NO_COUNTERPART:
        for r in compare(config):
            if r.finn is None:
                refused.append(r)
            elif r.equal:
                equal[r.op_type] += 1
                if args.show_equal:
                    print(f"  = {r.config}/{r.node} {r.part}: {r.ours}")
            else:
                different[r.op_type] += 1
                print(f"  ! {r.config}/{r.node} {r.part}: ours {r.ours} FINN {r.finn}")
    print(f"{'op':<18}{'equal':>7}{'different':>11}{'refused':>9}")
    for op in sorted(set(equal) | set(different) | {r.op_type for r in refused}):
        print(f"{op:<18}{equal[op]:>7}{different[op]:>11}{sum(r.op_type == op for r in refused):>9}")
    if refused:
        print("not compared (FINN cannot process them):")
        for r in refused:
            print(f"  {r.config}/{r.node} ({r.op_type}, {r.part}): {r.finn_error}; ours {r.ours}")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
