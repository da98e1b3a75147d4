#!/usr/bin/env python3
"""verity-worker on a real 4-validator devnet (issue 8): three workers, one of
them --byzantine, run 20 tasks (the 5 example programs on 4 inputs each)
whose settled output equals the native build of the same C program; the
byzantine worker is outvoted, slashed and loses reputation every time; an endless loop ends out of fuel with the same fuel on
every worker; a worker killed in the middle of a task loses only reputation
(not stake) and the task still settles; a worker rides out a restart of its
node; a worker restarted between its commitment and its reveal reveals from
its persisted state; an audit on fresh workers overturns a result settled
by two colluding byzantine workers and claws back their rewards.
Run: tests/functional/worker_test.py (VERITYD=..., VERITY=..., VERITY_WORKER=..., TASK_SORT_WASM=...,
TASK_<NAME>_NATIVE=... for every example, TASK_ENDLESS_WASM=...)."""

import contextlib
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import VERITYD, Cluster, TestRunner, secret_file, uncomment, wait_for

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
    def __init__(self, cluster, n, byzantine=False, name=None, stake=None):
        """Worker n talks to validator ((n - 1) mod 4) + 1 with the devnet key of `name` (default worker-n)."""
        self.cluster, self.n, self.byzantine, self.stake = cluster, n, byzantine, stake
        name = name or f"worker-{n}"
        self.home = os.path.join(cluster.dir, name)
        self.log_path = os.path.join(self.home, "worker.log")
        out = subprocess.run([WORKER, "init", "--home", self.home, "--devnet-name", name],
                             capture_output=True, text=True, timeout=30, check=True)
        self.key = re.search(r"worker key ([0-9a-f]{64})", out.stdout).group(1)
        self.proc = None

    def start(self, env_extra=None):
        node = self.cluster.nodes[(self.n - 1) % len(self.cluster.nodes)]
        args = [WORKER, "--home", self.home, "--rpc", f"http://127.0.0.1:{node.rpc_port}"]
        env = {k: v for k, v in os.environ.items() if k != "VERITY_RPC_TOKEN"}
        env.update(env_extra or {})
        if self.byzantine:
            args.append("--byzantine")
        if self.stake:
            args += ["--stake", self.stake]
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        harness._live.append(self.proc)
        return self

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log(self):
        with open(self.log_path) as f:
            return f.read()


def start_workers(c, byzantine=(), names=("worker-1", "worker-2", "worker-3"), first=1, stakes=None):
    workers = [Worker(c, first + i, first + i in byzantine, name, (stakes or {}).get(first + i)).start()
               for i, name in enumerate(names)]

    def all_active():
        listed = {w["key"]: w for w in rpc(c, "workers")["workers"]}
        return all(w.key in listed and listed[w.key]["active"] for w in workers)

    try:
        wait_for(f"{len(workers)} registered workers", all_active, 60, c.nodes)
    except AssertionError:
        dump(workers)
        raise
    return workers


def dump(workers):
    for w in workers:
        print(f"--- worker-{w.n} log ---\n{w.log()[-3000:]}", flush=True)


@contextlib.contextmanager
def devnet(prepare=None, **cluster_args):
    """A started devnet at height 2, and a list for the workers the scenario
    starts: their logs are printed if it fails; everything stops after it.
    `prepare(cluster)` runs before the nodes start (to change their files)."""
    c = Cluster(**cluster_args)
    if prepare:
        prepare(c)
    c.start()
    workers = []
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        yield c, workers
    except Exception:
        dump(workers)
        raise
    finally:
        c.stop()


def submit(c, wasm, stdin, fuel="100000000", sender="alice", replicas="3", blocks=(COMMIT_BLOCKS, REVEAL_BLOCKS)):
    with tempfile.NamedTemporaryFile("wb", suffix=".in", delete=False) as f:
        f.write(stdin)
    code, out, err = verity(c, "submit-task", wasm, "--from", sender, "--reward", "10", "--replicas", replicas,
                            "--input", f.name, "--fuel", fuel, "--commit-blocks", blocks[0], "--reveal-blocks",
                            blocks[1])  # it waits for its block: the receipt has the task id
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


