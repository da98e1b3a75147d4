#!/usr/bin/env python3
"""The browser worker page (/worker, web/pages/worker/) in Debian's headless
Chromium, driven over the DevTools protocol (browser_driver.mjs), on a real
4-validator devnet with two native verity-worker processes (issue 19):

- the page creates a key (kept in IndexedDB, encrypted), is funded and
  registers itself; a second tab with the same key does not work too; it then settles every example task together with the
  native workers: equal outcome, output and fuel (the same result hash,
  every worker in the majority), output equal to the native build's;
- paused, it runs nothing (the task settles with the native workers and
  the page misses it), and resumed it works again;
- with its "lie" switch on it is outvoted and slashed like verity-worker
  --byzantine;
- reloaded between its commitment and its reveal, it is unlocked again and
  reveals from what it stored: it is in the majority;
- its vested rewards are claimed from the page, and it unregisters;
- a screenshot of the page at the end goes beside the test log
  (VERITY_TEST_ARTIFACTS, default the current directory).

Skipped (exit 77, saying why) when Chromium, the pages or web/node_modules
are missing. Run: tests/functional/browser_worker_test.py with the
environment of worker_test.py plus VERITY_PAGES_DIR and CHROMIUM."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading

import harness
from harness import TestRunner, wait_for
from worker_test import (WIDE, TWENTY, Worker, check_native, devnet, rpc, start_workers, submit, submit_all, verity,
                         wait_settled)

ROOT = harness.SOURCE_ROOT
DRIVER = os.path.join(ROOT, "tests", "functional", "browser_driver.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGES = os.environ.get("VERITY_PAGES_DIR", "")
ARTIFACTS = os.environ.get("VERITY_TEST_ARTIFACTS", os.getcwd())
PASSPHRASE = "correct horse battery staple"
STAKE = "1000000"  # 10x the devnet minimum: a slash takes 10% and it must still be drawn afterwards


def why_skipped():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        return f"Chromium is not installed ({CHROMIUM}; apt-get install chromium)"
    if not os.path.isdir(os.path.join(ROOT, "web", "node_modules", "puppeteer-core")):
        return "web/node_modules is missing (npm ci --prefix web)"
    if not PAGES or not os.path.exists(os.path.join(PAGES, "worker", "app.js")):
        return f"the pages are not built (VERITY_PAGES_DIR={PAGES!r})"
    # Installed but unable to start here (a missing library, no /dev/shm...): say what it said.
    try:
        probe = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "about:blank"],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Chromium cannot run here: {e}"
    if "<body>" not in probe.stdout:
        return f"Chromium cannot run here (exit {probe.returncode}): {probe.stderr.strip()[-500:]}"
    return None


class Browser:
    """browser_driver.mjs: one JSON command and one JSON answer a line."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", DRIVER, CHROMIUM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        harness._live.append(self.proc)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def __call__(self, cmd, timeout=90, **args):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"browser: no answer to {cmd} in {timeout}s") from None
        if line is None:
            raise AssertionError(f"browser driver exited: {self.proc.stderr.read()[-3000:]}")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise AssertionError(f"browser: {cmd}: {answer.get('error')}")
        return answer

    def quit(self):
        try:
            self("quit", timeout=20)
        except AssertionError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_in_browser(tests):
    """Runs the scenarios, or says why Chromium cannot and exits 77 (skipped)."""
    reason = why_skipped()
    if reason:
        print(f"SKIP: {reason}", flush=True)
        sys.exit(77)
    TestRunner(tests).main()


def registered(c, key):
    """The worker record of `key` once it is active, else None (not registered yet is no error here)."""
    try:
        record = rpc(c, "worker", {"address": key})
    except RuntimeError as e:
        if "not-found" in str(e):
            return None
        raise
    return record if record["active"] else None


def page_task(browser, tid):
    return next((t for t in browser("state")["tasks"] if t["task"] == tid), None)


