#!/usr/bin/env python3
"""A validator joins a running network (issue 9): a 5th node made with
`verityd init --genesis FILE --peers LIST` syncs a running 4-validator devnet,
its operator stakes it in with `verity create-validator`, and it signs commit
certificates after the epoch change, while validator-4's operator unbonds its
whole stake and validator-4 leaves the set (and is then stopped). The network
never stops committing: the longest gap between two commits is printed and
bounded, and every node has the same blocks. Then the light client (issue
21): `verity account --prove` and `verity verify-header` follow the
validator set from the genesis file across that change, and a node that
lies (through a proxy that alters its answers) about a balance, the
validator set or a hand-off is caught.
Run: tests/functional/join_test.py (VERITYD=..., VERITY=...)."""

import datetime
import json
import os
import re
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import VERITYD, Cluster, Node, TestRunner, free_ports, run_ok, same_chain, set_config, wait_for

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))
EPOCH = 30
STAKE = "10000000"  # what each devnet validator has
# A commit gap longer than this is a stall (blocks come every ~0.1 s; a view
# change after a 1 s timeout is fine, several in a row are not).
MAX_GAP_S = 10.0

STAMP = re.compile(r"^(\S+Z) INFO  node committed h=\d+ v=\d+ height=(\d+) ", re.M)


def commit_times(node):
    """[(height, seconds since the epoch)] from the node's log."""
    out = []
    for m in STAMP.finditer(node.log()):
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        out.append((int(m.group(2)), t.timestamp()))
    return out


