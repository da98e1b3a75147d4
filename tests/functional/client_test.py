#!/usr/bin/env python3
"""Functional tests of the `verity` client against a real 4-validator devnet
on 127.0.0.1: transactions signed by the client and committed, balances seen
by every validator, staking, account proofs checked by the client, key
files, and the exit codes of its errors.
Run: tests/functional/client_test.py [TEST ...] (VERITYD=..., VERITY=..., VERITY_SOURCE_ROOT=...)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request

from harness import VERITYD, Cluster, TestRunner, wait_for

VERITY = os.environ.get("VERITY", os.path.join(os.path.dirname(VERITYD), "verity"))



class Devnet:
    """A 4-validator devnet and a client home for one test; both go away at the end.
    `params`: protocol parameters to change in its genesis."""

    def __init__(self, params=None):
        self.params = params

    def __enter__(self):
        self.cluster = Cluster(params=self.params).start()
        self.nodes = self.cluster.nodes
        self.home = tempfile.mkdtemp(prefix="verity-client-home-")
        wait_for("height 2 on every validator", lambda: all(n.height() >= 2 for n in self.nodes), 60, self.nodes)
        return self

    def __exit__(self, *exc):
        self.cluster.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def verity(self, *args, node=None, env=None, timeout=60):
        """Runs the client against `node` (default validator-1); returns (exit code, stdout, stderr)."""
        full_env = dict(os.environ)
        full_env.pop("VERITY_RPC", None)
        full_env.pop("VERITY_PASSPHRASE", None)
        full_env["VERITY_KEYSTORE_SCRYPT_N"] = "1024"  # fast key files; the default is 2^15
        full_env["VERITY_GENESIS"] = self.cluster.genesis  # where --prove starts from
        full_env.update(env or {})
        rpc = f"http://127.0.0.1:{(node or self.nodes[0]).rpc_port}"
        out = subprocess.run([VERITY, "--home", self.home, "--rpc", rpc, *args], capture_output=True, text=True,
                             timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
        return out.returncode, out.stdout, out.stderr

    def ok(self, *args, **kw):
        code, out, err = self.verity(*args, **kw)
        assert code == 0, f"verity {' '.join(args)} exited {code}:\n{out}\n{err}"
        return out

    def json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def balance(self, who, node=None):
        return int(self.json("balance", who, node=node)["balance"])

    def new_key(self, name, passphrase="pw"):
        return self.json("keys", "new", name, env={"VERITY_PASSPHRASE": passphrase})["address"]

    def rpc(self, method, params):
        """The node's JSON-RPC answer (result or error) to one call, on validator-1."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.nodes[0].rpc_port}/", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def usable_validator(self):
        """(name, operator) of a validator in the set and not jailed (on a devnet, a validator
        whose votes keep arriving last can be jailed for downtime)."""
        for v in self.json("validators")["validators"]:
            if v["in_set"] and not v["jailed"] and not v["banned"]:
                return v["name"], v["operator"]
        raise AssertionError("no usable validator")


# --- the tests --------------------------------------------------------------------------


def transfer_wait_changes_balances_on_every_validator():
    with Devnet() as d:
        wait_for("validators agree on the balances",
                 lambda: len({(d.balance("alice", n), d.balance("bob", n)) for n in d.nodes}) == 1, 20, d.nodes)
        alice0, bob0 = d.balance("alice"), d.balance("bob")
        out = d.ok("transfer", "--from", "alice", "--to", "bob", "--amount", "12345", "--wait")
        assert "committed at height" in out and ": ok" in out, out
        for n in d.nodes:
            wait_for(f"{n.name} sees the transfer",
                     lambda n=n: (d.balance("alice", n), d.balance("bob", n)) == (alice0 - 12345, bob0 + 12345), 20,
                     d.nodes)
        # --json: the raw send_tx_commit result; sent through another validator, read at a third.
        res = d.json("transfer", "--from", "bob", "--to", "alice", "--amount", "45", "--wait", node=d.nodes[2])
        assert res["receipt"]["ok"] is True and res["height"] >= 1, res
        wait_for("the tx is committed at validator-4",
                 lambda: d.json("tx", res["hash"], node=d.nodes[3])["status"] == "committed", 20, d.nodes)
        assert d.json("tx", res["hash"], node=d.nodes[3])["tx"]["payload"]["type"] == "transfer"
        for n in d.nodes:
            wait_for(f"{n.name} sees the second transfer",
                     lambda n=n: (d.balance("alice", n), d.balance("bob", n)) == (alice0 - 12300, bob0 + 12300), 20,
                     d.nodes)


