#!/usr/bin/env python3
"""Writes bench/REPORT.md from the raw outputs scripts/bench collected.

  bench/report.py DIR > bench/REPORT.md

DIR holds one file per benchmark (node.txt, flood.txt, consensus.txt, state.txt,
sandbox.txt, rpc.txt, core.txt, mempool.txt) and machine.txt. The headline
table takes each figure from its benchmark's printed lines (a range over the
runs: min - max); the raw outputs follow, so every figure can be traced.
Figures only: nothing is asserted."""

import os
import re
import sys

SECTIONS = [
    ("node", "Node: finalized transfers on a 4-validator devnet (bench/node_load.py)"),
    ("flood", "A hostile client against one validator (bench/flood.py)"),
    ("consensus", "PBFT engine alone, instant network (build/bench/consensus_bench)"),
    ("state", "apply_block and the state map, LevelDB (build/bench/state_bench)"),
    ("disk", "Disk of a node under a steady load, pruning against archive (bench/disk_run.py)"),
    ("sandbox", "WASM sandbox against native and Node.js (build/bench/sandbox_bench)"),
    ("rpc", "JSON-RPC against nginx (bench/rpc_bench.sh)"),
    ("mempool", "Mempool (build/bench/mempool_bench)"),
    ("core", "Signatures, hashing, encoding (build/bench/core_bench)"),
]


def read(d, name):
    try:
        with open(os.path.join(d, name + ".txt")) as f:
            return f.read()
    except OSError:
        return ""


def span(values, fmt="{:,.0f}", unit="", noun="run"):
    if not values:
        return "not measured (see the raw output)"
    lo, hi = min(values), max(values)
    text = fmt.format(lo) if lo == hi else f"{fmt.format(lo)} - {fmt.format(hi)}"
    return f"{text}{unit} ({len(values)} {noun}{'s' if len(values) > 1 else ''})"


def by_run(lines):
    """(label, line) for each line of node.txt, label being the "run N, ..." line it belongs to."""
    label = ""
    for l in lines:
        if l.startswith("run "):
            label = l
        yield label, l


def floats(pattern, text, group=1):
    return [float(m.group(group).replace(",", "")) for m in re.finditer(pattern, text, re.M)]