def devnet_address(name):
    with open(harness.DEVNET_GENESIS) as f:
        return next(a["address"] for a in json.load(f)["accounts"] if a["name"] == name)


def worker_record(c, w):
    return rpc(c, "worker", {"address": w.key})


# 20 tasks: every example program on 4 inputs (the first two run before the byzantine worker turns).
TWENTY = [("sort", b"3 1 2\n"), ("sha256", b"abc"),
          ("sort", b"10 -4 7 7 0 99 -100\n"), ("sort", b"42\n"), ("sort", b"5 4 3 2 1 0 -1 -2 -3 -4 -5\n"),
          ("sha256", b""), ("sha256", b"hello world\n"), ("sha256", bytes(range(256)) * 16),
          ("primes", b"2\n"), ("primes", b"1000\n"), ("primes", b"100000\n"), ("primes", b"0\n"),
          ("matmul", b"1\n"), ("matmul", b"5\n"), ("matmul", b"20\n"), ("matmul", b"50\n"),
          ("wc", b""), ("wc", b"one two three\n"), ("wc", b"a\nb c\n\n  d  \n"), ("wc", b"word " * 3000)]
SENDERS = ["alice", "bob", "carol", "dave", "validator-1", "validator-2"]
# Windows are counted in blocks, and under a burst of transactions blocks follow
# each other within milliseconds: 15 blocks can be gone before a worker with 20
# tasks reaches the last one. Every worker of that test is alive, so a round
# ends as soon as all revealed; wide windows cost nothing.
WIDE = ("400", "400")


def submit_all(c, jobs, **kw):
    """Submits (program, stdin) jobs, one thread per sender (each sender's nonces in order); task ids in order."""
    by_sender = {}
    for i, job in enumerate(jobs):
        by_sender.setdefault(SENDERS[i % len(SENDERS)], []).append((i, job))

    def run(sender, mine):
        return [(i, submit(c, os.environ[f"TASK_{name.upper()}_WASM"], stdin, sender=sender, **kw))
                for i, (name, stdin) in mine]

    with ThreadPoolExecutor(max_workers=len(by_sender)) as pool:
        done = [x for f in [pool.submit(run, s, m) for s, m in by_sender.items()] for x in f.result()]
    return [tid for _, tid in sorted(done)]


def check_native(jobs, tasks, majority):
    for (name, stdin), t in zip(jobs, tasks):
        native = subprocess.run([os.environ[f"TASK_{name.upper()}_NATIVE"]], input=stdin, capture_output=True,
                                timeout=30)
        assert native.returncode == 0, (name, native)
        assert t["status"] == "settled", t
        assert t["result"]["outcome"] == 0 and t["result"]["exit_code"] == 0, (name, t["result"])
        assert bytes.fromhex(t["result"]["output"]) == native.stdout, (name, stdin[:40], t["result"], native.stdout)
        assert sorted(t["result"]["majority"]) == sorted(majority), (name, t["result"])


