#!/usr/bin/env python3
"""The folders' arrows (README, "Layout"; DESIGN's table of which folder may
use which), checked on every #include of the sources: a library that
includes a header of a folder, or of a third-party library, that its row
does not allow fails this test, naming the file and line. meson gives every
library the repository root as its include directory, so the compiler alone
would not refuse such an include.

  tests/layering_test.py [ROOT]      check the tree at ROOT (default: this repository)
  tests/layering_test.py --self-test check that a forbidden include is caught
"""

import os
import re
import sys
import tempfile

# The RPC's client side: what the client and the worker daemon may use of rpc/.
RPC_CLIENT = {"rpc/http_client.h", "rpc/ws_client.h", "rpc/json_codec.h", "rpc/records.h", "rpc/genesis_json.h"}

# Project folders each library folder may include from (its own included),
# and single headers allowed beyond them. A folder inside another
# (worker/daemon) is a library of its own: its files follow its row, and
# its headers are its, not the outer folder's.
PROJECT = {
    "core": {"core"},
    "consensus": {"core", "consensus"},
    "state": {"core", "state"},
    # Contracts see state only through the view and application interfaces.
    "contracts": {"core", "contracts", "state/state_view.h", "state/application.h"},
    "worker": {"core", "worker"},
    "rpc": {"core", "rpc"},
    # What the three programs share: the argument parser, key files.
    "cli": {"core", "cli"},
    # verity: the RPC's client side, and the accounts contract's record
    # codec for the account proofs it checks.
    "client": {"core", "cli", "client", "contracts/accounts.h"} | RPC_CLIENT,
    # verity-worker, beside the sandbox it drives; it shares the client's
    # typed RPC client.
    "worker/daemon": {"core", "cli", "worker", "worker/daemon", "client/rpc_client.h"} | RPC_CLIENT,
    # verityd: everything but the two other programs.
    "node": {"core", "cli", "consensus", "state", "contracts", "worker", "rpc", "node"},
}

