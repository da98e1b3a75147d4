#!/usr/bin/env python3
"""The explorer (/ on the RPC port, web/pages/explorer/) in Debian's headless
Chromium (browser_driver.mjs) on a real devnet (issue 20): after transfers,
a delegation and a task settled by native workers, each view shows what the
RPC returns: the height (and it moves: live updates over the WebSocket), a
block with its transactions, signers and own events, a transfer and a task
submission (its module by size and hash, not hex), balances, a delegation
and an account's history, the validators (a stopped one's missed commits as
the RPC counts them, then its slash once jailed), the task's result as text
with its fuel and each worker's commit and reveal heights, the workers with
their reputation over time; searches
by height, task, hash and validator name find them, and a wrong one says
so. Prints how long each view took to show its data; keeps screenshots of
the main views beside the test log (VERITY_TEST_ARTIFACTS). Skipped, saying
why, where Chromium cannot run.
Run: tests/functional/explorer_test.py with browser_worker_test.py's environment."""

import hashlib
import json
import os

from harness import wait_for
from browser_worker_test import ARTIFACTS, Browser, run_in_browser
from worker_test import devnet, devnet_address, rpc, start_workers, submit, verity

WIDE = ("400", "400")


def digits(text):
    return text.replace(",", "")


def the_explorer_shows_what_the_rpc_returns():
    # A short downtime window: the stopped validator is jailed (slashed) within the test.
    with devnet(params={"downtime_window": 30}) as (c, workers):
        workers.extend(start_workers(c))
        bob, carol = devnet_address("bob"), devnet_address("carol")
        code, out, err = verity(c, "transfer", "--from", "alice", "--to", "bob", "--amount", "1234", "--wait")
        assert code == 0, (out, err)
        transfer = json.loads(out)
        code, out, err = verity(c, "delegate", "--from", "carol", "--validator", "validator-2", "--amount", "5000",
                                "--wait")
        assert code == 0, (out, err)
        tid = submit(c, os.environ["TASK_SORT_WASM"], b"3 1 2\n", blocks=WIDE)
        task = wait_for(f"task {tid} settled", lambda: (t := rpc(c, "task", {"id": tid}))["status"] == "settled" and t,
                        60, c.nodes)
        base = f"http://127.0.0.1:{c.nodes[1].rpc_port}/"
        b = Browser()
        timings = {}

        def show(name, url=None, q=None):
            v = b("search", q=q) if q is not None else b("explore", url=url)
            timings[name] = v["renderMs"]
            return v

        def shot(name):
            b("screenshot", path=os.path.join(ARTIFACTS, f"explorer_{name}.png"))

        try:
            # The dashboard: the height, and live updates over the WebSocket.
            before = rpc(c, "status", node=1)["height"]
            v = show("dashboard", base)
            assert v["view"] == "dashboard", v
            timings["dashboard: its page and script loaded"] = v["scriptMs"]
            timings["dashboard: its figures shown"] = timings.pop("dashboard")
            shown = int(v["fields"]["height"])
            assert before <= shown <= rpc(c, "status", node=1)["height"], (before, shown, v)
            assert "Block interval" in v["text"], v["text"]
            charts = wait_for("the charts", lambda: b("explorer_state")["chartsMs"], 30, c.nodes)
            timings["dashboard: its charts and latest blocks shown"] = charts
            assert "Latest blocks" in b("explorer_state")["text"]
            wait_for("a live block", lambda: b("explorer_state")["liveHeight"] > shown, 30, c.nodes)
            wait_for("the dashboard's height moves", lambda: int(b("explorer_state")["fields"]["height"]) > shown,
                     30, c.nodes)
            shot("dashboard")

            # The transfer: its block lists it, with who signed the certificate.
            height = transfer["receipt"]["height"]
            v = show("block", base + f"#/block/{height}")
            block = rpc(c, "block", {"height": height})
            assert v["fields"]["hash"] == block["hash"] and v["fields"]["height"] == str(height), v
            assert transfer["hash"][:8] in v["text"], v["text"]
            signers = [s.strip() for s in v["fields"]["signers"].split(",")]
            assert len(signers) == len(block["certificate"]["signatures"]) >= 3, (signers, block["certificate"])
            assert all(s.startswith("validator-") for s in signers), signers
            shot("block")
            v = show("tx", base + f"#/tx/{transfer['hash']}")
            assert v["fields"]["type"] == "transfer" and v["fields"]["result"] == "ok", v

            # Accounts: balances as the RPC has them, a delegation.
            v = show("account", base + f"#/account/{bob}")
            assert digits(v["fields"]["balance"]) == rpc(c, "account", {"address": bob})["balance"], v
            # Its history (the `history` method): the transfer alice sent it, as the RPC lists them.
            shown_txs = [r["tx"] for r in v["rows"] if r["row"] == "history"]
            assert transfer["hash"] in shown_txs, v["rows"]
            listed = [e["tx_hash"] or "" for e in rpc(c, "history", {"address": bob, "limit": 25}, node=1)["entries"]]
            assert shown_txs == listed, (shown_txs, listed)
            shot("account")
            v = show("account_carol", base + f"#/account/{carol}")
            dels = rpc(c, "delegations", {"address": carol})["delegations"]
            assert "validator-2" in v["text"] and any(d["value"] for d in dels), (v["text"], dels)

            # The task: its result as text, its fuel; its submission shows the module by size and hash.
            v = show("task", base + f"#/task/{tid}")
            res = task["result"]
            assert v["fields"]["outcome"].startswith("ok") and digits(v["fields"]["fuel"]) == str(res["fuel_used"]), v
            assert v["fields"]["output"] == bytes.fromhex(res["output"]).decode(), v
            # Each worker's commit and reveal heights: as the task's history has them, and the
            # blocks at those heights hold that worker's commit_result and reveal_result.
            history = rpc(c, "history", {"task": tid, "limit": 100}, node=1)["entries"]
            heights = {}
            for e in history:
                for ev in e["events"]:
                    if ev["kind"] in ("task_committed", "task_revealed"):
                        heights[(ev["attributes"]["worker"], ev["kind"])] = e["height"]
            rounds = [r for r in v["rows"] if r["row"] == "round"]
            assert sorted(r["worker"] for r in rounds) == sorted(res["majority"]), (rounds, res)
            for r in rounds:
                assert int(r["committed"]) == heights[(r["worker"], "task_committed")], (r, heights)
                assert int(r["revealed"]) == heights[(r["worker"], "task_revealed")], (r, heights)
                for kind, at in (("commit_result", r["committed"]), ("reveal_result", r["revealed"])):
                    txs = rpc(c, "block", {"height": int(at)})["txs"]
                    assert any(t["sender"] == r["worker"] and t["payload"]["type"] == kind for t in txs), (kind, r)
            shot("task")
            # The block that assigned the task shows the assignment among its own events.
            assigned = next(e["height"] for e in history if any(ev["kind"] == "task_assigned" for ev in e["events"]))
            v = show("block_events", base + f"#/block/{assigned}")
            assert "task_assigned" in v["text"] and f"task={tid}" in v["text"], v["text"]
            submitted = next(t for t in rpc(c, "tasks", {"limit": 5})["tasks"] if t["id"] == tid)
            with open(os.environ["TASK_SORT_WASM"], "rb") as f:
                wasm = f.read()
            # Found by the module's own hash? No: by the submission's transaction, through the block that has it.
            sub_block = rpc(c, "block", {"height": submitted["submitted_height"]})
            sub_tx = next(t for t in sub_block["txs"] if t["payload"]["type"] == "submit_task")
            v = show("submit_task", base + f"#/tx/{sub_tx['hash']}")
            assert v["fields"]["module"] == f"{len(wasm):,} bytes, sha256 {hashlib.sha256(wasm).hexdigest()}", v
            assert wasm[:16].hex() not in v["text"], "the module is shown as hex"

            # Validators, one of them down: its missed blocks in the window, as the RPC counts them.
            c.nodes[3].kill9()

            def missed(name):
                return next(x for x in rpc(c, "validators", node=1)["validators"] if x["name"] == name)["missed_in_window"]
            wait_for("validator-4's misses", lambda: missed("validator-4") >= 3, 60, c.nodes[:3])
            before = missed("validator-4")
            v = show("validators", base + "#/validators")
            after = missed("validator-4")
            assert sorted(v["validators"]) == sorted(x["name"] for x in rpc(c, "validators")["validators"]), v
            shown_missed = dict(zip(v["validators"], v["missed"]))
            assert before <= shown_missed["validator-4"] <= after, (before, shown_missed, after)
            assert shown_missed["validator-1"] < shown_missed["validator-4"], shown_missed
            # Jailed for downtime: one slash, shown as the RPC counts it.

            def slashes(name):
                return next(x for x in rpc(c, "validators", node=1)["validators"] if x["name"] == name)["slashes"]
            wait_for("validator-4 jailed", lambda: slashes("validator-4") == 1, 90, c.nodes[:3])
            v = show("validators_slashed", base + "#/validators")
            shown_slashes = dict(zip(v["validators"], v["slashes"]))
            assert shown_slashes["validator-4"] == 1 and shown_slashes["validator-1"] == 0, shown_slashes
            shot("validators")
            v = show("workers", base + "#/workers")
            assert all(w.key[:8] in v["text"] for w in workers), v["text"]
            v = show("worker", base + f"#/worker/{workers[0].key}")
            record = rpc(c, "worker", {"address": workers[0].key})
            assert v["fields"]["served"] == str(record["agreed"] + record["outvoted"] + record["missed"]), v
            assert v["fields"]["slashes"] == str(record["slashes"]), v
            # Reputation over time: a point per change of its record, as worker_history has them.
            points = rpc(c, "worker_history", {"address": workers[0].key, "limit": 100}, node=1)["points"]
            assert v["points"] == len(points) >= 2, (v["points"], points)
            shot("worker")

            # Searches: a height, a task, a hash, a validator's name; a wrong one says so.
            assert show("search_height", q=str(height))["fields"]["hash"] == block["hash"]
            assert show("search_task", q=f"task {tid}")["fields"]["outcome"].startswith("ok")
            assert show("search_hash", q=transfer["hash"])["fields"]["type"] == "transfer"
            v = show("search_name", q="validator-2")
            assert v["view"] == "search" and "Balance" in v["text"], v
            v = show("search_wrong", q="no-such-thing")
            assert v["notFound"].startswith("Nothing found for"), v
            v = show("search_missing_block", q="99999999")
            assert v["notFound"], v
            assert not b("state")["errors"], b("state")["errors"]
            for name, ms in timings.items():
                since = "the page was asked for" if name.startswith("dashboard") else "the route changed"
                print(f"{name}: {ms:.0f} ms after {since}" if since.startswith("the page") else
                      f"{name}: data shown {ms:.0f} ms after {since}", flush=True)
        finally:
            b.quit()


if __name__ == "__main__":
    run_in_browser([the_explorer_shows_what_the_rpc_returns])
