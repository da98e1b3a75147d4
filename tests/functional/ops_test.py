#!/usr/bin/env python3
"""Functional tests of what an operator relies on (docs/operators.md): the
RPC bearer token of write methods, the warning of a public RPC without one,
encrypted key files, and the refusal of key files other users may read.
Real verityd processes on 127.0.0.1 (harness.py).
Run: tests/functional/ops_test.py [TEST ...] (VERITYD=..., VERITY=..., VERITY_SOURCE_ROOT=...)."""

import contextlib
import http.client
import json
import os
import pty
import select
import shutil
import subprocess
import time

import re

from harness import (SOURCE_ROOT, VERITYD, Cluster, TestRunner, free_ports, replace_in_config, run_ok, secret_file,
                     uncomment, wait_for)

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))
TOKEN = "4f1c0ffee5b1e7c0a7e2d9b3c8f6a1d2e3f4a5b6c7d8e9f0"
PASSPHRASE = "correct horse battery staple"


@contextlib.contextmanager
def cluster():
    """A 4-validator devnet (not started), stopped and removed at the end."""
    c = Cluster()
    try:
        yield c
    finally:
        c.stop()


def post(port, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(body), headers=headers)
        r = conn.getresponse()
        assert r.status == 200, r.status
        return json.loads(r.read())
    finally:
        conn.close()


def call(port, method, params=None, token=None):
    return post(port, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}, token)


def start_fails(home, env=None):
    """verityd start's exit code and stderr, for a start expected to fail at once."""
    out = subprocess.run([VERITYD, "start", "--home", home], capture_output=True, text=True, timeout=60,
                         env=env, stdin=subprocess.DEVNULL)
    assert out.returncode != 0, f"verityd start succeeded: {out.stderr}"
    return out.returncode, out.stderr


def verity(node, *args, env_extra=None):
    env = dict(os.environ)
    env.pop("VERITY_RPC_TOKEN", None)
    env.update(env_extra or {})
    return subprocess.run([VERITY, "--home", os.path.join(node.home, "client"), "--rpc",
                           f"http://127.0.0.1:{node.rpc_port}", *args], capture_output=True, text=True, timeout=60,
                          env=env, stdin=subprocess.DEVNULL)


def test_write_methods_need_the_token():
    with cluster() as c:
        n = c.nodes[0]
        token_file = secret_file(os.path.join(n.home, "rpc_token"), TOKEN)
        uncomment(n.home, "auth_token_file", '"rpc_token"')
        n.start()
        wait_for("the RPC server", lambda: "rpc listening" in n.log(), 30, [n])
        assert "auth=token" in n.log(), n.tail()
        assert "public-without-token" not in n.log()

        # No token, or a wrong one: refused before anything else is looked at.
        for token in (None, TOKEN[:-1], TOKEN + "0", "x" * 48):
            e = call(n.rpc_port, "send_tx", {"tx": "00"}, token)["error"]
            assert e["code"] == -32005 and e["data"]["reason"] == "unauthorized", e
        # The right one gets through to the parameters (hex that is no transaction: malformed-tx).
        e = call(n.rpc_port, "send_tx", {"tx": "00"}, TOKEN)["error"]
        assert e["data"]["reason"] == "malformed-tx", e
        # Reads stay open.
        assert call(n.rpc_port, "status")["result"]["chain_id"]

        # The client: refused without the token, accepted with --rpc-token-file or VERITY_RPC_TOKEN.
        out = verity(n, "transfer", "--from", "alice", "--to", "bob", "--amount", "5")
        assert out.returncode == 1 and "[unauthorized]" in out.stderr, out.stderr
        out = verity(n, "--rpc-token-file", token_file, "transfer", "--from", "alice", "--to", "bob", "--amount", "5")
        assert out.returncode == 0, out.stderr
        out = verity(n, "transfer", "--from", "alice", "--to", "bob", "--amount", "6",
                     env_extra={"VERITY_RPC_TOKEN": TOKEN})
        assert out.returncode == 0, out.stderr
        assert call(n.rpc_port, "status")["result"]["mempool_txs"] == 2
        # A token file others may read is a usage error of the client.
        os.chmod(token_file, 0o644)
        out = verity(n, "--rpc-token-file", token_file, "balance", "bob")
        assert out.returncode == 2 and "chmod o-rwx" in out.stderr, out.stderr
        n.terminate()

        # ... and stops the node from starting, as does a short token.
        code, err = start_fails(n.home)
        assert code == 1 and "secret-file-unsafe-permissions" in err and "auth_token_file" in err, err
        os.chmod(token_file, 0o600)
        secret_file(token_file, "short")
        code, err = start_fails(n.home)
        assert code == 1 and "bad-auth-token" in err and "openssl rand" in err, err
        os.unlink(token_file)
        code, err = start_fails(n.home)
        assert code == 1 and "secret-file-missing" in err, err


