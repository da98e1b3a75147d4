#!/usr/bin/env python3
"""The staking life cycle through the `verity` client on a real 4-validator
devnet whose genesis shortens the periods (epoch, unbonding and reward lock
of 12 blocks) and mints a block reward: create a validator that waits for
the next epoch and then enters the set (its status says which), an unjail
the client refuses to send, the validator below the minimum stake saying
by how much, delegate, earn rewards, claim them after the lock, unbond, and
withdraw after the unbonding period; every validator agrees on the
balances. Run: tests/functional/staking_test.py (VERITYD=..., VERITY=...)."""

import json
import os
import shutil
import subprocess
import tempfile

from harness import VERITYD, Cluster, TestRunner, wait_for

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))
PERIOD = 12
BOB = "4e690f45108f6566543bc3b917b9f57f91c1d5f3a9dac2f1bc23773136081ee5"


class Client:
    def __init__(self, cluster):
        self.cluster = cluster
        self.home = tempfile.mkdtemp(prefix="verity-staking-home-")

    def raw(self, *args, json_output=True, node=None):
        """Runs verity; returns the finished process, whatever its exit code."""
        rpc = f"http://127.0.0.1:{(node or self.cluster.nodes[0]).rpc_port}"
        env = {k: v for k, v in os.environ.items() if k not in ("VERITY_RPC", "VERITY_PASSPHRASE")}
        return subprocess.run([VERITY, "--home", self.home, "--rpc", rpc, *(["--json"] if json_output else []), *args],
                              capture_output=True, text=True, timeout=90, env=env, stdin=subprocess.DEVNULL)

    def run(self, *args, node=None):
        out = self.raw(*args, node=node)
        assert out.returncode == 0, f"verity {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        return json.loads(out.stdout)

    def tx(self, *args):
        """Sends a transaction with --wait; returns its receipt, which must be ok."""
        r = self.run(*args, "--wait")
        receipt = r["receipt"]
        assert receipt["ok"], f"{args}: {receipt}"
        return receipt

    def failing_tx(self, *args):
        """Sends a transaction with --wait that commits but fails: exit 1, and the receipt's reason.
        --force: the client would not send what its simulation says fails; these test the chain."""
        rpc = f"http://127.0.0.1:{self.cluster.nodes[0].rpc_port}"
        out = subprocess.run([VERITY, "--home", self.home, "--rpc", rpc, "--json", *args, "--force", "--wait"],
                             capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
        assert out.returncode == 1, f"verity {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        receipt = json.loads(out.stdout)["receipt"]
        assert not receipt["ok"], receipt
        return receipt["reason"]

    def balance(self, who, node=None):
        return int(self.run("balance", who, node=node)["balance"])

    def validator(self, name):
        for x in self.run("validators")["validators"]:
            if x["name"] == name:
                return x
        raise AssertionError(f"no validator named {name}")

    def height(self):
        return self.run("status")["height"]

    def close(self):
        shutil.rmtree(self.home, ignore_errors=True)


def staking_life_cycle():
    c = Cluster(params={"epoch_blocks": PERIOD, "unbonding_blocks": PERIOD, "reward_lock_blocks": PERIOD,
                        "block_reward": "1000"}).start()
    v = Client(c)
    try:
        wait_for("height 2", lambda: all(n.height() >= 2 for n in c.nodes), 60, c.nodes)
        validators = {x["name"]: x for x in v.run("validators")["validators"]}
        target = validators["validator-1"]["operator"]

        # dave becomes a validator (bob's key stands in as a consensus key no
        # node runs); it joins the set at the next epoch boundary.
        receipt = v.tx("create-validator", "--from", "dave", "--consensus-key", BOB, "--stake", "1000000",
                       "--name", "dave-validator")
        created_at = receipt["height"]
        dave = v.validator("dave-validator")
        assert dave["name"] == "dave-validator" and dave["tokens"] == "1000000", dave
        boundary = (created_at // PERIOD + 1) * PERIOD
        if created_at % PERIOD != 0:
            assert not dave["in_set"], dave
            # It qualifies, and the node says when it joins.
            assert dave["status"] == "waiting" and dave["next_epoch_boundary"] == boundary, dave
        wait_for("dave's validator in the set after the epoch boundary",
                 lambda: v.validator("dave-validator")["in_set"], 60, c.nodes)
        assert v.height() >= boundary
        dave = v.validator("dave-validator")
        assert dave["power"] == 1000000 and dave["status"] == "active", dave

        # An unjail the chain would refuse (dave's validator is not jailed) is
        # not sent: exit 1, the reason and why on stderr, the nonce unused.
        nonce = v.run("account", "dave")["next_nonce"]
        out = v.raw("unjail", "--from", "dave", "--wait")
        error = json.loads(out.stderr.splitlines()[-1])  # --json: the error is a JSON object on stderr
        assert out.returncode == 1 and error["reason"] == "not-jailed" and "nothing was sent" in error["detail"], out
        assert v.run("account", "dave")["next_nonce"] == nonce
        # dave unbonds 1 of its 1000000, the devnet's minimum stake: the
        # validator says what it lacks, and keeps its power until the boundary
        # (it never signs: bob's key stands in for its consensus key).
        v.tx("unbond", "--from", "dave", "--validator", "dave-validator", "--amount", "1")
        dave = v.validator("dave-validator")
        assert dave["status"] == "below-min-stake" and dave["missing_stake"] == "1", dave
        table = v.raw("validators", json_output=False)
        assert table.returncode == 0 and "below min stake by 1" in table.stdout, table

        # carol delegates to validator-1 and earns part of the block reward.
        carol0 = v.balance("carol")
        v.tx("delegate", "--from", "carol", "--validator", target, "--amount", "3000000")
        assert v.balance("carol") == carol0 - 3000000
        ds = v.run("delegations", "carol")["delegations"]
        assert len(ds) == 1 and ds[0]["validator"] == target and ds[0]["value"] == "3000000", ds
        wait_for("carol's rewards accrue", lambda: int(v.run("rewards", "carol")["locked"]) > 0, 60, c.nodes)
        # Nothing vests before the lock has passed; then claim pays what vested.
        wait_for("carol's rewards vest after the lock", lambda: int(v.run("rewards", "carol")["vested"]) > 0,
                 90, c.nodes)
        before = v.balance("carol")
        vested = int(v.run("rewards", "carol")["vested"])
        v.tx("claim", "--from", "carol")
        after = v.balance("carol")
        assert after - before >= vested > 0, (before, vested, after)

        # carol unbonds part; withdraw pays it only after the unbonding period.
        receipt = v.tx("unbond", "--from", "carol", "--validator", target, "--amount", "1000000")
        entries = v.run("delegations", "carol")["unbonding"]
        assert len(entries) == 1 and entries[0]["amount"] == "1000000", entries
        done_at = entries[0]["completion_height"]
        assert done_at >= receipt["height"] + PERIOD - 1, (done_at, receipt)
        early = v.balance("carol")
        if v.height() + 1 < done_at:
            assert v.failing_tx("withdraw", "--from", "carol") == "nothing-to-withdraw"  # too early
            assert v.balance("carol") == early
        wait_for("the unbonding period passes", lambda: v.height() >= done_at, 90, c.nodes)
        v.tx("withdraw", "--from", "carol")
        assert v.balance("carol") == early + 1000000
        assert v.run("delegations", "carol")["unbonding"] == []
        final = v.balance("carol")
        wait_for("every validator sees carol's balance",
                 lambda: all(v.balance("carol", node=n) == final for n in c.nodes), 20, c.nodes)
    finally:
        v.close()
        c.stop()


if __name__ == "__main__":
    TestRunner([staking_life_cycle]).main()
