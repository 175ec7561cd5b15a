"""Print the triton_seq config with the least summed time over the 1080p shapes (one dtype)."""

import json
import sys

doc = json.load(open(sys.argv[1]))
dtype = sys.argv[2] if len(sys.argv) > 2 else "torch.bfloat16"
totals: dict[tuple, float] = {}
for r in doc["rows"]:
    ok = r["kernel"] == "seq" and r["layout"] == "channels-last" and r["rel_err_vs_tile"] < 1e-2
    if ok and r["dtype"] == dtype:
        totals[tuple(r["config"])] = totals.get(tuple(r["config"]), 0.0) + r["ms"]
best = min(totals, key=totals.get)
print(",".join(map(str, best)))