def byzantine_is_outvoted_and_results_match_native():
    with devnet() as (c, workers):
        # worker-3 stakes 10x the minimum: a slash takes 10% of the stake, and a
        # worker under min_worker_stake is no longer drawn, so 1,000,000 lasts
        # 21 slashes (0.9^21 x 10^6 = 109,418).
        workers.extend(start_workers(c, stakes={3: "1000000"}))
        honest, byz = workers[:2], workers[2]

        # Two tasks while every worker is honest: worker-3 earns reputation.
        tasks = wait_settled(c, submit_all(c, TWENTY[:2], blocks=WIDE), workers)
        check_native(TWENTY[:2], tasks, [w.key for w in workers])
        earned = worker_record(c, byz)
        assert earned["agreed"] == 2 and earned["reputation"] > 0, earned

        # worker-3 turns byzantine (same key, restarted with --byzantine).
        byz.kill9()
        byz.byzantine = True
        byz.start()
        before = {w.key: worker_record(c, w) for w in workers}
        fuel = 2_000_000
        with ThreadPoolExecutor(max_workers=2) as pool:
            rest = pool.submit(submit_all, c, TWENTY[2:], blocks=WIDE)
            endless = pool.submit(submit, c, ENDLESS, b"", fuel=str(fuel), sender="validator-3", blocks=WIDE)
            ids, tid = rest.result(), endless.result()
        tasks = wait_settled(c, ids + [tid], workers, timeout=120)[:len(ids)]
        check_native(TWENTY[2:], tasks, [w.key for w in honest])
        after = {w.key: worker_record(c, w) for w in workers}
        b0, b1 = before[byz.key], after[byz.key]
        assert b1["outvoted"] == len(ids) + 1, b1  # the 18 tasks and the endless loop
        # Slashed each time: 10% of the stake per outvote.
        stake = int(b0["stake"])
        for _ in range(len(ids) + 1):
            stake -= stake // 10
        assert int(b1["stake"]) == stake, (b0, b1, stake)
        assert b1["reputation"] < earned["reputation"], (earned, b1)  # it fell
        for w in honest:
            h = after[w.key]
            assert h["agreed"] == before[w.key]["agreed"] + len(ids) + 1 and h["outvoted"] == 0, h
            assert int(h["stake"]) == int(before[w.key]["stake"]), h
            assert b1["reputation"] < h["reputation"], (b1, h)
        assert len(re.findall(r"\[byzantine: output altered\]", byz.log())) == len(ids) + 1

        # An endless loop: out of fuel, after exactly the fuel given, on every worker.
        t = rpc(c, "task", {"id": tid})
        assert t["status"] == "settled" and t["result"]["outcome"] == 2, t  # out_of_fuel
        assert t["result"]["fuel_used"] == fuel, t["result"]
        # The client says so: `task watch` of an out-of-fuel task exits 1 with that reason.
        code, out, err = verity(c, "task", "watch", str(tid), "--timeout", "30", json_out=False)
        assert code == 1 and "[out-of-fuel]" in err and "--fuel" in err, (code, out, err)
        for w in workers:
            ran = re.findall(rf"task {tid}: ran: (\S+), exit \d+, fuel (\d+)", w.log())
            assert ran == [("out-of-fuel,", str(fuel))] or ran == [("out-of-fuel", str(fuel))], (w.n, ran)


