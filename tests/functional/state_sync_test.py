#!/usr/bin/env python3
"""A node joins by state sync (issue 21, item 3; docs/operators.md, "Joining
by state sync"): a devnet whose state holds more than 10^5 accounts writes
snapshots; a new full node started after `verityd init --state-sync` fetches
one from its peers, checks every chunk and the root against a header it
certified from the genesis file through the validator-set hand-offs, and
follows the chain. One validator's snapshot is damaged on disk: it must not
serve it, and the node gets the chunk elsewhere. The time is printed against
a node that joins by replaying every block.

Run: VERITYD=build/node/verityd NODE_LOAD=build/bench/node_load \
     python3 tests/functional/state_sync_test.py"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

from harness import (DEVNET_GENESIS, VERITYD, Cluster, Node, TestRunner, free_ports, rpc, run_ok, set_config,
                     wait_for)

ACCOUNTS = 100_000
P = 2**256 - 2**32 - 977  # secp256k1's field


def dir_mib(home):
    """The size of a node's data/chain, in MiB."""
    total = 0
    for root, _, files in os.walk(os.path.join(home, "data", "chain")):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass  # a table LevelDB deleted meanwhile
    return total / (1 << 20)


def valid_x_keys(n):
    """n distinct x-only public keys (x with x^3 + 7 a square mod P), deterministic."""
    out, i = [], 0
    while len(out) < n:
        x = int.from_bytes(hashlib.sha256(b"state-sync-account-%d" % i).digest(), "big")
        i += 1
        if x >= P:
            continue
        if pow((x * x * x + 7) % P, (P - 1) // 2, P) == 1:
            out.append("%064x" % x)
    return out


def big_genesis(path):
    with open(DEVNET_GENESIS) as f:
        g = json.load(f)
    g["params"]["epoch_blocks"] = 20
    for i, key in enumerate(valid_x_keys(ACCOUNTS)):
        g["accounts"].append({"name": f"acct-{i}", "address": key, "balance": str(1000 + i)})
    with open(path, "w") as f:
        json.dump(g, f)
    return g


def metric(node, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{node.rpc_port}/metrics", timeout=10) as r:
        m = re.search(rf"^{name} (\S+)$", r.read().decode(), re.M)
    return float(m.group(1)) if m else None


def height_of(node):
    try:
        return rpc(node, "status")["result"]["height"]
    except Exception:
        return 0


def joins_by_state_sync_faster_than_by_replay():
    import tempfile
    workdir = tempfile.mkdtemp(prefix="verity-state-sync-")
    genesis_path = os.path.join(workdir, "big-genesis.json")
    g = big_genesis(genesis_path)
    c = Cluster(timeout_ms=3000, genesis=genesis_path)
    for n in c.nodes:
        set_config(n.home, "storage", "snapshot_interval", 40)
        set_config(n.home, "storage", "snapshot_keep_recent", 4)
    c.start()
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 180, c.nodes)
        # Blocks with work in them, for the replaying node to redo.
        peers = ",".join(f"127.0.0.1:{n.p2p_port}" for n in c.nodes)
        load = os.environ.get("NODE_LOAD", "build/bench/node_load")
        out = subprocess.run([load, "--genesis", genesis_path, "--peers", peers, "--rate", "2000", "--seconds", "15",
                              "--wait", "120"], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and "(0 missing)" in out.stdout, out.stdout + out.stderr
        print("  load: " + out.stdout.strip().splitlines()[0], flush=True)
        after_load = max(n.height() for n in c.nodes)
        # A snapshot above the load on every validator.
        wait_for("snapshots above the load",
                 lambda: all((metric(n, "verity_snapshot_height") or 0) > after_load for n in c.nodes), 180, c.nodes)
        # The joining node's peers: validator-1 and validator-2, restarted
        # one after the other with snapshots off, so that both keep the same
        # newest snapshot H, and validator-1's copy of H damaged on disk
        # (every chunk): the node asks each in turn, validator-1 must serve
        # none of it, and the node gets each chunk from validator-2.
        v1, v2 = c.nodes[0], c.nodes[1]
        snapdir = lambda n: os.path.join(n.home, "data", "snapshots")
        kept = lambda n: {int(d) for d in os.listdir(snapdir(n)) if d.isdigit()}
        for n in (v1, v2):
            assert n.terminate() == 0
            set_config(n.home, "storage", "snapshot_interval", 0)
        common = max(kept(v1) & kept(v2))
        for n in (v1, v2):
            for h in kept(n) - {common}:
                shutil.rmtree(os.path.join(snapdir(n), str(h)))
        for chunk in glob.glob(os.path.join(snapdir(v1), str(common), "[0-9]*")):
            with open(chunk, "r+b") as f:
                f.seek(100)
                b = f.read(1)
                f.seek(100)
                f.write(bytes([b[0] ^ 0xFF]))
        v1.start()
        v2.start()
        wait_for("validator-1 and -2 back", lambda: height_of(v1) > after_load and height_of(v2) > after_load, 120,
                 c.nodes)
        target = max(n.height() for n in c.nodes)

        # By state sync.
        p2p, rpc_port = free_ports(2)
        synced = Node(os.path.join(c.dir, "state-synced"), "state-synced", p2p, rpc_port)
        run_ok([VERITYD, "init", "--home", synced.home, "--genesis", genesis_path, "--full-node", "--state-sync",
                "--moniker", "state-synced", "--p2p-listen", f"127.0.0.1:{p2p}", "--rpc-listen",
                f"127.0.0.1:{rpc_port}", "--peers", f"127.0.0.1:{v1.p2p_port},127.0.0.1:{v2.p2p_port}"])
        # Killed in the middle of its first sync, it starts over on restart
        # (the half-restored store is thrown away), timed from there.
        synced.start()
        wait_for("a snapshot chosen", lambda: "snapshot-chosen" in synced.log(), 120, [synced])
        synced.kill9()
        assert not os.path.exists(os.path.join(synced.home, "data", "chain")) or "state-sync done" in synced.log()
        t0 = time.monotonic()
        synced.start()
        wait_for(f"the state-synced node at height {target}", lambda: height_of(synced) >= target, 300,
                 [synced] + c.nodes)
        sync_s = time.monotonic() - t0
        log = synced.log()
        m = re.search(r"state-sync done .*height=(\d+)", log)
        assert m, synced.tail()
        base = int(m.group(1))
        assert base == common > after_load, (base, common, after_load)
        # validator-1 found its damaged chunk and served none of it.
        assert "snapshot-damaged" in v1.log(), v1.tail()
        assert (metric(v1, "verity_snapshot_errors_total") or 0) >= 1
        # The same state as the validators: an account from the genesis,
        # and the chain above the snapshot.
        acct = [a for a in g["accounts"] if a["name"] == f"acct-{ACCOUNTS - 1}"][0]
        mine = rpc(synced, "account", {"address": acct["address"]})["result"]
        theirs = rpc(c.nodes[1], "account", {"address": acct["address"]})["result"]
        assert mine["balance"] == theirs["balance"] == acct["balance"], (mine, theirs)
        h = height_of(synced)
        wait_for("validator-2 at the same height", lambda: height_of(c.nodes[1]) >= h, 60, c.nodes)
        a = rpc(synced, "block", {"height": h})["result"]
        b = rpc(c.nodes[1], "block", {"height": h})["result"]
        assert a["hash"] == b["hash"] and a["header"]["state_root"] == b["header"]["state_root"], (a, b)
        # No blocks below the snapshot, and the node says so.
        below = rpc(synced, "block", {"height": 1})
        assert "error" in below, below

        # By replay, from genesis.
        replay = c.add_full_node("replayed")
        t0 = time.monotonic()
        replay.start()
        wait_for(f"the replaying node at height {target}", lambda: height_of(replay) >= target, 600,
                 [replay] + c.nodes)
        replay_s = time.monotonic() - t0
        print(f"  {ACCOUNTS + 4} accounts, chain at {target}: state sync {sync_s:.1f} s "
              f"(snapshot at {base}), replay {replay_s:.1f} s", flush=True)
        print(f"  data/chain: state-synced {dir_mib(synced.home):.1f} MiB, replayed {dir_mib(replay.home):.1f} MiB",
              flush=True)

        # The synced node's store passes verityd check once stopped.
        assert synced.terminate() == 0
        out = subprocess.run([VERITYD, "check", "--home", synced.home], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        c.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def state_sync_without_peers_is_refused():
    """`init --state-sync` needs peers to fetch from: refused before anything is written."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="verity-state-sync-") as d:
        home = os.path.join(d, "home")
        out = subprocess.run([VERITYD, "init", "--home", home, "--genesis", DEVNET_GENESIS, "--full-node",
                              "--state-sync"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, (out.returncode, out.stderr)
        assert "--state-sync needs --peers" in out.stderr, out.stderr
        assert not os.path.exists(os.path.join(home, "config.toml"))
        # With peers, the config says so.
        run_ok([VERITYD, "init", "--home", home, "--genesis", DEVNET_GENESIS, "--full-node", "--state-sync",
                "--peers", "127.0.0.1:1"])
        with open(os.path.join(home, "config.toml")) as f:
            assert re.search(r"^\[state_sync\]\s*\n(#.*\n)*enable = true$", f.read(), re.M)
        # A second start on a home that is syncing is refused (the first
        # waits for its peer for ever, logging that it is discovering).
        log = os.path.join(d, "first.log")
        with open(log, "w") as out:
            first = subprocess.Popen([VERITYD, "start", "--home", home], stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while "discovering" not in open(log).read():
                assert time.monotonic() < deadline and first.poll() is None, open(log).read()
                time.sleep(0.1)
            second = subprocess.run([VERITYD, "start", "--home", home], capture_output=True, text=True, timeout=30)
            assert second.returncode == 1, (second.returncode, second.stderr)
            assert "store-locked" in second.stderr and "another verityd is syncing" in second.stderr, second.stderr
            assert first.poll() is None
        finally:
            first.kill()
            first.wait()


if __name__ == "__main__":
    TestRunner([state_sync_without_peers_is_refused, joins_by_state_sync_faster_than_by_replay]).main()