def test_public_rpc_without_token_is_refused():
    with cluster() as c:
        n = c.nodes[0]
        _, rpc = free_ports(2)
        # 0.0.0.0: beyond loopback, and no token: start refuses, naming both fixes and the override.
        replace_in_config(n.home, f'listen = "127.0.0.1:{n.rpc_port}"', f'listen = "0.0.0.0:{rpc}"')
        n.rpc_port = rpc
        code, err = start_fails(n.home)
        assert code == 1 and "public-rpc-without-token" in err, err
        last = err.strip().splitlines()[-1]  # one line, after the log lines of opening the node
        assert last.startswith("verityd start: public-rpc-without-token: "), err
        assert "auth_token_file" in last and "127.0.0.1" in last and "allow_public_without_token = true" in last, err
        # Told so, it starts, and says it in the log.
        replace_in_config(n.home, "allow_public_without_token = false", "allow_public_without_token = true")
        n.start()
        wait_for("the public-RPC warning", lambda: "WARN  rpc public-without-token" in n.log(), 30, [n])
        n.terminate()
        # The quiet case (loopback) is checked by test_write_methods_need_the_token and every other test.


def get(port, path):
    """(status, headers, body) of a GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def answers(port):
    try:
        return get(port, "/health")[0] == 200
    except OSError:
        return False


def test_the_pages_an_operator_serves():
    """docs/rpc-server.md, "Pages": where they come from, and off."""
    with cluster() as c:
        n = c.nodes[0]
        env = {k: v for k, v in os.environ.items() if k != "VERITY_PAGES_DIR"}
        # A directory named but missing stops start, saying which and who named it.
        uncomment(n.home, "pages_dir", '"no-such-dir"')
        code, err = start_fails(n.home, env)
        last = err.strip().splitlines()[-1]
        assert code == 1 and last.startswith("verityd start: bad-pages-dir: "), err
        assert "no-such-dir" in last and "[rpc] pages_dir" in last and "serve_pages = false" in last, err
        # Named right (relative to the home), it is served from memory with its headers.
        os.makedirs(os.path.join(n.home, "pages", "worker"))
        with open(os.path.join(n.home, "pages", "worker", "index.html"), "w") as f:
            f.write("<!doctype html><title>ours</title>")
        replace_in_config(n.home, 'pages_dir = "no-such-dir"', 'pages_dir = "pages"')
        n.start()
        wait_for("the RPC", lambda: answers(n.rpc_port), 30, [n])
        status, headers, body = get(n.rpc_port, "/worker")
        assert status == 200 and body == b"<!doctype html><title>ours</title>", (status, body)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], headers
        assert "rpc pages" in n.log() and "files=1" in n.log(), n.tail()
        n.terminate()
        # serve_pages = false: none, and the log says why.
        replace_in_config(n.home, "serve_pages = true", "serve_pages = false")
        n.start()
        wait_for("the RPC", lambda: answers(n.rpc_port), 30, [n])
        status, _, body = get(n.rpc_port, "/worker")
        assert status == 404, (status, body)
        assert "serve_pages = false" in n.log(), n.tail()
        n.terminate()


def test_encrypted_keys():
    with cluster() as c:
        n = c.nodes[0]
        devnet_key = n.validator_key()
        # Re-create validator-1's home with encrypted keys (same keys: the devnet's).
        shutil.rmtree(n.home)
        pass_dir = os.path.join(c.dir, "secrets")
        os.makedirs(pass_dir)
        pass_file = secret_file(os.path.join(pass_dir, "passphrase"), PASSPHRASE)
        init = [VERITYD, "init", "--home", n.home, "--genesis", c.genesis, "--devnet-validator", n.name,
                "--p2p-listen", f"127.0.0.1:{n.p2p_port}", "--rpc-listen", f"127.0.0.1:{n.rpc_port}",
                "--peers", c.peers]
        no_tty = dict(capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, start_new_session=True)
        env = {k: v for k, v in os.environ.items() if k != "VERITY_PASSPHRASE"}

        # Usage errors leave nothing behind.
        out = subprocess.run(init + ["--passphrase-file", pass_file], env=env, **no_tty)
        assert out.returncode == 2 and "--encrypt-keys" in out.stderr, out.stderr
        out = subprocess.run(init + ["--encrypt-keys"], env=env, **no_tty)
        assert out.returncode == 2 and "no terminal" in out.stderr, out.stderr
        os.chmod(pass_file, 0o644)
        out = subprocess.run(init + ["--encrypt-keys", "--passphrase-file", pass_file], env=env, **no_tty)
        assert out.returncode == 2 and "chmod o-rwx" in out.stderr, out.stderr
        assert not os.path.exists(n.home)
        os.chmod(pass_file, 0o600)

        out = subprocess.run(init + ["--encrypt-keys", "--passphrase-file", pass_file], env=env, **no_tty)
        assert out.returncode == 0, out.stderr
        assert "encrypted" in out.stdout, out.stdout
        for key_file in ("node_key.json", "validator_key.json"):
            path = os.path.join(n.home, key_file)
            assert os.stat(path).st_mode & 0o777 == 0o600
            with open(path) as f:
                doc = json.load(f)
            assert "secret_key" not in doc and doc["cipher"]["name"] == "aes-256-gcm", doc
        # The public keys need no passphrase.
        assert n.validator_key() == devnet_key
        with open(os.path.join(n.home, "config.toml")) as f:
            assert f'passphrase_file = "{pass_file}"' in f.read()

        # A wrong passphrase: a clear error that says where it came from.
        secret_file(pass_file, "wrong horse")
        code, err = start_fails(n.home, env)
        assert code == 1 and "bad-passphrase" in err and pass_file in err, err
        secret_file(pass_file, PASSPHRASE)

        # It signs: the four validators commit, validator-1's votes are on record.
        c.start()
        # (Started last, it may first catch up by sync, which signs nothing.)
        wait_for("votes signed with validator-1's encrypted key", lambda: len(n.votes()) > 0, 60, c.nodes)
        assert n.terminate() == 0

        # Without passphrase_file: VERITY_PASSPHRASE, else a clear error.
        replace_in_config(n.home, f'passphrase_file = "{pass_file}"', "# passphrase_file unset")
        code, err = start_fails(n.home, env)
        assert code == 1 and "key-passphrase-missing" in err and "VERITY_PASSPHRASE" in err, err
        code, err = start_fails(n.home, dict(env, VERITY_PASSPHRASE="wrong"))
        assert code == 1 and "bad-passphrase" in err and "VERITY_PASSPHRASE" in err, err
        os.environ["VERITY_PASSPHRASE"] = PASSPHRASE
        try:
            n.start()
        finally:
            del os.environ["VERITY_PASSPHRASE"]
        h = n.height()
        wait_for("validator-1 commits again", lambda: n.height() > h, 60, c.nodes)


def test_key_files_others_may_read_stop_the_node():
    with cluster() as c:
        n = c.nodes[0]
        for key_file in ("node_key.json", "validator_key.json"):
            path = os.path.join(n.home, key_file)
            os.chmod(path, 0o640)
            code, err = start_fails(n.home)
            assert code == 1 and "key-unsafe-permissions" in err and key_file in err and "chmod 600" in err, err
            os.chmod(path, 0o600)
        os.chmod(n.home, 0o777)
        code, err = start_fails(n.home)
        assert code == 1 and "key-unsafe-permissions" in err and "chmod o-w" in err, err
        os.chmod(n.home, 0o700)
        run_ok([VERITYD, "show-node-id", "--home", n.home])


def metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        assert r.status == 200
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out
    finally:
        conn.close()


def test_metrics_an_operator_alerts_on():
    with cluster() as c:
        c.start()
        v1, v4 = c.nodes[0], c.nodes[3]
        wait_for("height 3", lambda: min(n.height() for n in c.nodes) >= 3, 60, c.nodes)
        m = metrics(v1.rpc_port)
        assert m["verity_validator_window_blocks"] >= 1, m
        assert m["verity_validator_missed_blocks"] == 0, m
        assert m["verity_validator_missed_blocks_allowed"] == 50, m  # devnet: window 100, 50% signed
        assert m["verity_validator_jailed"] == 0 and m["verity_validator_banned"] == 0, m
        assert 0 < m["verity_data_free_bytes"] <= m["verity_data_size_bytes"], m
        # validator-4 stops; the chain goes on without its signature; back, it sees what it missed.
        assert v4.terminate() == 0
        h = v1.height()
        wait_for("5 blocks without validator-4", lambda: v1.height() >= h + 5, 60, c.nodes[:3])
        v4.start()
        wait_for("validator-4 catching up", lambda: v4.height() >= v1.height() - 1, 60, c.nodes)
        wait_for("validator-4's missed commits in its metrics",
                 lambda: metrics(v4.rpc_port).get("verity_validator_missed_blocks", 0) >= 3, 30, c.nodes)
        # A full node has no validator: no such series.
        full = c.add_full_node()
        full.start()
        wait_for("the full node's RPC", lambda: "rpc listening" in full.log(), 30, [full])
        fm = metrics(full.rpc_port)
        assert "verity_validator_missed_blocks" not in fm and "verity_data_free_bytes" in fm, fm


def run_on_terminal(argv, answers, env, timeout=60):
    """Runs argv with a pseudo-terminal as its controlling terminal (so it can
    open /dev/tty); `answers` is [(prompt, text)]: each text is typed once its
    prompt has appeared. Returns (exit code, everything shown on the terminal)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose terminal is the pty
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    seen, sent = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if sent < len(answers) and answers[sent][0].encode() in seen:
                os.write(fd, answers[sent][1].encode() + b"\n")
                sent += 1
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_init_asks_for_the_passphrase_on_the_terminal():
    with cluster() as c:
        env = {k: v for k, v in os.environ.items() if k != "VERITY_PASSPHRASE"}
        home = os.path.join(c.dir, "prompted")
        p2p, rpc = free_ports(2)
        init = [VERITYD, "init", "--home", home, "--genesis", c.genesis, "--encrypt-keys",
                "--p2p-listen", f"127.0.0.1:{p2p}", "--rpc-listen", f"127.0.0.1:{rpc}"]
        first, again = "Passphrase for the new key files:", "Repeat the passphrase:"
        # Two different answers: nothing is written.
        code, screen = run_on_terminal(init, [(first, PASSPHRASE), (again, PASSPHRASE + "x")], env)
        assert code == 2 and "differ" in screen and not os.path.exists(home), (code, screen)
        code, screen = run_on_terminal(init, [(first, PASSPHRASE), (again, PASSPHRASE)], env)
        assert code == 0, (code, screen)
        assert PASSPHRASE not in screen, screen  # no echo
        with open(os.path.join(home, "validator_key.json")) as f:
            assert "cipher" in json.load(f)
        # That passphrase opens the keys: the node starts (and serves its RPC).
        code, err = start_fails(home, dict(env, VERITY_PASSPHRASE=PASSPHRASE + "x"))
        assert "bad-passphrase" in err, err
        log = open(os.path.join(home, "verityd.log"), "wb")
        proc = subprocess.Popen([VERITYD, "start", "--home", home], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=dict(env, VERITY_PASSPHRASE=PASSPHRASE))
        try:
            wait_for("the node with prompted keys", lambda: "rpc listening" in open(log.name).read(), 30)
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()


