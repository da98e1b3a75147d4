#!/usr/bin/env python3
"""Functional tests of what an operator relies on (docs/operators.md):
encrypted key files, and the refusal of key files other users may read.
Real verityd processes on 127.0.0.1 (harness.py).
Run: tests/functional/ops_test.py [TEST ...] (VERITYD=..., VERITY_SOURCE_ROOT=...)."""

import contextlib
import json
import os
import shutil
import subprocess

from harness import VERITYD, Cluster, TestRunner, run_ok, wait_for

PASSPHRASE = "correct horse battery staple"


@contextlib.contextmanager
def cluster():
    """A 4-validator devnet (not started), stopped and removed at the end."""
    c = Cluster()
    try:
        yield c
    finally:
        c.stop()


def secret_file(path, text, mode=0o600):
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
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def start_fails(home, env=None):
    """verityd start's exit code and stderr, for a start expected to fail at once."""
    out = subprocess.run([VERITYD, "start", "--home", home], capture_output=True, text=True, timeout=60,
                         env=env, stdin=subprocess.DEVNULL)
    assert out.returncode != 0, f"verityd start succeeded: {out.stderr}"
    return out.returncode, out.stderr


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


if __name__ == "__main__":
    TestRunner([test_encrypted_keys, test_key_files_others_may_read_stop_the_node]).main()