def killed_worker_loses_only_reputation():
    with devnet() as (c, workers):
        workers.extend(start_workers(c))
        victim = workers[0]
        before = worker_record(c, victim)
        # `task watch` of a task not in a block yet waits for it (the first task of this devnet is 1).
        early = verity_bg(c, "task", "watch", "1", "--timeout", "60")
        tid = submit(c, SORT, b"9 8 7\n")
        assert tid == 1, tid
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
        out, err = early.communicate(timeout=60)
        assert early.returncode == 0 and "not in a block yet" in out and "task_settled" in out, (out, err)
        # Watched after the end, it replays the task's history, oldest first, then the result.
        code, out, err = verity(c, "task", "watch", str(tid), json_out=False)
        assert code == 0, (out, err)
        kinds = re.findall(r"^height \d+: (\w+)", out, re.M)
        for first, then in [("task_submitted", "task_assigned"), ("task_assigned", "task_committed"),
                            ("task_committed", "task_revealed"), ("task_revealed", "task_settled")]:
            assert first in kinds and then in kinds and kinds.index(first) < kinds.index(then), kinds
        assert "task_worker_missed" in kinds and "result ok" in out, out
        # tasks, workers, worker; tx shows the module by size and hash.
        code, out, err = verity(c, "tasks", json_out=False)
        assert code == 0 and re.search(rf"^{tid}\s+settled", out, re.M), out
        assert tid in [t["id"] for t in json.loads(verity(c, "tasks", "--status", "settled")[1])["tasks"]]
        assert not json.loads(verity(c, "tasks", "--status", "failed")[1])["tasks"]
        assert [t["id"] for t in json.loads(verity(c, "tasks", "--mine", "--from", "alice")[1])["tasks"]] == [tid]
        assert not json.loads(verity(c, "tasks", "--mine", "--from", "bob")[1])["tasks"]
        code, out, err = verity(c, "workers", json_out=False)
        assert code == 0 and all(w.key in out for w in workers), out
        code, out, err = verity(c, "worker", workers[1].key, json_out=False)
        assert code == 0 and "reputation over time" in out and "1 agreed" in out, out
        assert len(json.loads(verity(c, "worker", workers[1].key)[1])["history"]) >= 2
        submission = rpc(c, "history", {"task": tid})["entries"][-1]
        assert submission["type"] == "submit_task", submission
        code, out, err = verity(c, "tx", submission["tx_hash"], json_out=False)
        wasm = open(SORT, "rb").read()
        assert code == 0 and f"module {len(wasm)} bytes, sha256 {hashlib.sha256(wasm).hexdigest()}" in out, out
        assert wasm[:32].hex() not in out
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


def restarted_worker_reveals_what_it_committed():
    with devnet() as (c, workers):
        workers.extend(start_workers(c))
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
        # SIGTERM: a worker stops cleanly (its WebSocket thread joined), exit 0, "stopping" last.
        for w in workers[:2]:
            started = time.monotonic()
            w.proc.send_signal(signal.SIGTERM)
            assert w.proc.wait(10) == 0, w.log()
            print(f"  worker-{w.n} stopped {time.monotonic() - started:.2f} s after SIGTERM", flush=True)
            assert w.log().rstrip().endswith("stopping"), w.log()[-500:]


