#!/usr/bin/env python3
"""A hostile client against one validator of a running 4-validator devnet,
while an honest client measures `status` on it (issue 16):

  - the attacker, from 127.0.0.2 (loopback, but another address to the node),
    holds SOCKETS silent connections to the validator's RPC port and, from
    FLOODERS threads, sends unsigned `send_tx` submit_tasks carrying a 1 MiB
    module each (each module different, so no cache answers for it);
  - the honest client, from 127.0.0.1, calls `status` every 20 ms.

Prints both clients' success rates and latencies, and the blocks the devnet
committed per 10 s before and during the flood. Figures only: it never
asserts (tests/functional/flood_test.py asserts on a short run).

  bench/flood.py [--seconds S] [--sockets N] [--flooders N]
"""

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))
os.environ.setdefault("VERITY_SOURCE_ROOT", ROOT)
os.environ.setdefault("VERITYD", os.path.join(ROOT, "build", "node", "verityd"))

from harness import Cluster, wait_for  # noqa: E402

ALICE = "ffb1b20c5ae0b2ed87d2c59bcf43dcb3bbe5dcc8e8ddf8a1b8bb6fc1c69b5aa1"  # any key: the junk is unsigned
ATTACKER = "127.0.0.2"


def junk_task(i):
    """An unsigned submit_task with a 1 MiB module, different for each i."""
    module = bytearray(b"\0asm\x01\0\0\0") + bytearray(1024 * 1024 - 8)
    module[100:108] = i.to_bytes(8, "little")
    tx = {"chain_id": "verity-devnet-1", "sender": ALICE, "nonce": 0, "fee": "0",
          "payload": {"type": "submit_task", "module": module.hex(), "module_hash": "00" * 32, "input": "",
                      "replicas": 3, "reward": "1000", "fuel": 1000000, "commit_blocks": 20, "reveal_blocks": 20},
          "signature": "00" * 64}
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "send_tx", "params": {"tx": tx}}).encode()


class Flooder(threading.Thread):
    def __init__(self, port, first, stop):
        super().__init__(daemon=True)
        self.port, self.next, self.stop = port, first, stop
        self.answered, self.failed, self.reasons = 0, 0, {}

    def run(self):
        while not self.stop.is_set():
            body = junk_task(self.next)
            self.next += 1
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(ATTACKER, 0))
                c.request("POST", "/", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                c.close()
                self.answered += 1
                try:
                    reason = json.loads(data).get("error", {}).get("data", {}).get("reason", "?")
                except ValueError:
                    reason = f"http-{r.status}"
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
            except OSError:
                self.failed += 1
                time.sleep(0.01)


def hold_sockets(port, n):
    """n silent connections from the attacker's address (those the node closes stay closed)."""
    held = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(ATTACKER, 0))
            held.append(s)
        except OSError:
            pass
    return held


class StatusClient(threading.Thread):
    def __init__(self, port, stop, every=0.02):
        super().__init__(daemon=True)
        self.port, self.stop, self.every = port, stop, every
        self.latencies, self.failures = [], 0

    def run(self):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode()
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("POST", "/", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                ok = r.status == 200 and "result" in json.loads(r.read())
                c.close()
                if ok:
                    self.latencies.append((time.monotonic() - start) * 1000)
                else:
                    self.failures += 1
            except (OSError, ValueError):
                self.failures += 1
            time.sleep(self.every)

    def figures(self):
        v = sorted(self.latencies)
        pick = lambda p: v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")  # noqa: E731
        return {"calls": len(v) + self.failures, "ok": len(v), "p50": pick(0.5), "p99": pick(0.99),
                "max": v[-1] if v else float("nan")}


def flood(cluster, seconds, sockets, flooders):
    """Runs the flood against cluster.nodes[0]; returns the figures."""
    node = cluster.nodes[0]
    h0 = node.height()
    time.sleep(seconds)  # the block rate before
    h1 = node.height()
    stop = threading.Event()
    held = hold_sockets(node.rpc_port, sockets)
    threads = [Flooder(node.rpc_port, 1_000_000 * (i + 1), stop) for i in range(flooders)]
    for t in threads:
        t.start()
    honest = StatusClient(node.rpc_port, stop)
    honest.start()
    time.sleep(seconds)
    stop.set()
    honest.join()
    for t in threads:
        t.join()
    h2 = node.height()
    still_open = 0
    for s in held:
        try:
            s.setblocking(False)
            still_open += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        s.close()
    reasons = {}
    for t in threads:
        for k, v in t.reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    return {"honest": honest.figures(), "junk_answered": sum(t.answered for t in threads),
            "junk_failed": sum(t.failed for t in threads), "junk_reasons": reasons,
            "sockets_opened": len(held), "sockets_still_open": still_open,
            "blocks_before": h1 - h0, "blocks_during": h2 - h1, "seconds": seconds}


def describe(f):
    h = f["honest"]
    return (f"honest client (status every 20 ms): {h['ok']} of {h['calls']} succeeded; p50 {h['p50']:.1f} ms, "
            f"p99 {h['p99']:.1f} ms, max {h['max']:.1f} ms\n"
            f"attacker: {f['junk_answered']} junk submit_tasks answered ({f['junk_reasons']}), "
            f"{f['junk_failed']} failed; {f['sockets_opened']} silent sockets opened, "
            f"{f['sockets_still_open']} still open at the end\n"
            f"blocks committed in {f['seconds']:.0f} s: {f['blocks_before']} before the flood, "
            f"{f['blocks_during']} during it")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--sockets", type=int, default=500)
    p.add_argument("--flooders", type=int, default=4)
    p.add_argument("--runs", type=int, default=1)
    a = p.parse_args()
    for run in range(1, a.runs + 1):
        c = Cluster(timeout_ms=5000, empty_block_ms=1000).start()
        try:
            wait_for("the devnet commits", lambda: all(n.height() >= 1 for n in c.nodes), 60, c.nodes)
            print(f"run {run}:\n" + describe(flood(c, a.seconds, a.sockets, a.flooders)), flush=True)
        finally:
            c.stop()


if __name__ == "__main__":
    main()
