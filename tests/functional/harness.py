"""Starts real verityd processes on 127.0.0.1 for functional tests.

Everything is bounded: every wait has a deadline, ports are picked free by
the OS, homes live in a temporary directory, and every process started is
killed when the test ends (even when it fails).
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

VERITYD = os.environ.get("VERITYD", "build/node/verityd")
SOURCE_ROOT = os.environ.get("VERITY_SOURCE_ROOT", os.getcwd())
DEVNET_GENESIS = os.path.join(SOURCE_ROOT, "genesis", "devnet.json")

_live = []


def _kill_all():
    for p in _live:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_all)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open until all are chosen)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


COMMITTED = re.compile(r" committed h=\d+ v=\d+ height=(\d+) hash=([0-9a-f]+) root=([0-9a-f]+) txs=(\d+) view=(\d+)"
                       r".* proposer=([0-9a-f]+)")


class Node:
    def __init__(self, home, name, p2p_port, rpc_port):
        self.home, self.name, self.p2p_port, self.rpc_port = home, name, p2p_port, rpc_port
        self.proc = None
        self.log_path = os.path.join(home, "verityd.log")
        self.starts = 0

    # -- process control ----------------------------------------------------
    def start(self, extra=()):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([VERITYD, "start", "--home", self.home, *extra], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        _live.append(self.proc)
        self.starts += 1
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout=20):
        """SIGTERM, and the exit code."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM")

    # -- what it logged -----------------------------------------------------
    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def commits(self):
        """{height: (hash, root, txs, view, proposer)} from the log (all runs)."""
        out = {}
        for m in COMMITTED.finditer(self.log()):
            out[int(m.group(1))] = (m.group(2), m.group(3), int(m.group(4)), int(m.group(5)), m.group(6))
        return out

    def height(self):
        c = self.commits()
        return max(c) if c else 0

    def votes(self):
        """Every vote this node's validator ever signed: [(height, view, phase, hash)]."""
        out = subprocess.run([VERITYD, "votes", "--home", self.home], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return [tuple(line.split()) for line in out.stdout.splitlines() if line.strip()]

    def node_id(self):
        return run_ok([VERITYD, "show-node-id", "--home", self.home]).strip()

    def validator_key(self):
        return run_ok([VERITYD, "show-validator", "--home", self.home]).strip()

    def tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])


