#!/usr/bin/env python3
"""A hostile client against a validator (issue 16), asserted on a short run
of bench/flood.py's flood: silent sockets and 1 MiB junk submit_tasks from
127.0.0.2 while an honest client on 127.0.0.1 calls status. Every honest call
succeeds, the junk is refused cheaply and then rate-limited, the attacker
keeps at most its per-address share of connections, and blocks go on."""

import http.client
import json
import os
import sys
import time

ROOT = os.environ.get("VERITY_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "functional"))

import flood  # noqa: E402
from harness import Cluster, TestRunner, wait_for  # noqa: E402

PER_IP = 32  # rpc.max_connections_per_ip's default


def send(port, body, source):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    c.request("POST", "/", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    answer = json.loads(r.read())
    c.close()
    return answer


def unsigned_transfer(i):
    tx = {"chain_id": "verity-devnet-1", "sender": flood.ALICE, "nonce": i, "fee": "0",
          "payload": {"type": "transfer", "to": flood.ALICE, "amount": "1"}, "signature": "00" * 64}
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "send_tx", "params": {"tx": tx}}).encode()


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name)] in " {")


def a_flood_from_one_client_never_stops_another():
    c = Cluster(timeout_ms=5000, empty_block_ms=500).start()
    try:
        wait_for("the devnet commits", lambda: all(n.height() >= 1 for n in c.nodes), 60, c.nodes)
        f = flood.flood(c, seconds=4, sockets=100, flooders=2)
        print(flood.describe(f))
        h = f["honest"]
        assert h["calls"] > 0 and h["ok"] == h["calls"], f
        assert f["junk_answered"] > 0, f
        assert set(f["junk_reasons"]) <= {"bad-signature", "rate-limited"}, f
        assert f["sockets_still_open"] <= PER_IP, f
        assert f["blocks_during"] >= 1, f
        port = c.nodes[0].rpc_port
        assert metric(port, "verity_invalid_txs_total") >= 1

        # Cheap junk past the client's allowance is refused unchecked, with
        # its own reason; another client is not affected.
        reasons = [send(port, unsigned_transfer(i), flood.ATTACKER)["error"]["data"]["reason"] for i in range(80)]
        assert reasons.count("rate-limited") > 0, reasons
        assert set(reasons) <= {"bad-signature", "rate-limited"}, reasons
        assert metric(port, "verity_rpc_rate_limited_total") >= 1
        other = send(port, unsigned_transfer(1000), "127.0.0.1")
        assert other["error"]["data"]["reason"] == "bad-signature", other
        assert c.nodes[0].running()
        height = c.nodes[0].height()
        wait_for("blocks go on", lambda: c.nodes[0].height() >= height + 2, 30, c.nodes)
    finally:
        c.stop()


if __name__ == "__main__":
    TestRunner([a_flood_from_one_client_never_stops_another]).main()