def audit_overturns_a_colluding_majority():
    # Rewards locked long enough for fresh workers to register and an audit to run.
    with devnet(params={"reward_lock_blocks": 5000}) as (c, workers):
        # Two colluding byzantine workers (the same deterministic alteration) outvote the honest one.
        workers.extend(start_workers(c, byzantine=(2, 3)))
        honest, liars = workers[0], workers[1:]
        tid = submit(c, SORT, b"3 1 2\n")
        t = wait_settled(c, [tid], workers)[0]
        native = subprocess.run([SORT_NATIVE], input=b"3 1 2\n", capture_output=True, timeout=10).stdout
        assert t["status"] == "settled" and bytes.fromhex(t["result"]["output"]) != native, t
        assert sorted(t["result"]["majority"]) == sorted(w.key for w in liars), t["result"]
        wrong_hash = t["result"]["result_hash"]
        before = {w.key: worker_record(c, w) for w in liars}
        locked_before = {w.key: int(rpc(c, "rewards", {"address": w.key})["locked"]) for w in liars}
        assert all(v >= 10 for v in locked_before.values()), locked_before

        # Three fresh honest workers (funded devnet accounts that neither served the task nor audit it).
        fresh = start_workers(c, names=("bob", "carol", "dave"), first=4)
        workers += fresh
        alice_key = devnet_address("alice")
        alice = lambda: int(rpc(c, "account", {"address": alice_key})["balance"])
        alice_before = alice()
        code, out, err = verity(c, "request-audit", str(tid), "--from", "alice", "--wait")
        assert code == 0, (out, err)
        assert any(e["kind"] == "task_audit_requested" for e in json.loads(out)["receipt"]["events"]), out
        watch = verity_bg(c, "task", "watch", str(tid), "--timeout", "60")
        # A second audit while this one runs is refused with its reason.
        code, out, err = verity(c, "request-audit", str(tid), "--from", "bob", "--wait")
        assert code != 0 and "audit-in-progress" in err, (code, out, err)

        def audited():
            t = rpc(c, "task", {"id": tid})
            return t if t["audits"] == 1 and t["round"] is None else None

        try:
            t = wait_for("the audit ended", audited, 60, c.nodes, interval=0.3)
        except AssertionError:
            dump(workers)
            raise
        # Overturned: the task now has the honest result, agreed by the fresh workers.
        assert t["status"] == "settled" and bytes.fromhex(t["result"]["output"]) == native, t
        assert t["result"]["result_hash"] != wrong_hash, t
        assert sorted(t["result"]["majority"]) == sorted(w.key for w in fresh), t["result"]
        # The colluders' locked rewards were clawed back, they were slashed and lost reputation.
        for w in liars:
            a, b = before[w.key], worker_record(c, w)
            assert int(b["stake"]) < int(a["stake"]) and b["outvoted"] == a["outvoted"] + 1, (a, b)
            assert b["reputation"] < a["reputation"] or a["reputation"] == 0, (a, b)
            locked = int(rpc(c, "rewards", {"address": w.key})["locked"])
            assert locked == locked_before[w.key] - 10, (w.n, locked_before[w.key], locked)
        # The auditor paid 3 x 10 for the audit (fee 0) and received the 2 x 10 clawed back.
        assert alice() == alice_before - 30 + 20, (alice_before, alice())
        # The fresh workers ran the audit and say so; `task watch` followed it to the end.
        # (Each logs it once it steps the task after the settlement: wait for it.)
        for w in fresh:
            wait_for(f"worker-{w.n} logs the audit's settlement",
                     lambda: f"task {tid}: settled: ok" in w.log() and "(agreed: rewarded)" in w.log(), 20, c.nodes)
        out, err = watch.communicate(timeout=60)
        assert watch.returncode == 0, (out, err)
        assert "audit in progress" in out and "task_audited" in out and "outcome=overturned" in out, out
        assert "clawed_back=20" in out, out
        # An audit of a task that does not exist fails in its block, with the reason.
        code, out, err = verity(c, "request-audit", "999", "--from", "alice", "--wait")
        assert code != 0 and "unknown-task" in err, (code, out, err)


def a_pending_commitment_is_not_sent_twice():
    with devnet() as (c, workers):
        workers.extend(start_workers(c))
        # A 150 x 150 matrix product runs for about half a second in the
        # sandbox: time to stall the chain between assignment and commitments.
        tid = submit(c, os.environ["TASK_MATMUL_WASM"], b"150\n", blocks=("400", "400"))
        wait_for("task assigned", lambda: rpc(c, "task", {"id": tid})["round"]["assigned_height"] > 0, 30, c.nodes,
                 interval=0.01)
        c.nodes[2].kill9()
        c.nodes[3].kill9()  # two of four: nothing commits
        stalled_at = c.nodes[0].height()
        # Workers 1 and 2 (on validators 1 and 2) send their commitments, which
        # stay pending well past the 8 s after which a worker would resend.
        time.sleep(12)
        assert c.nodes[0].height() == stalled_at, "the chain did not stall"
        for w in workers[:2]:
            assert w.log().count(f"task {tid}: committed") == 1, w.log()
        c.nodes[2].start()
        c.nodes[3].start()
        t = wait_settled(c, [tid], workers, timeout=90)[0]
        assert t["status"] == "settled" and len(t["result"]["majority"]) == 3, t
        for w in workers[:2]:
            log = w.log()
            assert log.count(f"task {tid}: committed") == 1 and "sending again" not in log, log
            # register_worker, commit_result, reveal_result: nothing sent twice, no failed transaction.
            assert rpc(c, "account", {"address": w.key})["nonce"] == 3, (w.n, rpc(c, "account", {"address": w.key}))


