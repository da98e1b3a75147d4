#!/usr/bin/env python3
"""Disk use of a real node under a steady load, pruning against archive
(issue 21, item 2): a fresh 4-validator devnet (genesis/devnet.json) takes
transfers at a steady rate from build/bench/node_load for --seconds, and
validator-1's data directory is measured every --every seconds: the chain
database (data/chain) and the snapshots (data/snapshots), with the height.

  bench/disk_run.py [--seconds S] [--rate TX_PER_S] [--every S] [--modes pruned,archive]

"pruned" keeps 100 state versions and 100 blocks ([storage]
keep_recent_heights and keep_recent_blocks) and a snapshot every 200
heights (2 kept); "archive" keeps every version and every block
(keep_recent_heights = 0). Figures only: it never asserts.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))
os.environ.setdefault("VERITY_SOURCE_ROOT", ROOT)
os.environ.setdefault("VERITYD", os.path.join(ROOT, "build", "node", "verityd"))

from harness import Cluster, DEVNET_GENESIS, rpc, set_config, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "bench"))
from node_load import dir_bytes  # noqa: E402

LOAD = os.environ.get("NODE_LOAD", os.path.join(ROOT, "build", "bench", "node_load"))

MODES = {
    "pruned": {"keep_recent_heights": 100, "keep_recent_blocks": 100, "snapshot_interval": 200},
    "archive": {"keep_recent_heights": 0, "keep_recent_blocks": 0, "snapshot_interval": 0},
}


def run(mode, seconds, rate, every):
    c = Cluster(timeout_ms=5000, empty_block_ms=1000)
    for n in c.nodes:
        for key, value in MODES[mode].items():
            set_config(n.home, "storage", key, value)
    c.start()
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        peers = ",".join(f"127.0.0.1:{n.p2p_port}" for n in c.nodes)
        done = {}

        def load():
            out = subprocess.run([LOAD, "--genesis", DEVNET_GENESIS, "--peers", peers, "--rate", str(rate),
                                  "--seconds", str(seconds), "--wait", "60"], capture_output=True, text=True,
                                 timeout=seconds + 180)
            done["out"] = out.stdout.strip().splitlines()[:1]

        t = threading.Thread(target=load)
        start = time.monotonic()
        t.start()
        v1 = c.nodes[0]
        rows = []
        while t.is_alive():
            time.sleep(every)
            h = rpc(v1, "status")["result"]["height"]
            chain = dir_bytes(os.path.join(v1.home, "data", "chain")) / 2**20
            snaps = dir_bytes(os.path.join(v1.home, "data", "snapshots")) / 2**20
            rows.append((time.monotonic() - start, h, chain, snaps))
            print(f"  {mode:8} {rows[-1][0]:6.0f} s  height {h:6}  chain {chain:8.1f} MiB  snapshots {snaps:6.2f} MiB",
                  flush=True)
        t.join()
        print(f"  {mode}: load: {' '.join(done.get('out', ['?']))}", flush=True)
        return rows
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=240)
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--every", type=float, default=20)
    ap.add_argument("--modes", default="pruned,archive")
    a = ap.parse_args()
    results = {m: run(m, a.seconds, a.rate, a.every) for m in a.modes.split(",")}
    print("summary (validator-1's data/chain, MiB, at each quarter of the run):")
    for m, rows in results.items():
        if not rows:
            continue
        picks = [rows[min(len(rows) - 1, max(0, round(q * len(rows)) - 1))] for q in (0.25, 0.5, 0.75, 1.0)]
        print(f"  {m:8} " + "  ".join(f"{r[0]:.0f}s/h{r[1]}: {r[2]:.1f}" for r in picks))


if __name__ == "__main__":
    main()