class LyingProxy:
    """An RPC endpoint on a free loopback port that forwards to `upstream` and lets
    `self.lie(method, result)` alter each answer's result: a node that lies."""

    def __init__(self, upstream):
        proxy = self
        self.lie = lambda method, result: result

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    answer = json.loads(r.read())
                if "result" in answer:
                    answer["result"] = proxy.lie(json.loads(body)["method"], answer["result"])
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def light_client_checks(c, genesis_set_hex):
    """Proofs and headers checked from genesis across the set change, and lies caught."""
    rpc_url = f"http://127.0.0.1:{c.nodes[0].rpc_port}"

    def client(url, *args):
        out = subprocess.run([VERITY, "--rpc", url, "--home", c.dir, "--genesis", c.genesis, *args],
                             capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
        return out.returncode, out.stdout, out.stderr

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "validator_handoffs", "params": {}}).encode()
    req = urllib.request.Request(rpc_url + "/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        handoffs = json.loads(r.read())["result"]["handoffs"]
    assert [h["height"] for h in handoffs] == [EPOCH * (i + 1) for i in range(len(handoffs))], handoffs
    # The first hand-off to a set other than genesis's (a hand-off's encoding holds its set's).
    changed = next((i for i, h in enumerate(handoffs) if genesis_set_hex not in h["handoff"]), None)
    assert changed is not None, f"the set never changed: {handoffs}"
    code, out, err = client(rpc_url, "account", "dave", "--prove")
    assert code == 0 and "proof verified at height" in out and "from genesis through" in out, (code, out, err)
    code, out, err = client(rpc_url, "verify-header")
    assert code == 0 and "header verified from genesis" in out, (code, out, err)
    print(f"light client: {len(handoffs)} hand-offs, the set changed at block {handoffs[changed]['height']}; "
          f"{out.splitlines()[0]}", flush=True)
    # Without the hand-off where the set changed, the next one is out of turn, or none is left.
    skipped = "handoff-wrong-height" if changed + 1 < len(handoffs) else "handoff-missing"
    lies = {
        # More money than there is.
        "balance": ("account", lambda r: {**r, "balance": str(int(r["balance"]) + 1)}, "proof-mismatch"),
        # "The set never changed": the genesis set named as the one that signed.
        "set": ("account", lambda r: {**r, "proof": {**r["proof"], "validators": genesis_set_hex}},
                "proof-wrong-validators"),
        # The hand-off where the set changed, left out.
        "handoff": ("validator_handoffs",
                    lambda r: {**r, "handoffs": [h for h in r["handoffs"] if h["height"] != handoffs[changed]["height"]]},
                    skipped),
    }
    proxy = LyingProxy(rpc_url + "/")
    try:
        for name, (method, lie, reason) in lies.items():
            proxy.lie = lambda m, result, method=method, lie=lie: lie(result) if m == method else result
            code, out, err = client(proxy.url, "account", "dave", "--prove")
            assert code == 1 and f"[{reason}]" in err and "proof verified" not in out, (name, code, out, err)
            print(f"a node lying about the {name} is caught: [{reason}]", flush=True)
        code, out, err = client(proxy.url, "verify-header")  # the hand-off lie still on
        assert code == 1 and f"[{skipped}]" in err, (code, out, err)
    finally:
        proxy.close()


def join_a_running_network():
    c = Cluster(params={"epoch_blocks": EPOCH, "unbonding_blocks": EPOCH}).start()
    joiner = None
    rpc_url = f"http://127.0.0.1:{c.nodes[0].rpc_port}"

    def verity(*args):
        out = subprocess.run([VERITY, "--rpc", rpc_url, "--home", c.dir, "--json", *args], capture_output=True,
                             text=True, timeout=90, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
        return json.loads(out.stdout) if out.stdout.strip() else None

    def in_set():
        return {v["name"]: v["in_set"] for v in verity("validators")["validators"]}

    try:
        wait_for("height 5", lambda: all(n.height() >= 5 for n in c.nodes), 60, c.nodes)
        # The genesis set as a proof names it, for the light client's lies below.
        genesis_set_hex = verity("account", "dave", "--prove", "--genesis", c.genesis)["proof"]["validators"]

        # The operator's side: a node home for the existing network, its keys made here.
        p2p, rpc = free_ports(2)
        home = os.path.join(c.dir, "joiner")
        run_ok([VERITYD, "init", "--home", home, "--genesis", c.genesis, "--moniker", "joiner", "--p2p-listen",
                f"127.0.0.1:{p2p}", "--rpc-listen", f"127.0.0.1:{rpc}", "--peers", c.peers])
        set_config(home, "consensus", "timeout_ms", 1000)
        set_config(home, "consensus", "empty_block_interval_ms", 100)
        joiner = Node(home, "joiner", p2p, rpc).start()
        nodes = c.nodes + [joiner]
        wait_for("the joiner synced", lambda: joiner.height() >= c.nodes[0].height() - 2 > 5, 60, nodes)
        key = joiner.validator_key()
        assert "joiner" not in in_set()

        # Stake it in (dave pays), and validator-4's operator unbonds everything.
        receipt = verity("create-validator", "--from", "dave", "--consensus-key", key, "--stake", STAKE, "--name",
                         "joiner", "--wait")
        assert receipt["receipt"]["ok"], receipt
        v4 = next(v for v in verity("validators")["validators"] if v["name"] == "validator-4")
        receipt = verity("unbond", "--from", "validator-4", "--validator", v4["operator"], "--amount", STAKE, "--wait")
        assert receipt["receipt"]["ok"], receipt
        wait_for("the joiner in the set and validator-4 out, after the epoch boundary",
                 lambda: (lambda s: s.get("joiner") and not s["validator-4"])(in_set()), 60, nodes)
        changed_at = c.nodes[0].height()

        # It signs: certificates of blocks after the change carry its signature.
        def signed_by_joiner():
            top = c.nodes[0].height()
            for h in range(changed_at + 1, top):
                cert = verity("block", str(h))["certificate"]
                if cert and key in {s["validator"] for s in cert["signatures"]}:
                    return h
            return None

        signed = wait_for("a certificate signed by the joiner", signed_by_joiner, 60, nodes, interval=0.5)
        assert any(v[2] == "commit" for v in joiner.votes() if int(v[0]) >= signed), "no commit vote in its log"

        # validator-4 left the set: stopping it stops nothing.
        c.nodes[3].kill9()
        target = c.nodes[0].height() + 20
        live = c.nodes[:3] + [joiner]
        wait_for(f"height {target} without validator-4", lambda: all(n.height() >= target for n in live), 60, live)
        assert same_chain(nodes, target)

        # Never stopped: the longest gap between two consecutive commits on validator-1.
        times = commit_times(c.nodes[0])
        gaps = [(b[1] - a[1], b[0]) for a, b in zip(times, times[1:]) if b[0] >= 5]
        worst = max(gaps)
        print(f"longest gap between commits: {worst[0]:.2f} s (before height {worst[1]}); "
              f"set changed by height {changed_at}; joiner first signed height {signed}; "
              f"{len(gaps)} commits checked", flush=True)
        assert worst[0] < MAX_GAP_S, worst
        light_client_checks(c, genesis_set_hex)
    finally:
        if joiner is not None and joiner.running():
            joiner.kill9()
        c.stop()


if __name__ == "__main__":
    TestRunner([join_a_running_network]).main()
