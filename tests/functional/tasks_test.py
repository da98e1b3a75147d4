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
import urllib.request
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


def rpc(cluster, method, params=None):
    body = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    req = urllib.request.Request(f"http://127.0.0.1:{cluster.nodes[1].rpc_port}/", method="POST",
                                 data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


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
        lines = [json.loads(line) for line in err.splitlines()]  # --json: one JSON object per line on stderr
        assert {"insecure-devnet-key", "few-eligible-workers"} <= {line.get("warning") for line in lines}, err
        error = lines[-1]
        assert error["reason"] == "forbidden-import" and "path_open" in error["detail"], err
        assert error["exit_code"] == 1 and "nothing was sent" in error["detail"], err
        assert balance(c, "alice") == before, "a refused task was charged"

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("3 1 2\n")
        code, out, err = verity(c, "submit-task", SORT, "--from", "alice", "--reward", "10", "--replicas", "3",
                                "--input", f.name)  # waits for its block (no workers here: not for its result)
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

        # The task market's reads: the task, the stored module, the lists.
        task_id = int(submitted[0]["attributes"]["task"])
        wait_for("validator-2 has the task", lambda: "result" in rpc(c, "task", {"id": task_id}), 20, c.nodes)
        task = rpc(c, "task", {"id": task_id})["result"]
        assert task["status"] == "open" and task["replicas"] == 3 and task["reward"] == "10", task
        assert bytes.fromhex(task["input"]) == b"3 1 2\n" and task["result"] is None, task
        assert task["round"]["assigned_height"] == 0, "assigned with no workers registered"
        module = rpc(c, "module", {"hash": task["module_hash"]})["result"]
        with open(SORT, "rb") as m:
            assert bytes.fromhex(module["wasm"]) == m.read()
        assert [t["id"] for t in rpc(c, "tasks")["result"]["tasks"]] == [task_id]
        # Waiting for workers is a round in progress; the filter takes only a boolean.
        assert [t["id"] for t in rpc(c, "tasks", {"in_progress": True})["result"]["tasks"]] == [task_id]
        assert rpc(c, "tasks", {"in_progress": True, "before": task_id})["result"]["tasks"] == []
        bad = rpc(c, "tasks", {"in_progress": "yes"})["error"]
        assert bad["code"] == -32602 and "in_progress" in bad["message"], bad
        assert rpc(c, "workers")["result"] == {"workers": []}
        assert rpc(c, "task", {"id": task_id + 1})["error"]["code"] == -32001
        assert rpc(c, "worker", {"address": "11" * 32})["error"]["code"] == -32001
        with urllib.request.urlopen(f"http://127.0.0.1:{c.nodes[1].rpc_port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert "verity_tasks_submitted_total 1\n" in metrics and "verity_workers 0\n" in metrics, metrics
    finally:
        c.stop()


if __name__ == "__main__":
    TestRunner([modules_are_checked_at_submission]).main()
