#!/usr/bin/env python3
"""Partitions (issue 10): four validators, each in a network namespace of its
own (veth pairs to a bridge in a hub namespace, 10.77.0.1-4/24), split 2-2 by
blackhole routes: neither half has a quorum, so nothing commits and nothing
forks; after healing, commits resume within a bound, and the time they took
is printed. Needs root (ip netns, veth, bridge): without it the test says so
and exits 77, which meson counts as skipped. Namespaces and processes are
removed at the end, pass or fail.
Run: tests/functional/partition_test.py (VERITYD=...)."""

import os
import subprocess
import sys
import tempfile
import time

from harness import _live, DEVNET_GENESIS, VERITYD, Node, TestRunner, run_ok, same_chain, set_config, wait_for

SKIP = 77
PREFIX = f"vp{os.getpid() % 100000}"
HUB = f"{PREFIX}-hub"
NETNS = [f"{PREFIX}-{i}" for i in range(1, 5)]
ADDR = [f"10.77.0.{i}" for i in range(1, 5)]
PORT = 7801
HOLD_S = 8.0  # how long the split is held
HEAL_BOUND_S = 60.0


def ip(*args, check=True):
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out


def can_make_namespaces():
    probe = f"{PREFIX}-probe"
    if os.geteuid() != 0:
        return "not root"
    try:
        out = ip("netns", "add", probe, check=False)
    except FileNotFoundError:
        return "no ip command (Debian package iproute2)"
    if out.returncode != 0:
        return out.stderr.strip()
    try:
        # Everything build_network() needs: a bridge and a veth pair.
        for args in (["link", "add", "name", "br0", "type", "bridge"],
                     ["link", "add", "name", "vpa", "type", "veth", "peer", "name", "vpb"]):
            out = ip("-n", probe, *args, check=False)
            if out.returncode != 0:
                return f"ip {' '.join(args)}: {out.stderr.strip()}"
        return None
    finally:
        ip("netns", "del", probe, check=False)


def build_network():
    ip("netns", "add", HUB)
    ip("-n", HUB, "link", "add", "br0", "type", "bridge")
    ip("-n", HUB, "link", "set", "br0", "up")
    for i, (ns, addr) in enumerate(zip(NETNS, ADDR)):
        ip("netns", "add", ns)
        ip("-n", HUB, "link", "add", f"h{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", HUB, "link", "set", f"h{i}", "master", "br0", "up")
        ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def remove_network():
    for ns in NETNS + [HUB]:
        ip("netns", "del", ns, check=False)


def split(on):
    """Blackhole routes between {1, 2} and {3, 4} (on) or none (off)."""
    halves = [(0, 1), (2, 3)]
    for side, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        for i in side:
            for j in other:
                ip("-n", NETNS[i], "route", "add" if on else "del", "blackhole", f"{ADDR[j]}/32")


class NsNode(Node):
    """A validator whose process runs inside network namespace `ns`."""

    def __init__(self, home, name, ns):
        super().__init__(home, name, PORT, 7701)
        self.ns = ns

    def start(self, extra=()):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, VERITYD, "start", "--home", self.home, *extra],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        _live.append(self.proc)
        self.starts += 1
        return self


def a_2_2_split_commits_nothing_and_heals():
    root = tempfile.mkdtemp(prefix="verity-partition-")
    peers = ",".join(f"{a}:{PORT}" for a in ADDR)
    nodes = []
    try:
        build_network()
        for i, ns in enumerate(NETNS):
            name = f"validator-{i + 1}"
            home = os.path.join(root, name)
            run_ok([VERITYD, "init", "--home", home, "--genesis", DEVNET_GENESIS, "--devnet-validator", name,
                    "--moniker", name, "--p2p-listen", f"{ADDR[i]}:{PORT}", "--rpc-listen", "127.0.0.1:7701",
                    "--peers", peers])
            set_config(home, "consensus", "timeout_ms", 1000)
            set_config(home, "consensus", "empty_block_interval_ms", 100)
            nodes.append(NsNode(home, name, ns).start())
        wait_for("height 3 on every node", lambda: all(n.height() >= 3 for n in nodes), 60, nodes)

        split(True)
        time.sleep(1.0)  # what was already in flight lands
        frozen = max(n.height() for n in nodes)
        time.sleep(HOLD_S)
        during = max(n.height() for n in nodes)
        assert during == frozen, f"committed during the split: {frozen} -> {during}"
        assert same_chain(nodes, during)

        split(False)
        healed = time.monotonic()
        wait_for("commits resume after healing", lambda: all(n.height() >= frozen + 2 for n in nodes),
                 HEAL_BOUND_S, nodes, interval=0.1)
        took = time.monotonic() - healed
        top = max(n.height() for n in nodes)
        assert same_chain(nodes, top)
        print(f"  split held {HOLD_S:.0f} s at height {frozen} (nothing committed, no fork); after healing every "
              f"node committed 2 more blocks in {took:.1f} s (bound {HEAL_BOUND_S:.0f} s)", flush=True)
    finally:
        for n in nodes:
            n.kill9()
        remove_network()
        if not os.environ.get("VERITY_KEEP_TEST_DIRS"):
            subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    why = can_make_namespaces()
    if why:
        print(f"SKIP: partition tests need network namespaces (root, ip netns): {why}", flush=True)
        sys.exit(SKIP)
    TestRunner([a_2_2_split_commits_nothing_and_heals]).main()