def kill_processes_under(path):
    """SIGKILLs every process whose command line names something under
    `path`: what the test's processes left behind (a worker killed with
    SIGKILL leaves its compiler's cc1 running, which would slow the next
    test down)."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue  # gone meanwhile
        if (path.rstrip(os.sep) + os.sep).encode() in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def run_ok(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr}")
    return out.stdout


def write_config(path, text):
    """Replaces a config file whole (a new file renamed over it): a node
    starting at that moment reads the old file or the new, never a file
    cut short (it once came up on the default ports, with no peers)."""
    with open(path + ".new", "w") as f:
        f.write(text)
    os.chmod(path + ".new", os.stat(path).st_mode & 0o7777)
    os.replace(path + ".new", path)


def set_config(home, section, key, value):
    """Sets KEY in [SECTION] of HOME/config.toml (section None: the top level)."""
    path = os.path.join(home, "config.toml")
    with open(path) as f:
        lines = f.read().split("\n")
    current, done = None, False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("["):
            current = s.strip("[]")
        elif current == section and re.match(rf"{re.escape(key)}\s*=", s):
            lines[i] = f"{key} = {value}"
            done = True
    if not done:
        raise AssertionError(f"{key} not in [{section}] of {path}")
    write_config(path, "\n".join(lines))


def secret_file(path, text, mode=0o600):
    """Writes `text` and a newline to `path`, readable by its owner only by default."""
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


def replace_in_config(home, old, new):
    """Replaces the one occurrence of `old` in HOME/config.toml by `new`."""
    path = os.path.join(home, "config.toml")
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    write_config(path, text.replace(old, new))


def uncomment(home, key, value):
    """Sets a key that config.toml has commented out ('# KEY = "example"')."""
    path = os.path.join(home, "config.toml")
    with open(path) as f:
        line = next(line for line in f if line.startswith(f"# {key} = "))
    replace_in_config(home, line, f"{key} = {value}\n")


class Cluster:
    """The devnet genesis (4 validators) on free loopback ports, plus optional full nodes."""

    def __init__(self, timeout_ms=1000, empty_block_ms=100, validators=4, params=None, genesis=None):
        """`params`: protocol parameters to change in the devnet genesis, e.g. {"epoch_blocks": 20};
        `genesis`: another genesis file whose validators are the devnet's (validator-N's keys)."""
        self.dir = tempfile.mkdtemp(prefix="verity-functional-")
        self.genesis = genesis or DEVNET_GENESIS
        if params:
            with open(DEVNET_GENESIS) as f:
                genesis = json.load(f)
            genesis["params"].update(params)
            self.genesis = os.path.join(self.dir, "genesis.json")
            with open(self.genesis, "w") as f:
                json.dump(genesis, f, indent=2)
        ports = free_ports(2 * validators)
        self.nodes = []
        peers = ",".join(f"127.0.0.1:{ports[i]}" for i in range(validators))
        for i in range(validators):
            name = f"validator-{i + 1}"
            home = os.path.join(self.dir, name)
            run_ok([VERITYD, "init", "--home", home, "--genesis", self.genesis, "--devnet-validator", name,
                    "--moniker", name, "--p2p-listen", f"127.0.0.1:{ports[i]}",
                    "--rpc-listen", f"127.0.0.1:{ports[validators + i]}", "--peers", peers])
            set_config(home, "consensus", "timeout_ms", timeout_ms)
            set_config(home, "consensus", "empty_block_interval_ms", empty_block_ms)
            self.nodes.append(Node(home, name, ports[i], ports[validators + i]))
        self.peers = peers

    def add_full_node(self, name="full-1"):
        p2p, rpc = free_ports(2)
        home = os.path.join(self.dir, name)
        run_ok([VERITYD, "init", "--home", home, "--genesis", self.genesis, "--full-node", "--moniker", name,
                "--p2p-listen", f"127.0.0.1:{p2p}", "--rpc-listen", f"127.0.0.1:{rpc}", "--peers", self.peers])
        node = Node(home, name, p2p, rpc)
        return node

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def stop(self):
        for n in self.nodes:
            if n.running():
                n.kill9()
        kill_processes_under(self.dir)
        if not os.environ.get("VERITY_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump(self, nodes=None):
        for n in nodes or self.nodes:
            sys.stderr.write(f"--- {n.name} (last lines) ---\n{n.tail()}\n")


def wait_for(what, predicate, timeout, nodes=(), interval=0.2):
    """Polls predicate() until it is true; fails with `what` and the nodes' logs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        for n in nodes:
            if n.proc is not None and n.proc.poll() is not None and n.proc.returncode not in (0, -9, -15):
                break
        time.sleep(interval)
    for n in nodes:
        sys.stderr.write(f"--- {n.name} (last lines) ---\n{n.tail()}\n")
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}")


def rpc(node, method, params=None):
    """One JSON-RPC call to `node`; the whole response object (result or error)."""
    import urllib.request
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{node.rpc_port}/", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def same_chain(nodes, upto):
    """Every node has the same block hash and state root at every height up to `upto`."""
    views = [n.commits() for n in nodes]
    for h in range(1, upto + 1):
        seen = {(v[h][0], v[h][1]) for v in views if h in v}
        assert len(seen) <= 1, f"nodes disagree at height {h}: {seen}"
    return True


class TestRunner:
    """Runs the test functions given, each in order, and reports like a unit test runner."""

    def __init__(self, tests):
        self.tests = tests

    def main(self):
        only = sys.argv[1:]
        failed = 0
        for t in self.tests:
            if only and t.__name__ not in only:
                continue
            start = time.monotonic()
            try:
                t()
                print(f"ok   {t.__name__} ({time.monotonic() - start:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 - report every failure the same way
                failed += 1
                print(f"FAIL {t.__name__}: {e}", flush=True)
                import traceback
                traceback.print_exc()
            finally:
                _kill_all()
        print(f"{'FAILED' if failed else 'passed'}: {failed} of {len(self.tests)} failed", flush=True)
        sys.exit(1 if failed else 0)