def a_client_key_works_as_a_worker():
    """One key for everything: verity-worker runs with a key file made by `verity keys` (encrypted,
    the client's passphrase options); `verity-worker init` makes its home 0700."""
    with devnet() as (c, workers):
        env = dict(os.environ, VERITY_PASSPHRASE="pw", VERITY_KEYSTORE_SCRYPT_N="1024")
        url = f"http://127.0.0.1:{c.nodes[0].rpc_port}"
        made = subprocess.run([VERITY, "--home", c.dir, "--rpc", url, "--json", "keys", "new", "mine"],
                              capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
        assert made.returncode == 0, made.stderr
        key, key_file = json.loads(made.stdout)["address"], json.loads(made.stdout)["file"]
        code, out, err = verity(c, "transfer", "--from", "alice", "--to", key, "--amount", "1000000", "--wait")
        assert code == 0, err
        home = os.path.join(c.dir, "mine-worker")
        # A wrong passphrase: it says so and stops.
        bad = subprocess.run([WORKER, "run", "--home", home, "--rpc", url, "--key-file", key_file],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                             env=dict(env, VERITY_PASSPHRASE="wrong"))
        assert bad.returncode == 1 and "bad-passphrase" in bad.stderr, bad
        missing = subprocess.run([WORKER, "run", "--home", home, "--rpc", url, "--key-file", key_file + ".nope"],
                                 capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)
        assert missing.returncode != 0 and "--key-file" in missing.stderr, missing
        os.makedirs(home)
        log = open(os.path.join(home, "worker.log"), "a")
        p = subprocess.Popen([WORKER, "run", "--home", home, "--rpc", url, "--key-file", key_file], stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        harness._live.append(p)
        wait_for("the client's key registered as a worker",
                 lambda: any(w["key"] == key and w["active"] for w in rpc(c, "workers")["workers"]), 30, c.nodes)
        p.terminate()
        p.wait(10)
        fresh = os.path.join(c.dir, "fresh-worker")
        subprocess.run([WORKER, "init", "--home", fresh], check=True, capture_output=True, timeout=30)
        assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700, oct(os.stat(fresh).st_mode)


def a_worker_sends_the_rpc_token():
    # validator-1 requires a bearer token for transactions (docs/rpc-server.md).
    token = "5e1ec7ed0b5e55ed5a1ad0b5e55ed5e1ec7ed0b5e55ed5a1"

    def require_token(c):
        secret_file(os.path.join(c.nodes[0].home, "rpc_token"), token)
        uncomment(c.nodes[0].home, "auth_token_file", '"rpc_token"')

    with devnet(prepare=require_token) as (c, workers):
        w = Worker(c, 1)
        workers.append(w)
        # Without the token it reads (chain, its record) but cannot register, and says why.
        w.start()
        wait_for("the refusal in its log", lambda: "register_worker failed" in w.log(), 30, c.nodes)
        assert "unauthorized" in w.log() and "VERITY_RPC_TOKEN" in w.log(), w.log()
        try:
            rpc(c, "worker", {"address": w.key})
            raise AssertionError("registered without the token")
        except RuntimeError as e:
            assert "-32001" in str(e), e  # not found: nothing was registered
        w.kill9()
        # With VERITY_RPC_TOKEN it registers.
        w.start(env_extra={"VERITY_RPC_TOKEN": token})
        wait_for("registered with the token", lambda: "registered: stake" in w.log(), 30, c.nodes)
        assert rpc(c, "worker", {"address": w.key})["active"], w.log()


if __name__ == "__main__":
    TestRunner([byzantine_is_outvoted_and_results_match_native, killed_worker_loses_only_reputation,
                a_client_key_works_as_a_worker,
                restarted_worker_reveals_what_it_committed, audit_overturns_a_colluding_majority,
                a_pending_commitment_is_not_sent_twice, a_worker_sends_the_rpc_token]).main()