def delegate_unbond_and_proofs_verify():
    with Devnet() as d:
        name, operator = d.usable_validator()
        out = d.ok("delegate", "--from", "carol", "--validator", name, "--amount", "5000", "--wait")
        assert "committed at height" in out and ": ok" in out, out
        dl = d.json("delegations", "carol")
        assert any(x["validator"] == operator and int(x["value"]) == 5000 for x in dl["delegations"]), dl
        out = d.ok("unbond", "--from", "carol", "--validator", operator, "--amount", "2000", "--wait")
        assert ": ok" in out, out
        dl = d.json("delegations", "carol")
        assert any(x["validator"] == operator and int(x["value"]) == 3000 for x in dl["delegations"]), dl
        assert any(u["validator"] == operator and int(u["amount"]) == 2000 for u in dl["unbonding"]), dl
        # A devnet validator's operator signs by its name too (validator-N is funded at its insecure key).
        op = d.json("delegate", "--from", name, "--validator", name, "--amount", "7", "--wait")
        assert op["receipt"]["ok"] is True, op
        # Withdrawing before the unbonding period ends would fail: not sent, exit 1, with the reason.
        code, out, err = d.verity("withdraw", "--from", "carol", "--wait")
        assert code == 1, (code, out, err)
        assert "nothing-to-withdraw" in err and "nothing was sent" in err, err
        # Proofs, checked by the client, from every validator.
        for n in d.nodes:
            out = d.ok("account", "carol", "--prove", node=n)
            assert "proof verified at height" in out, out
        res = d.json("account", "bob", "--prove", node=d.nodes[1])
        assert res["proof"]["value"] is not None, res
        # An account that never existed is proven absent.
        out = d.ok("account", d.new_key("never-funded"), "--prove")
        assert "does not exist" in out and "proof verified at height" in out, out


def key_files_sign_transactions():
    with Devnet() as d:
        address = d.new_key("mykey", "s3cret")
        listed = {k["name"]: k for k in d.json("keys", "list")}
        assert listed["mykey"]["address"] == address, listed
        assert listed["mykey"]["file"] == os.path.join(d.home, "keys", "mykey.json"), listed
        assert os.stat(os.path.join(d.home, "keys", "mykey.json")).st_mode & 0o777 == 0o600
        d.ok("transfer", "--from", "dave", "--to", "mykey", "--amount", "1000", "--wait")
        assert d.balance("mykey") == 1000
        code, out, err = d.verity("transfer", "--from", "mykey", "--to", "dave", "--amount", "1", "--wait",
                                  env={"VERITY_PASSPHRASE": "wrong"})
        assert code == 1 and "bad-passphrase" in err, (code, err)
        pass_file = os.path.join(d.home, "pass.txt")
        with open(pass_file, "w") as f:
            f.write("s3cret\n")
        os.chmod(pass_file, 0o600)
        out = d.ok("transfer", "--from", "mykey", "--to", "dave", "--amount", "400", "--wait",
                   "--passphrase-file", pass_file)
        assert ": ok" in out, out
        for n in d.nodes:
            wait_for(f"{n.name} sees mykey's balance", lambda n=n: d.balance(address, n) == 600, 20, d.nodes)


def errors_say_what_to_do_and_exit_codes_differ():
    with Devnet() as d:
        # An unknown key name: exit 1, and how to create it.
        code, out, err = d.verity("transfer", "--from", "nosuchkey", "--to", "bob", "--amount", "1")
        assert code == 1, (code, err)
        assert "no key named 'nosuchkey'" in err and "verity keys new nosuchkey" in err, err
        # A name the genesis does not fund at that name's insecure key is no key either.
        code, out, err = d.verity("transfer", "--from", "validator-1-consensus", "--to", "bob", "--amount", "1")
        assert code == 1 and "no key named" in err, err
        # A bad amount: a usage error, exit 2, naming the option.
        for amount in ["12x", "-1", "1.5", "18446744073709551616", ""]:
            code, out, err = d.verity("transfer", "--from", "alice", "--to", "bob", "--amount", amount)
            assert code == 2 and "--amount" in err, (amount, code, err)
        # Rejected by the mempool: exit 1, the reason, and what to do.
        code, out, err = d.verity("transfer", "--from", "alice", "--to", "bob", "--amount", str(2 ** 63))
        assert code == 1 and "[insufficient-funds]" in err and "verity balance alice" in err, err
        # Not found: exit 1.
        code, out, err = d.verity("tx", "ab" * 32)
        assert code == 1 and "[not-found]" in err, err
        # --json: an error is one JSON object on stderr, with the exit code.
        code, out, err = d.verity("--json", "tx", "ab" * 32)
        e = json.loads(err)
        assert code == 1 and e["reason"] == "not-found" and e["exit_code"] == 1 and e["command"] == "tx", err
        code, out, err = d.verity("--json", "transfer", "--from", "alice", "--to", "bob", "--amount", "12x")
        assert code == 2 and json.loads(err)["exit_code"] == 2 and "--amount" in json.loads(err)["detail"], err
        # --chain-id: a node on another chain is refused; on its own it answers.
        code, out, err = d.verity("--chain-id", "another-1", "transfer", "--from", "alice", "--to", "bob",
                                  "--amount", "1")
        assert code == 1 and "[wrong-chain]" in err and "another-1" in err, err
        st = d.json("--chain-id", d.json("status")["chain_id"], "status")
        assert st["catching_up"] is False and st["best_known_height"] >= st["height"] >= 1, st
        # An unreachable node: exit 3, naming the URL and --rpc.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        s.close()
        for args in (["status"], ["transfer", "--from", "alice", "--to", "bob", "--amount", "1"]):
            out = subprocess.run([VERITY, "--home", d.home, "--rpc", url, *args], capture_output=True, text=True,
                                 timeout=30, stdin=subprocess.DEVNULL)
            assert out.returncode == 3, (args, out.returncode, out.stderr)
            assert url in out.stderr and "--rpc" in out.stderr, out.stderr