# Third-party headers by library; a folder may include those of the
# libraries listed for it. The C and C++ standard headers and the system's
# (<sys/...>, <unistd.h>, ...) are allowed everywhere.
THIRD_PARTY = {
    "cryptopp": re.compile(r"^cryptopp/"),
    "secp256k1": re.compile(r"^secp256k1"),
    "leveldb": re.compile(r"^leveldb/"),
    "wabt": re.compile(r"^(wabt/|wasm-rt)"),
    "seccomp": re.compile(r"^seccomp"),
    "boost": re.compile(r"^boost/"),
    "rapidjson": re.compile(r"^rapidjson/"),
    "openssl": re.compile(r"^openssl/"),
    "toml": re.compile(r"^toml\+\+/"),
}
LIBRARIES = {
    "core": {"cryptopp", "secp256k1"},
    "consensus": set(),
    "state": {"leveldb"},
    "contracts": set(),
    "worker": {"wabt", "seccomp"},
    "rpc": {"boost", "rapidjson"},
    "cli": {"cryptopp", "rapidjson"},
    "client": {"rapidjson"},
    "worker/daemon": {"rapidjson"},
    "node": {"boost", "rapidjson", "openssl", "cryptopp", "toml", "secp256k1"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCES = (".h", ".hpp", ".cpp", ".cc", ".c")


def unit_of(path):
    """The library folder (a PROJECT key) a path below the root belongs to:
    the longest key it lies in, or None."""
    best = None
    for key in PROJECT:
        if (path == key or path.startswith(key + "/")) and (best is None or len(key) > len(best)):
            best = key
    return best


def violations(root):
    """(path, line number, include, why) for each forbidden include under ROOT."""
    found = []
    for folder in sorted(PROJECT):
        top = os.path.join(root, folder)
        for dirpath, _, files in os.walk(top):
            if unit_of(os.path.relpath(dirpath, root)) != folder:
                continue  # an inner library folder: checked by its own row
            for name in sorted(files):
                if not name.endswith(SOURCES):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    in_raw = False  # inside a raw string literal (source text the code writes out)
                    for number, line in enumerate(f, 1):
                        if in_raw:
                            in_raw = ')"' not in line
                            continue
                        if 'R"(' in line and ')"' not in line.split('R"(', 1)[1]:
                            in_raw = True
                            continue
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        why = check(folder, m.group(1), m.group(2), root, dirpath)
                        if why:
                            found.append((os.path.relpath(path, root), number, m.group(2), why))
    return found


def check(folder, quote, header, root, dirpath):
    first = header.split("/", 1)[0]
    if quote == '"' and "/" in header and first in PROJECT or first in ("web", "tests", "bench"):
        unit = unit_of(os.path.dirname(header)) or first
        allowed = PROJECT[folder]
        if unit in allowed or header in allowed:
            return None
        return f"{folder}/ may not use {unit}/ (it may use: {', '.join(sorted(allowed))})"
    if quote == '"' and os.path.exists(os.path.join(dirpath, header)):
        return None  # a header beside the file
    for lib, pattern in THIRD_PARTY.items():
        if pattern.match(header):
            if lib in LIBRARIES[folder]:
                return None
            return f"{folder}/ may not use {lib} (it may use: {', '.join(sorted(LIBRARIES[folder])) or 'no library'})"
    if quote == '"':
        return f"{folder}/ includes \"{header}\", which is no folder's header"
    return None  # a standard or system header


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        put("contracts/bad.cpp", '#include "contracts/ok.h"\n#include "node/node.h"\n#include <vector>\n')
        put("contracts/ok.h", '#include "core/amount.h"\n#include "state/state_view.h"\n')
        put("contracts/worse.cpp", '#include "state/chain.h"\n')
        put("consensus/x.cpp", "#include <leveldb/db.h>\n#include <rapidjson/document.h>\n")
        put("core/y.cpp", '#include "rpc/api.h"\n#include <cryptopp/sha.h>\n')
        put("node/z.cpp", '#include "client/x.h"\n#include "state/chain.h"\n')
        put("worker/w.cpp", 'const char* k = R"(\n#include "node/node.h"\n)";\n#include "worker/sandbox.h"\n')
        # The sandbox may not reach into the daemon beside it, nor the
        # daemon into the node or the RPC server; the daemon may use the
        # sandbox, the shared cli/ and the RPC's client side.
        put("worker/v.cpp", '#include "worker/daemon/loop.h"\n')
        put("worker/daemon/loop.cpp", '#include "worker/sandbox.h"\n#include "cli/args.h"\n#include "rpc/http_client.h"\n'
                                      '#include "rpc/server.h"\n#include "node/node.h"\n#include <rapidjson/document.h>\n')
        put("client/c.cpp", '#include "contracts/accounts.h"\n#include "contracts/tasks.h"\n#include "worker/sandbox.h"\n')
        put("node/n.cpp", '#include "cli/key_file.h"\n#include "worker/daemon/loop.h"\n')
        got = {(p, n) for p, n, _, _ in violations(root)}
        want = {("contracts/bad.cpp", 2), ("contracts/worse.cpp", 1), ("consensus/x.cpp", 1),
                ("consensus/x.cpp", 2), ("core/y.cpp", 1), ("node/z.cpp", 1), ("worker/v.cpp", 1),
                ("worker/daemon/loop.cpp", 4), ("worker/daemon/loop.cpp", 5), ("client/c.cpp", 2),
                ("client/c.cpp", 3), ("node/n.cpp", 2)}
        assert got == want, f"self-test: caught {sorted(got)}, expected {sorted(want)}"
    print("ok: the checker catches forbidden includes of folders and libraries")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = violations(root)
    for path, number, header, why in found:
        print(f"{path}:{number}: #include {header}: {why}")
    if found:
        print(f"FAIL: {len(found)} include(s) break the layering (README, \"Layout\")")
        return 1
    print("ok: every include follows the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
