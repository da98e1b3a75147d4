#!/usr/bin/env python3
"""Task submission through the `verity` client on a real 4-validator devnet
(issue 8, first part): the node checks a task's module before admitting it,
so a module that imports path_open is refused at submission with a clear
reason and nothing is charged; a valid module is committed, its escrow
(replicas x reward) leaves the submitter's balance, and the task_submitted
event names the content-addressed module.
Run: tests/functional/tasks_test.py (VERITYD=..., VERITY=..., TASK_SORT_WASM=..., TASK_FORBIDDEN_WASM=...)."""

import hashlib
import json
import os
import subprocess
import tempfile

from harness import VERITYD, Cluster, TestRunner, wait_for

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))
SORT = os.environ["TASK_SORT_WASM"]
FORBIDDEN = os.environ["TASK_FORBIDDEN_WASM"]


def verity(cluster, *args):
    rpc = f"http://127.0.0.1:{cluster.nodes[0].rpc_port}"
    out = subprocess.run([VERITY, "--rpc", rpc, "--home", cluster.dir, "--json", *args], capture_output=True,
                         text=True, timeout=90, stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout, out.stderr


def balance(cluster, who):
    code, out, err = verity(cluster, "balance", who)
    assert code == 0, err
    return int(json.loads(out)["balance"])


def modules_are_checked_at_submission():
    c = Cluster().start()
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        before = balance(c, "alice")
        code, out, err = verity(c, "submit-task", FORBIDDEN, "--from", "alice", "--reward", "10", "--wait")
        assert code == 1, (code, out, err)
        assert "[forbidden-import]" in err and "path_open" in err, err
        assert balance(c, "alice") == before, "a refused task was charged"

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("3 1 2\n")
        code, out, err = verity(c, "submit-task", SORT, "--from", "alice", "--reward", "10", "--replicas", "3",
                                "--input", f.name, "--wait")
        os.unlink(f.name)
        assert code == 0, (code, out, err)
        receipt = json.loads(out)["receipt"]
        assert receipt["ok"], receipt
        submitted = [e for e in receipt["events"] if e["kind"] == "task_submitted"]
        assert len(submitted) == 1, receipt
        with open(SORT, "rb") as m:
            assert submitted[0]["attributes"]["module_hash"] == hashlib.sha256(m.read()).hexdigest()
        assert submitted[0]["attributes"]["escrow"] == "30"
        assert balance(c, "alice") == before - 30
    finally:
        c.stop()


if __name__ == "__main__":
    TestRunner([modules_are_checked_at_submission]).main()