def docs_promise(doc, pattern):
    """What a doc promises: the first group of `pattern` in docs/`doc`, which must be there."""
    with open(os.path.join(SOURCE_ROOT, "docs", doc)) as f:
        m = re.search(pattern, f.read())
    assert m, f"docs/{doc} no longer says {pattern!r}: update this test with the doc"
    return m.group(1)


def test_what_the_docs_promise_about_errors():
    """The reason a bad config.toml stops start-up with (docs/node.md) and the exit code of a bad
    --rpc URL (docs/client.md), read from the docs and checked against the programs."""
    reason = docs_promise("node.md", r"stops start-up with `([a-z-]+)`")
    code = int(docs_promise("client.md", r"\| (\d) \| usage error:[^|]*bad `--rpc` URL"))
    with cluster() as c:
        home = c.nodes[0].home
        with open(os.path.join(home, "config.toml"), "a") as f:
            f.write("\n[no_such_section]\nkey = 1\n")
        _, err = start_fails(home)
        assert f": {reason}: " in err and "no_such_section" in err, err
        for url in ("foo", "http://h:port", "ftp://h:1"):
            out = subprocess.run([VERITY, "--rpc", url, "status"], capture_output=True, text=True, timeout=30,
                                 stdin=subprocess.DEVNULL)
            assert out.returncode == code and "--rpc" in out.stderr, (url, out)