def the_browser_works_with_native_workers():
    with devnet() as (c, workers):
        workers.extend(start_workers(c, names=("worker-1", "worker-2")))
        node = c.nodes[2]  # not one the native workers use
        url = f"http://127.0.0.1:{node.rpc_port}/worker"
        b = Browser()
        try:
            assert b("open", url=url)["state"] == "none"
            key = b("create_key", passphrase=PASSPHRASE)
            assert not key["error"], key
            me = key["address"]
            assert len(me) == 64, key
            # Funded, then registered by the page itself (it signs register_worker).
            code, out, err = verity(c, "transfer", "--from", "alice", "--to", me, "--amount", "2000000", "--wait")
            assert code == 0, (out, err)
            wait_for("the page shows the balance", lambda: b("state")["texts"]["balance"] == "2000000", 30, c.nodes)
            assert not b("register", stake=STAKE)["error"]
            wait_for("the page's key registered", lambda: registered(c, me), 30, c.nodes)
            wait_for("the page shows it", lambda: b("state")["registered"] == "yes", 30, c.nodes)
            # A second tab with the same key only shows the account: one tab works.
            other = b("second_tab", url=url, passphrase=PASSPHRASE)
            assert other["working"] == "elsewhere" and "another tab" in other["current"], other
            everyone = [w.key for w in workers] + [me]

            # Every example program on one input (TWENTY's first of each), with the native workers.
            jobs = [next(j for j in TWENTY if j[0] == name) for name in ("sort", "sha256", "primes", "matmul", "wc")]
            ids = submit_all(c, jobs, blocks=WIDE)
            tasks = wait_settled(c, ids, workers, timeout=180)
            check_native(jobs, tasks, everyone)  # same result hash: outcome, exit code, output and fuel
            for t in tasks:
                shown = wait_for(f"task {t['id']} settled on the page",
                                 lambda: (page_task(b, t["id"]) or {}).get("phase") == "settled" and page_task(b, t["id"]),
                                 30, c.nodes)
                assert shown["outcome"] == "0" and int(shown["fuel"]) == t["result"]["fuel_used"], (shown, t["result"])
            record = rpc(c, "worker", {"address": me})
            assert record["agreed"] == len(jobs) and record["outvoted"] == 0, record

            # Paused: nothing runs; the task settles with the native workers and the page misses it.
            assert not b("click", id="pause")["error"]
            assert b("state")["paused"] == "yes"
            skipped = submit(c, os.environ["TASK_SORT_WASM"], b"5 6\n", blocks=("80", "80"))  # room for a loaded machine
            t = wait_settled(c, [skipped], workers, timeout=90)[0]
            assert sorted(t["result"]["majority"]) == sorted(w.key for w in workers), t["result"]
            assert page_task(b, skipped) is None, page_task(b, skipped)  # never ran
            assert rpc(c, "worker", {"address": me})["missed"] == record["missed"] + 1
            assert not b("click", id="pause")["error"]
            assert b("state")["paused"] == "no"

            # The lie switch: outvoted by the two native workers and slashed 10%.
            assert b("lie", on=True)["on"]
            before = rpc(c, "worker", {"address": me})
            lied = wait_settled(c, [submit(c, os.environ["TASK_SORT_WASM"], b"9 8 7\n", blocks=WIDE)], workers)[0]
            assert sorted(lied["result"]["majority"]) == sorted(w.key for w in workers), lied["result"]
            after = rpc(c, "worker", {"address": me})
            assert after["outvoted"] == before["outvoted"] + 1, after
            assert int(after["stake"]) == int(before["stake"]) - int(before["stake"]) // 10, (before, after)
            assert "[byzantine: output altered]" in b("state")["log"]
            assert not b("lie", on=False)["on"]

            # A reload between the commitment and the reveal: one native worker is
            # gone, so reveals open only at the commit deadline; meanwhile the page
            # is reloaded and unlocked, and reveals from what it stored.
            workers[1].kill9()
            tid = submit(c, os.environ["TASK_SORT_WASM"], b"3 2 1\n", blocks=("150", "400"))
            wait_for(f"the page committed task {tid}",
                     lambda: (page_task(b, tid) or {}).get("phase") == "committed", 60, c.nodes)
            assert rpc(c, "task", {"id": tid})["status"] == "open"
            assert b("reload")["state"] == "locked"
            wrong = b("unlock", passphrase="not the passphrase")
            assert wrong["state"] == "locked" and "wrong passphrase" in wrong["error"], wrong
            assert b("unlock", passphrase=PASSPHRASE)["state"] == "unlocked"
            t = wait_settled(c, [tid], workers, timeout=120)[0]
            assert t["status"] == "settled", t
            assert sorted(t["result"]["majority"]) == sorted([workers[0].key, me]), t["result"]
            assert bytes.fromhex(t["result"]["output"]) == b"1\n2\n3\n", t["result"]
            shown = wait_for(f"task {tid} settled on the page",
                             lambda: (page_task(b, tid) or {}).get("phase") == "settled" and page_task(b, tid), 30, c.nodes)
            assert shown["outcome"] == "0" and int(shown["fuel"]) == t["result"]["fuel_used"], shown
            state = b("state")
            assert f"task {tid}: revealed" in state["log"], state["log"]

            # The rewards of the first tasks have vested: claimed from the page.
            def vested():
                r = rpc(c, "rewards", {"address": me})
                return int(r["vested"]) > 0 and r
            rewards = wait_for("vested rewards", vested, 120, c.nodes)
            fee = int(rpc(c, "genesis")["params"]["min_fee"])
            balance = int(rpc(c, "account", {"address": me})["balance"])
            assert not b("click", id="claim")["error"]
            wait_for("the claim committed", lambda: int(rpc(c, "account", {"address": me})["balance"]) != balance,
                     30, c.nodes)
            assert int(rpc(c, "account", {"address": me})["balance"]) >= balance + int(rewards["vested"]) - fee
            # Unregistered from the page: no new assignments, the stake unbonds.
            assert not b("click", id="unregister")["error"]
            wait_for("unregistered", lambda: not rpc(c, "worker", {"address": me})["active"], 30, c.nodes)
            wait_for("the page shows it", lambda: b("state")["texts"]["worker-status"].startswith("unbonding"),
                     30, c.nodes)
            state = b("state")
            assert not state["errors"], state["errors"]
            shot = os.path.join(ARTIFACTS, "browser_worker.png")
            b("screenshot", path=shot)
            print(f"screenshot: {shot}", flush=True)
        finally:
            b.quit()


if __name__ == "__main__":
    run_in_browser([the_browser_works_with_native_workers])