def mistakes_are_simulated_first_and_cost_nothing():
    """The client has the node simulate every transaction (`simulate`): what the chain would refuse
    is not sent, so it pays no fee and uses no nonce; --dry-run sends nothing; --force sends it, and
    it fails in its block and pays. The fee defaults to the chain's min_fee."""
    with Devnet(params={"min_fee": "2"}) as d:
        name, _ = d.usable_validator()
        start = d.json("balance", "alice")
        out = d.ok("delegate", "--from", "alice", "--validator", name, "--amount", "100", "--wait")
        assert "fee 2 (the chain's min_fee)" in out, out
        funded = d.json("balance", "alice")
        assert int(start["balance"]) - int(funded["balance"]) == 102, (start, funded)
        bob = d.json("balance", "bob")["address"]
        for args, reason in [
            (["unbond", "--from", "alice", "--validator", name, "--amount", "1000000"], "insufficient-delegation"),
            (["create-validator", "--from", "alice", "--consensus-key", bob, "--stake", "1", "--name", "x"],
             "stake-too-low"),
            (["register-worker", "--from", "alice", "--stake", "1"], "stake-too-low"),
            (["claim", "--from", "alice"], "nothing-to-claim"),
            (["withdraw", "--from", "alice"], "nothing-to-withdraw"),
        ]:
            code, out, err = d.verity(*args, "--wait")
            assert code == 1 and f"[{reason}]" in err and "nothing was sent" in err, (args, code, out, err)
        def account():
            a = d.json("balance", "alice")
            return a["balance"], a["nonce"]
        assert account() == (funded["balance"], funded["nonce"]), "a refused transaction changed the account"

        # --dry-run: what it would do, and nothing sent.
        dry = d.json("transfer", "--from", "alice", "--to", "bob", "--amount", "5", "--dry-run")
        sim = dry["simulation"]
        assert sim["ok"] and sim["pays_fee"] and sim["fee_paid"] == "2" and sim["fee_required"] == "2", sim
        assert [e["kind"] for e in sim["events"]] == ["transfer"], sim
        assert account() == (funded["balance"], funded["nonce"])

        # The node's simulate itself: the signed transaction; one changed after signing; an estimate
        # without the signature; a low fee; another chain; a nonce ahead (pending) and one behind.
        tx = dry["tx"]
        assert d.rpc("simulate", {"tx": tx})["result"]["ok"]
        for changed, unsigned, reason in [
            ({"fee": "7"}, False, "bad-signature"),
            ({"fee": "7"}, True, ""),
            ({"fee": "1"}, True, "fee-too-low"),
            ({"chain_id": "another-chain"}, True, "wrong-chain-id"),
            ({"nonce": tx["nonce"] + 3}, True, ""),
            ({"nonce": tx["nonce"] - 1}, True, "bad-nonce"),
        ]:
            r = d.rpc("simulate", {"tx": {**tx, **changed}, "unsigned": unsigned})["result"]
            assert r["reason"] == reason and r["ok"] == (reason == ""), (changed, unsigned, r)
            assert r["pays_fee"] == (reason == ""), r
        assert d.rpc("simulate", {"tx": {**tx, "bogus": 1}})["error"]["code"] == -32602
        assert account() == (funded["balance"], funded["nonce"])

        # --force: sent anyway, committed as failed, and it pays its fee.
        code, out, err = d.verity("unbond", "--from", "alice", "--validator", name, "--amount", "1000000", "--force",
                                  "--wait")
        assert code == 1 and "FAILED: insufficient-delegation" in out and "[insufficient-delegation]" in err, (out, err)
        forced = d.json("balance", "alice")
        assert forced["nonce"] == funded["nonce"] + 1 and int(funded["balance"]) - int(forced["balance"]) == 2, forced


if __name__ == "__main__":
    TestRunner([transfer_wait_changes_balances_on_every_validator, delegate_unbond_and_proofs_verify,
                key_files_sign_transactions, errors_say_what_to_do_and_exit_codes_differ,
                mistakes_are_simulated_first_and_cost_nothing]).main()