def test_a_corrupt_write_ahead_log_says_so_and_the_docs_recover():
    """Issue 21: a damaged LevelDB write-ahead log stops the start with store-corrupt and a
    pointer to the recovery (not the hint about another verityd); following docs/operators.md
    (move data/chain aside, keep the vote record) the node resyncs."""
    with cluster() as c:
        c.start()
        wait_for("height 5", lambda: all(n.height() >= 5 for n in c.nodes), 60, c.nodes)
        node = c.nodes[0]
        assert node.terminate() == 0
        chain_dir = os.path.join(node.home, "data", "chain")
        log = max((os.path.join(chain_dir, f) for f in os.listdir(chain_dir) if f.endswith(".log")),
                  key=os.path.getsize)
        assert os.path.getsize(log) > 1000, os.listdir(chain_dir)
        with open(log, "r+b") as f:
            f.seek(os.path.getsize(log) // 2)
            f.write(b"\xff" * 64)
        code, err = start_fails(node.home)
        assert code == 1 and "store-corrupt" in err and "A damaged data directory" in err, err
        assert "another verityd" not in err, err
        shutil.move(chain_dir, os.path.join(node.home, "chain.damaged"))
        node.start()
        target = max(n.height() for n in c.nodes[1:]) + 3
        wait_for(f"resynced to {target}", lambda: node.height() >= target, 60, c.nodes)


def test_export_starts_a_new_chain():
    """verityd export (issue 21): with the node stopped, the state at a height as a
    genesis file for a new chain; refused with the old chain id; the new chain
    starts from the file with every holding as a balance."""
    with cluster() as c:
        c.start()
        wait_for("height 3", lambda: all(n.height() >= 3 for n in c.nodes), 60, c.nodes)
        for args in (["transfer", "--from", "alice", "--to", "bob", "--amount", "1000", "--wait"],
                     ["delegate", "--from", "carol", "--validator", "validator-2", "--amount", "5000", "--wait"]):
            out = verity(c.nodes[0], *args)
            assert out.returncode == 0, out
        node = c.nodes[0]
        assert node.terminate() == 0

        def account(port, address):
            return call(port, "account", {"address": address})["result"]

        with open(c.genesis) as f:
            addresses = {a["name"]: a["address"] for a in json.load(f)["accounts"]}
        bob = int(account(c.nodes[1].rpc_port, addresses["bob"])["balance"])  # nothing moves it any more
        carol = int(account(c.nodes[1].rpc_port, addresses["carol"])["balance"])

        def export(*args):
            return subprocess.run([VERITYD, "export", "--home", node.home, *args], capture_output=True, text=True,
                                  timeout=60, stdin=subprocess.DEVNULL)

        out = export("--chain-id", "verity-devnet-1")
        assert out.returncode == 1 and "same-chain-id" in out.stderr, out
        assert export().returncode == 2
        path = os.path.join(c.dir, "exported.json")
        out = export("--chain-id", "verity-next-1", "--output", path)
        assert out.returncode == 0 and "not carried" in out.stderr, out
        print(f"  {out.stderr.strip()}", flush=True)
        earlier = export("--chain-id", "verity-next-1", "--height", "1")
        assert earlier.returncode == 0 and json.loads(earlier.stdout)["chain_id"] == "verity-next-1", earlier
        with open(path) as f:
            g = json.load(f)
        exported = {a["address"]: int(a["balance"]) for a in g["accounts"]}
        assert exported[addresses["bob"]] == bob, (exported[addresses["bob"]], bob)
        assert exported[addresses["carol"]] >= carol + 5000, (exported[addresses["carol"]], carol)
        assert sorted(v["name"] for v in g["validators"]) == [f"validator-{i}" for i in range(1, 5)], g["validators"]

        # verityd check reads it all against the certified chain; then a flipped byte in a table.
        out = subprocess.run([VERITYD, "check", "--home", node.home], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.startswith("ok: "), out
        print(f"  {out.stdout.strip()}", flush=True)
        chain_dir = os.path.join(node.home, "data", "chain")
        table = max((os.path.join(chain_dir, f) for f in os.listdir(chain_dir) if f.endswith(".ldb")),
                    key=os.path.getsize)
        with open(table, "r+b") as f:
            f.seek(os.path.getsize(table) // 3)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x55]))
        out = subprocess.run([VERITYD, "check", "--home", node.home], capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and "store-corrupt" in out.stderr and "A damaged data directory" in out.stderr, out

        new = Cluster(genesis=path).start()
        try:
            wait_for("the new chain at height 3", lambda: all(n.height() >= 3 for n in new.nodes), 60, new.nodes)
            status = call(new.nodes[0].rpc_port, "status")["result"]
            assert status["chain_id"] == "verity-next-1", status
            assert int(account(new.nodes[0].rpc_port, addresses["bob"])["balance"]) == bob
        finally:
            new.stop()


if __name__ == "__main__":
    TestRunner([test_write_methods_need_the_token, test_public_rpc_without_token_is_refused,
                test_the_pages_an_operator_serves, test_encrypted_keys,
                test_key_files_others_may_read_stop_the_node, test_metrics_an_operator_alerts_on,
                test_init_asks_for_the_passphrase_on_the_terminal, test_what_the_docs_promise_about_errors,
                test_a_corrupt_write_ahead_log_says_so_and_the_docs_recover, test_export_starts_a_new_chain]).main()