def headline(d):
    rows = []
    node = read(d, "node")
    steady = [l for l in node.splitlines() if ", steady " in l]
    sat = [l for l in node.splitlines() if ", saturation " in l]
    rows.append(("finalized transfers/s at saturation", span(floats(r": ([\d.]+) tx/s;", "\n".join(sat)))))
    rows.append(("submit-to-final latency at a steady rate, p50",
                 span(floats(r"latency p50 ([\d.]+) ms", "\n".join(steady)), "{:.1f}", " ms")))
    rows.append(("same, p99", span(floats(r"p99 ([\d.]+) ms", "\n".join(steady)), "{:.1f}", " ms")))
    steady_all = "\n".join(l for label, l in by_run(node.splitlines()) if ", steady " in label)
    to_proposal = span(floats(r"submit to the proposal that carried it p50 ([\d.]+) ms", steady_all), "{:.1f}", " ms")
    from_proposal = span(floats(r"that proposal to seen final p50 ([\d.]+) ms", steady_all), "{:.1f}", " ms")
    rows.append(("of the p50: submit to the proposal that carried it / that proposal to seen final",
                 f"{to_proposal} / {from_proposal}"))
    rows.append(("steady rate: a transaction relayed back by another validator (mempools spreading it), p50",
                 span(floats(r"relayed back by another validator after p50 ([\d.]+) ms", steady_all), "{:.1f}", " ms")))
    rows.append(("signature bound (cores x one core's verifications/s / 4 validators), at the start",
                 span(floats(r"^signature bound: .* = (\d+) tx/s", node), noun="measurement")))
    rows.append(("same, around each saturation run (mean of just before and just after)",
                 span(floats(r"of the signature bound \((\d+) tx/s", node))))
    rows.append(("saturation figure / that run's signature bound",
                 span(floats(r"([\d.]+) of the signature bound", node), "{:.2f}")))
    mem_idle, mem_peak, disk_sat, disk_steady = [], [], [], []
    cpu_sat, status_p50, status_p99, status_failed = [], [], [], []
    for label, l in by_run(node.splitlines()):
        m = re.search(r"CPU per committed transaction: ([\d, ]+) us", l)
        if m and ", saturation " in label:
            cpu_sat.extend(float(x) for x in m.group(1).split(","))
        m = re.search(r"status during the run: \d+ answered, (\d+) failed; p50 ([\d.]+) ms, p99 ([\d.]+) ms", l)
        if m and ", saturation " in label:
            status_failed.append(float(m.group(1)))
            status_p50.append(float(m.group(2)))
            status_p99.append(float(m.group(3)))
        m = re.search(r"resident memory now ([\d, ]+) MB; peak (\d+) MB", l)
        if m and ", steady " in label:
            mem_idle.extend(float(x) for x in m.group(1).split(","))
        elif m:
            mem_peak.append(float(m.group(2)))
        m = re.search(r"disk growth per committed transaction: ([\d, ]+) bytes", l)
        if m:
            (disk_sat if ", saturation " in label else disk_steady).extend(float(x) for x in m.group(1).split(","))
    per = "validator-run"
    rows.append(("resident memory per validator after the steady run", span(mem_idle, "{:.0f}", " MB", per)))
    rows.append(("peak resident memory of the 4 validators at saturation", span(mem_peak, "{:.0f}", " MB")))
    rows.append(("disk bytes per committed transfer, full blocks (saturation)", span(disk_sat, "{:.0f}", " B", per)))
    rows.append(("same at the steady rate (empty blocks included)", span(disk_steady, "{:.0f}", " B", per)))
    rows.append(("CPU per committed transfer per validator at saturation (all its threads)",
                 span(cpu_sat, "{:.0f}", " us", per)))
    rows.append(("`status` on a validator during saturation, p50 / p99",
                 f"{span(status_p50, '{:.1f}', ' ms')} / {span(status_p99, '{:.1f}', ' ms')}; "
                 f"failed calls {span(status_failed, '{:.0f}')}"))

    flood = read(d, "flood")
    ok = re.findall(r"honest client .*?: (\d+) of (\d+) succeeded; p50 ([\d.]+) ms, p99 ([\d.]+) ms", flood)
    if ok:
        rows.append(("flood: honest `status` calls that succeeded", ", ".join(f"{a} of {b}" for a, b, _, _ in ok)))
        rows.append(("flood: honest `status` p50 / p99", f"{span([float(x[2]) for x in ok], '{:.1f}', ' ms')} / "
                                                          f"{span([float(x[3]) for x in ok], '{:.1f}', ' ms')}"))
    blocks = re.findall(r"blocks committed in \d+ s: (\d+) before the flood, (\d+) during it", flood)
    if blocks:
        rows.append(("flood: blocks committed before / during (same time)", ", ".join(f"{a} / {b}" for a, b in blocks)))

    consensus = read(d, "consensus")
    rows.append(("PBFT engine heights/s, 4 validators", span(floats(r"^4\s+\d+\s+([\d.]+)", consensus), "{:.1f}")))
    rows.append(("PBFT engine heights/s, 16 validators", span(floats(r"^16\s+\d+\s+([\d.]+)", consensus), "{:.1f}")))

    state = read(d, "state")
    rows.append(("apply_block tx/s, 10,000-transfer blocks, signatures checked, with commit",
                 span(floats(r"^10000\s+checked\s+\d+\s+[\d.]+\s+(\d+)", state))))
    rows.append(("same, signatures already checked (mempool)",
                 span(floats(r"^10000\s+skipped\s+\d+\s+[\d.]+\s+(\d+)", state))))
    # entries, updates/s, sustained/s, settle s, reads/update, apply/flush/write ms, anon MiB, disk MiB,
    # proof bytes, depth
    maps = re.findall(r"^(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+([\d.]+)(?:\s+[\d.]+){7}$", state, re.M)
    if maps:
        top = max(int(m[0]) // 1000 for m in maps)  # the largest size, whatever the last batch's rounding
        at_top = [m for m in maps if int(m[0]) // 1000 == top]
        reads = sorted({m[3] for m in at_top})
        rows.append((f"state-map updates/s, map of {top * 1000:,} entries, 10 batches of 1,000",
                     f"{span([float(m[1]) for m in at_top])}; {' - '.join(reads)} store reads an update"))
        rows.append(("same, 100 batches at once (LevelDB's compactions included)",
                     span([float(m[2]) for m in at_top])))
    # versions, archive MiB, pruned MiB, prune ms/version, nodes deleted
    prune = re.findall(r"^(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+\d+$", state, re.M)
    if prune:
        v, archive, pruned, ms = prune[-1]
        rows.append((f"state map of 100,000 entries after {int(v):,} versions: disk, archive / pruned to 100 versions",
                     f"{int(archive):,} / {int(pruned):,} MiB; pruning {ms} ms a version"))

    disk = read(d, "disk")
    samples = {}
    for m in re.finditer(r"^\s+(pruned|archive)\s+(\d+) s\s+height\s+(\d+)\s+chain\s+([\d.]+) MiB", disk, re.M):
        samples.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3)), float(m.group(4))))
    if samples.get("pruned") and samples.get("archive"):
        pruned, archive = samples["pruned"], samples["archive"]
        late = [mib for t, _, mib in pruned if t >= pruned[-1][0] / 2]
        rows.append(("a validator's `data/chain` under a steady load: pruned (100 versions, 100 blocks), second half "
                     "of the run / archive at the end",
                     f"{span(late, '{:.1f}', ' MiB', 'sample')} / {archive[-1][2]:.1f} MiB at height {archive[-1][1]:,}"))

    sandbox = read(d, "sandbox")
    for m in re.finditer(r"^(sort|sha256|primes|matmul|wc)\s.*?\s([\d.]+)x\s+([\d.]+)x\s+\d+\s*$", sandbox, re.M):
        rows.append((f"aot / native, {m.group(1)}", f"{m.group(2)}x; aot / Node.js (node:wasi): {m.group(3)}x"))

    rpc = read(d, "rpc")
    for target in ("status", "account"):
        rps = floats(rf"^\d+\s+verityd-{target}\s+(\d+)", rpc)
        ratio = floats(rf"^\d+\s+verityd-{target}\s+\d+\s+[\d.]+\s+[\d.]+\s+\d+\s+([\d.]+)", rpc)
        rows.append((f"RPC `{target}` requests/s (wrk)", span(rps) + (f"; vs nginx {span(ratio, '{:.2f}')}"
                                                                     if ratio else "")))
    rows.append(("nginx, the same answer as a static file", span(floats(r"^\d+\s+nginx-static\s+(\d+)", rpc))))
    return rows


def main():
    d = sys.argv[1]
    machine = read(d, "machine").strip()
    out = ["# Verity benchmark report", "",
           "Written by `scripts/bench` (which runs every benchmark, then `bench/report.py`); do not edit by hand.",
           "Every figure is a range over the runs of one `scripts/bench` run on the machine below, where the",
           "benchmarks, the validators and the load generators share the cores: read the raw outputs for",
           "the conditions of each.", "", "```", machine, "```", "", "## Headline figures", "",
           "| what | figure |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in headline(d)]
    for name, title in SECTIONS:
        text = read(d, name).rstrip()
        out += ["", f"## {title}", "", "```", text or "(not run)", "```"]
    print("\n".join(out))


if __name__ == "__main__":
    main()
