#!/usr/bin/env python3
"""`verity-worker exec` as a task author uses it (docs/worker.md, "Running a
task locally"): every example task on every engine prints what the native
build prints, byte for byte, with the same summary (outcome, exit code, fuel,
result hash) on every engine; --json carries the same figures; out of fuel
is reported as an outcome (exit 0); usage errors exit 2 and a missing file 1.
The installed layout is not needed: the build's verity-sandbox and web/ are
given through VERITY_SANDBOX_RUNNER and VERITY_WEB_DIR."""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

WORKER = os.environ["VERITY_WORKER"]
EXAMPLES = os.environ["VERITY_EXAMPLES"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(args, stdin_file=None, timeout=120):
    return subprocess.run([WORKER, "exec", *args], capture_output=True, timeout=timeout)


SUMMARY = re.compile(rb"outcome=(\S+) exit_code=(\d+) fuel_used=(\d+) result_hash=([0-9a-f]{64}) engine=(\S+)")


def main():
    rng = random.Random(int(os.environ.get("VERITY_SEED", "7")))
    engines = ["interp", "aot"] + (["node"] if shutil.which("node") else [])
    if "node" not in engines:
        print("note: no node on PATH; the node engine is not exercised")
    tmp = tempfile.mkdtemp(prefix="verity-exec-")
    cache = os.path.join(tmp, "cache")
    try:
        inputs = {
            "sort": " ".join(str(rng.randint(-10**12, 10**12)) for _ in range(2000)).encode(),
            "sha256": bytes(rng.getrandbits(8) for _ in range(50000)),
            "primes": b"50000\n",
            "matmul": b"25\n",
            "wc": b"a few words\nand lines\n" * 500,
        }
        for task, data in inputs.items():
            path = os.path.join(tmp, task + ".in")
            with open(path, "wb") as f:
                f.write(data)
            native = subprocess.run([os.path.join(EXAMPLES, task + "_native")], input=data, capture_output=True)
            summaries = {}
            for engine in engines:
                r = run([os.path.join(EXAMPLES, task + ".wasm"), "--input", path, "--engine", engine, "--cache", cache])
                check(r.returncode == 0, f"{task} on {engine}: exit {r.returncode}: {r.stderr[-300:]!r}")
                check(r.stdout == native.stdout, f"{task} on {engine}: stdout differs from the native build")
                m = SUMMARY.search(r.stderr.splitlines()[-1] if r.stderr else b"")
                check(m is not None, f"{task} on {engine}: no summary line in {r.stderr[-200:]!r}")
                if m:
                    check(m.group(5).decode() == engine, f"{task} on {engine}: ran on {m.group(5)!r}")
                    summaries[engine] = m.group(1, 2, 3, 4)
                j = run([os.path.join(EXAMPLES, task + ".wasm"), "--input", path, "--engine", engine, "--cache", cache,
                         "--json"])
                check(j.returncode == 0, f"{task} --json on {engine}: exit {j.returncode}")
                doc = json.loads(j.stdout)
                for key in ("outcome", "exit_code", "fuel_used", "result_hash", "engine", "stdout_hex", "compile_ms",
                            "run_ms", "metered_hash"):
                    check(key in doc, f"{task} --json on {engine}: no {key}")
                check(bytes.fromhex(doc["stdout_hex"]) == native.stdout, f"{task} --json on {engine}: stdout_hex")
                if m:
                    check((doc["outcome"].encode(), str(doc["exit_code"]).encode(), str(doc["fuel_used"]).encode(),
                           doc["result_hash"].encode()) == m.group(1, 2, 3, 4), f"{task} --json on {engine}: figures")
            check(len(set(summaries.values())) == 1, f"{task}: the engines disagree: {summaries}")
            print(f"ok: {task} on {', '.join(engines)}: {summaries.get('interp')}", flush=True)

        # Too little fuel: an outcome like any other, the same everywhere.
        outs = set()
        for engine in engines:
            r = run([os.path.join(EXAMPLES, "primes.wasm"), "--input", os.path.join(tmp, "primes.in"), "--fuel", "100000",
                     "--engine", engine, "--cache", cache])
            check(r.returncode == 0, f"out of fuel on {engine}: exit {r.returncode}")
            m = SUMMARY.search(r.stderr)
            check(m is not None and m.group(1) == b"out-of-fuel" and m.group(3) == b"100000",
                  f"out of fuel on {engine}: {r.stderr[-200:]!r}")
            outs.add(m.group(4) if m else None)
        check(len(outs) == 1, "out of fuel: result hashes differ between engines")

        # Usage errors exit 2 and say so.
        for bad, why in ((["--fuel", "0", "x.wasm"], "zero fuel"), (["--engine", "jit", "x.wasm"], "unknown engine"),
                         ([], "no module"), (["a.wasm", "b.wasm"], "two modules"), (["--fuel", "1", "--fuel", "2", "x.wasm"],
                                                                                     "a repeated option"),
                         (["--bogus", "x.wasm"], "an unknown option")):
            r = run(bad)
            check(r.returncode == 2, f"{why}: exit {r.returncode}, not 2")
            check(b"verity-worker exec:" in r.stderr, f"{why}: says nothing useful: {r.stderr!r}")
        r = run([os.path.join(tmp, "missing.wasm")])
        check(r.returncode == 1 and b"cannot read" in r.stderr, f"a missing file: exit {r.returncode}")
        with open(os.path.join(tmp, "junk.wasm"), "wb") as f:
            f.write(b"not wasm at all")
        r = run([os.path.join(tmp, "junk.wasm")])
        check(r.returncode == 0 and b"outcome=invalid-module" in r.stderr, f"junk: {r.returncode} {r.stderr!r}")
        r = subprocess.run([WORKER, "exec", "--help"], capture_output=True)
        check(r.returncode == 0 and r.stdout.startswith(b"Usage: verity-worker exec"), "exec --help")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
