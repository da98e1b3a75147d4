#!/usr/bin/env python3
"""verity-worker on a real 4-validator devnet (issue 8): three workers, one of
them --byzantine, run sort tasks whose settled output equals the native build
of the same C program; the byzantine worker is outvoted, slashed and loses
reputation every time; an endless loop ends out of fuel with the same fuel on
every worker; a worker killed in the middle of a task loses only reputation
(not stake) and the task still settles; a worker rides out a restart of its
node; a worker restarted between its commitment and its reveal reveals from
its persisted state.
Run: tests/functional/worker_test.py (VERITYD=..., VERITY=..., VERITY_WORKER=..., TASK_SORT_WASM=...,
TASK_SORT_NATIVE=..., TASK_ENDLESS_WASM=...)."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import VERITYD, Cluster, TestRunner, wait_for

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))
WORKER = os.environ.get("VERITY_WORKER", os.path.join(os.path.dirname(VERITYD), "verity-worker"))
SORT = os.environ["TASK_SORT_WASM"]
SORT_NATIVE = os.environ["TASK_SORT_NATIVE"]
ENDLESS = os.environ["TASK_ENDLESS_WASM"]

# Short windows so that a missing worker costs seconds, not minutes.
COMMIT_BLOCKS, REVEAL_BLOCKS = "15", "15"


def rpc(cluster, method, params=None, node=0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{cluster.nodes[node].rpc_port}/", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = json.loads(r.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def verity(cluster, *args, json_out=True):
    url = f"http://127.0.0.1:{cluster.nodes[0].rpc_port}"
    out = subprocess.run([VERITY, "--rpc", url, "--home", cluster.dir, *(["--json"] if json_out else []), *args],
                         capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout, out.stderr


def verity_bg(cluster, *args):
    url = f"http://127.0.0.1:{cluster.nodes[0].rpc_port}"
    p = subprocess.Popen([VERITY, "--rpc", url, "--home", cluster.dir, *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    harness._live.append(p)
    return p


class Worker:
    def __init__(self, cluster, n, byzantine=False):
        self.cluster, self.n, self.byzantine = cluster, n, byzantine
        self.home = os.path.join(cluster.dir, f"worker-{n}")
        self.log_path = os.path.join(self.home, "worker.log")
        out = subprocess.run([WORKER, "init", "--home", self.home, "--devnet-name", f"worker-{n}"],
                             capture_output=True, text=True, timeout=30, check=True)
        self.key = re.search(r"worker key ([0-9a-f]{64})", out.stdout).group(1)
        self.proc = None

    def start(self):
        node = self.cluster.nodes[(self.n - 1) % len(self.cluster.nodes)]
        args = [WORKER, "--home", self.home, "--rpc", f"http://127.0.0.1:{node.rpc_port}"]
        if self.byzantine:
            args.append("--byzantine")
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        harness._live.append(self.proc)
        return self

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log(self):
        with open(self.log_path) as f:
            return f.read()


def start_workers(c, byzantine=()):
    workers = [Worker(c, n, n in byzantine).start() for n in (1, 2, 3)]

    def all_active():
        listed = {w["key"]: w for w in rpc(c, "workers")["workers"]}
        return all(w.key in listed and listed[w.key]["active"] for w in workers)

    try:
        wait_for("3 registered workers", all_active, 60, c.nodes)
    except AssertionError:
        dump(workers)
        raise
    return workers


def dump(workers):
    for w in workers:
        print(f"--- worker-{w.n} log ---\n{w.log()[-3000:]}", flush=True)


def submit(c, wasm, stdin, fuel="100000000", sender="alice", replicas="3", blocks=(COMMIT_BLOCKS, REVEAL_BLOCKS)):
    with tempfile.NamedTemporaryFile("wb", suffix=".in", delete=False) as f:
        f.write(stdin)
    code, out, err = verity(c, "submit-task", wasm, "--from", sender, "--reward", "10", "--replicas", replicas,
                            "--input", f.name, "--fuel", fuel, "--commit-blocks", blocks[0], "--reveal-blocks",
                            blocks[1], "--wait")
    os.unlink(f.name)
    assert code == 0, (code, out, err)
    receipt = json.loads(out)["receipt"]
    assert receipt["ok"], receipt
    return int([e for e in receipt["events"] if e["kind"] == "task_submitted"][0]["attributes"]["task"])


def wait_settled(c, ids, workers, timeout=60):
    def done():
        tasks = [rpc(c, "task", {"id": i}) for i in ids]
        return tasks if all(t["status"] != "open" for t in tasks) else None

    try:
        return wait_for(f"tasks {ids} settled", done, timeout, c.nodes, interval=0.3)
    except AssertionError:
        dump(workers)
        raise


def worker_record(c, w):
    return rpc(c, "worker", {"address": w.key})


def byzantine_is_outvoted_and_results_match_native():
    c = Cluster().start()
    workers = []
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        workers = start_workers(c, byzantine=(3,))
        honest, byz = workers[:2], workers[2]
        before = {w.key: worker_record(c, w) for w in workers}

        inputs = [b"3 1 2\n", b"10 -4 7 7 0 99 -100\n", b"42\n", b"5 4 3 2 1 0 -1 -2 -3 -4 -5\n"]
        fuel = 2_000_000
        # All at once, from different senders: once outvoted, the byzantine
        # worker's reputation is too low for it to be assigned again, and with
        # 3 replicas and 2 eligible workers a later task would find no workers.
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(submit, c, SORT, i, sender=who)
                       for i, who in zip(inputs, ["alice", "bob", "carol", "dave"])]
            endless = pool.submit(submit, c, ENDLESS, b"", fuel=str(fuel), sender="validator-1")
            ids = [f.result() for f in futures]
            tid = endless.result()
        tasks = wait_settled(c, ids + [tid], workers)[:len(ids)]
        for stdin, t in zip(inputs, tasks):
            native = subprocess.run([SORT_NATIVE], input=stdin, capture_output=True, timeout=10).stdout
            assert t["status"] == "settled", t
            assert bytes.fromhex(t["result"]["output"]) == native, (t["result"], native)
            assert t["result"]["outcome"] == 0, t["result"]
            assert sorted(t["result"]["majority"]) == sorted(w.key for w in honest), t["result"]
        after = {w.key: worker_record(c, w) for w in workers}
        b0, b1 = before[byz.key], after[byz.key]
        assert b1["outvoted"] == len(inputs) + 1, b1  # the sorts and the endless loop
        assert int(b1["stake"]) < int(b0["stake"]), (b0, b1)  # slashed
        for w in honest:
            h = after[w.key]
            assert h["agreed"] == len(inputs) + 1 and h["outvoted"] == 0, h
            assert int(h["stake"]) == int(before[w.key]["stake"]), h
            assert b1["reputation"] < h["reputation"], (b1, h)
        assert b1["reputation"] <= b0["reputation"], (b0, b1)

        # An endless loop: out of fuel, after exactly the fuel given, on every worker.
        t = rpc(c, "task", {"id": tid})
        assert t["status"] == "settled" and t["result"]["outcome"] == 2, t  # out_of_fuel
        assert t["result"]["fuel_used"] == fuel, t["result"]
        for w in workers:
            ran = re.findall(rf"task {tid}: ran: (\S+), exit \d+, fuel (\d+)", w.log())
            assert ran == [("out-of-fuel,", str(fuel))] or ran == [("out-of-fuel", str(fuel))], (w.n, ran)
    except Exception:
        dump(workers)
        raise
    finally:
        c.stop()


def killed_worker_loses_only_reputation():
    c = Cluster().start()
    workers = []
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        workers = start_workers(c)
        victim = workers[0]
        before = worker_record(c, victim)
        tid = submit(c, SORT, b"9 8 7\n")
        watch = verity_bg(c, "task", "watch", str(tid), "--timeout", "60")
        # Kill it once it has run the task (its result is persisted) and before it can reveal.
        state = os.path.join(victim.home, "tasks", f"{tid}.json")
        wait_for("the victim ran the task", lambda: os.path.exists(state), 30, c.nodes, interval=0.005)
        victim.kill9()
        t = wait_settled(c, [tid], workers)[0]
        assert t["status"] == "settled", t
        native = subprocess.run([SORT_NATIVE], input=b"9 8 7\n", capture_output=True, timeout=10).stdout
        assert bytes.fromhex(t["result"]["output"]) == native, t["result"]
        assert victim.key not in t["result"]["majority"], t["result"]
        after = worker_record(c, victim)
        assert after["missed"] == before["missed"] + 1, (before, after)
        assert after["reputation"] < before["reputation"] or before["reputation"] == 0, (before, after)
        assert after["stake"] == before["stake"], (before, after)  # not slashed
        # The client: `task watch` saw it through to the settlement; `task` summarises it.
        out, err = watch.communicate(timeout=60)
        assert watch.returncode == 0, (out, err)
        assert "task_settled" in out and "result ok" in out, out
        code, out, err = verity(c, "task", str(tid), json_out=False)
        assert code == 0 and f"task {tid}: settled" in out and "7\n8\n9" in out.replace(" ", "\n"), (out, err)
        code, out, err = verity(c, "task", str(tid))
        assert code == 0 and json.loads(out)["status"] == "settled", (out, err)
        code, out, err = verity(c, "task", "999")
        assert code == 1 and "not-found" in err, (code, err)
        # Restarted, it picks up where it was: the task is settled, so it forgets it.
        victim.start()
        wait_for("the restarted worker forgets the settled task", lambda: not os.path.exists(state), 30, c.nodes)

        # A worker rides out a restart of its node: worker-2 talks to validator-2.
        c.nodes[1].kill9()
        time.sleep(1.0)
        c.nodes[1].start()
        wait_for("worker-2 reconnected", lambda: workers[1].log().count("subscribed to tasks events") >= 2, 30,
                 c.nodes)
        wait_for("validator-2 caught up", lambda: c.nodes[1].height() >= c.nodes[0].height() - 1, 30, c.nodes)
        tid2 = submit(c, SORT, b"2 1\n")
        t = wait_settled(c, [tid2], workers)[0]
        assert t["status"] == "settled", t
        assert workers[1].key in t["result"]["majority"], t
        assert "websocket dropped" in workers[1].log(), workers[1].log()

        # Last, because a registered worker with no process behind it would be
        # drawn for tasks and never answer (the phase above needs all three
        # running workers to be the three drawn).
        code, out, err = verity(c, "register-worker", "--from", "bob", "--stake", "100000", "--wait")
        assert code == 0, (out, err)
        assert any(w["active"] for w in rpc(c, "workers")["workers"] if w["key"] not in {x.key for x in workers}), \
            rpc(c, "workers")
    except Exception:
        dump(workers)
        raise
    finally:
        c.stop()


def restarted_worker_reveals_what_it_committed():
    c = Cluster().start()
    workers = []
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        workers = start_workers(c)
        # worker-3 is gone before the task: it is assigned but never commits, so
        # reveals open only at the commit deadline, and worker-1 is restarted
        # between its commitment and its reveal.
        workers[2].kill9()
        tid = submit(c, SORT, b"30 20 10\n", blocks=("60", "60"))
        w1 = workers[0]

        def w1_committed():
            r = rpc(c, "task", {"id": tid})["round"]
            return r and any(a["worker"] == w1.key and a["committed"] for a in r["assignments"])

        wait_for("worker-1 committed", w1_committed, 30, c.nodes, interval=0.05)
        w1.kill9()
        assert os.path.exists(os.path.join(w1.home, "tasks", f"{tid}.json"))
        w1.start()
        t = wait_settled(c, [tid], workers, timeout=90)[0]
        assert t["status"] == "settled", t
        assert sorted(t["result"]["majority"]) == sorted(w.key for w in workers[:2]), t["result"]
        assert f"task {tid}: resuming" in w1.log() and f"task {tid}: revealed" in w1.log(), w1.log()
    except Exception:
        dump(workers)
        raise
    finally:
        c.stop()


if __name__ == "__main__":
    TestRunner([byzantine_is_outvoted_and_results_match_native, killed_worker_loses_only_reputation,
                restarted_worker_reveals_what_it_committed]).main()
