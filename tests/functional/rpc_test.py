#!/usr/bin/env python3
"""Functional tests of the node's HTTP JSON-RPC, WebSocket, /health and
/metrics, with raw HTTP against a real 4-validator devnet on 127.0.0.1.
Run: tests/functional/rpc_test.py [TEST ...] (VERITYD=..., VERITY_SOURCE_ROOT=...).
The `verity` client's own tests are in client_test.py."""

import base64
import http.client
import json
import os
import socket
import struct
import time

from harness import Cluster, TestRunner, set_config, wait_for


def post(port, body, timeout=10, headers=None):
    """POST / with a raw body; returns (status, parsed JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=headers or {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)
    finally:
        conn.close()


def call(port, method, params=None, id=1):
    req = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        req["params"] = params
    status, answer = post(port, json.dumps(req))
    assert status == 200, (status, answer)
    return answer


def result(port, method, params=None):
    answer = call(port, method, params)
    assert "result" in answer, answer
    return answer["result"]


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def error_of(answer):
    assert "error" in answer and "result" not in answer, answer
    return answer["error"]


ALICE = "04ae75e077196b468c86f415a25eb28d7203d27b2de4936082eee570e9234ef9"
BOB = "4e690f45108f6566543bc3b917b9f57f91c1d5f3a9dac2f1bc23773136081ee5"


def started(cluster=None, rpc=None):
    """A running cluster at height 3; `rpc` sets [rpc] keys on every node first."""
    c = cluster or Cluster()
    for n in c.nodes:
        for key, value in (rpc or {}).items():
            set_config(n.home, "rpc", key, value)
    c.start()
    wait_for("height 3 on every validator", lambda: all(n.height() >= 3 for n in c.nodes), 60, c.nodes)
    return c


def reads_agree_on_every_validator():
    c = started()
    try:
        statuses = [result(n.rpc_port, "status") for n in c.nodes]
        assert len({s["chain_id"] for s in statuses}) == 1
        assert all(s["validator"] and len(s["validator"]) == 64 for s in statuses), statuses
        assert len({s["validator"] for s in statuses}) == 4
        h = min(s["height"] for s in statuses)
        blocks = [result(n.rpc_port, "block", {"height": h}) for n in c.nodes]
        assert len({b["hash"] for b in blocks}) == 1, "validators disagree on block %d" % h
        # By hash, and positionally, the same block; its certificate names it.
        by_hash = result(c.nodes[0].rpc_port, "block", {"hash": blocks[0]["hash"]})
        assert by_hash["height"] == h and by_hash["header"] == blocks[0]["header"]
        positional = result(c.nodes[1].rpc_port, "block", [h])
        assert positional["hash"] == blocks[0]["hash"]
        assert blocks[0]["certificate"]["block_hash"] == blocks[0]["hash"]
        assert len(blocks[0]["certificate"]["signatures"]) >= 3
        # Genesis is the file the devnet started from.
        with open(os.path.join(os.environ.get("VERITY_SOURCE_ROOT", "."), "genesis", "devnet.json")) as f:
            assert result(c.nodes[2].rpc_port, "genesis") == json.load(f)
        validators = result(c.nodes[3].rpc_port, "validators")["validators"]
        assert len(validators) == 4 and all(v["in_set"] and v["power"] > 0 for v in validators), validators
        one = result(c.nodes[0].rpc_port, "validator", {"address": validators[0]["operator"]})
        assert one == validators[0]
        acct = result(c.nodes[0].rpc_port, "account", {"address": ALICE, "prove": True})
        assert acct["balance"] == "1000000000000" and acct["nonce"] == 0 and acct["next_nonce"] == 0, acct
        proof = acct["proof"]
        assert proof["root"] and proof["value"] and proof["header"] and proof["certificate"] and proof["validators"]
        # An unknown account is absent: zero balance, and a proof of absence.
        nobody = result(c.nodes[0].rpc_port, "account", {"address": "11" * 32, "prove": True})
        assert nobody["balance"] == "0" and nobody["proof"]["value"] is None, nobody
        assert result(c.nodes[0].rpc_port, "delegations", {"address": ALICE}) == {"delegations": [], "unbonding": []}
        assert result(c.nodes[0].rpc_port, "rewards", {"address": ALICE})["vested"] == "0"
        assert result(c.nodes[0].rpc_port, "reputation", {"address": ALICE})["reputation"] >= 0
        # Not found is an application error with a reason.
        missing = error_of(call(c.nodes[0].rpc_port, "tx", {"hash": "00" * 32}))
        assert missing["code"] == -32001 and missing["data"]["reason"] == "not-found", missing
        future = error_of(call(c.nodes[0].rpc_port, "block", {"height": 10 ** 9}))
        assert future["code"] == -32001, future
        # The API describes itself.
        doc = result(c.nodes[0].rpc_port, "rpc.discover")
        names = {m["name"] for m in doc["methods"]}
        for m in ["status", "genesis", "block", "tx", "account", "validators", "validator", "delegations",
                  "rewards", "reputation", "send_tx", "send_tx_commit", "subscribe", "unsubscribe", "rpc.discover"]:
            assert m in names, m
        status, body = get(c.nodes[0].rpc_port, "/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, metrics = get(c.nodes[0].rpc_port, "/metrics")
        assert status == 200
        for line in ["verity_height ", "verity_view ", "verity_view_changes_total ", "verity_mempool_txs ",
                     "verity_mempool_bytes ", "verity_peers 3", "verity_committed_txs_total ",
                     'verity_rpc_requests_total{method="status"} ']:
            assert line in metrics, line
    finally:
        c.stop()


def bad_requests_get_errors_and_the_node_stays_up():
    c = started()
    try:
        port = c.nodes[0].rpc_port
        status, a = post(port, b'{"jsonrpc":"2.0","id":1,"method":"status"')  # cut short
        assert status == 200 and error_of(a)["code"] == -32700, a
        status, a = post(port, b"\xff\xfe not json")
        assert error_of(a)["code"] == -32700, a
        assert error_of(call(port, "no_such_method"))["code"] == -32601
        # Wrong types name the parameter.
        e = error_of(call(port, "block", {"height": "three"}))
        assert e["code"] == -32602 and "height" in e["message"], e
        e = error_of(call(port, "account", {"address": 12}))
        assert e["code"] == -32602 and "address" in e["message"], e
        e = error_of(call(port, "account", {"address": ALICE, "prove": "yes"}))
        assert e["code"] == -32602 and "prove" in e["message"], e
        e = error_of(call(port, "account", {}))
        assert e["code"] == -32602 and "missing parameter 'address'" in e["message"], e
        e = error_of(call(port, "status", {"verbose": True}))
        assert e["code"] == -32602, e
        status, a = post(port, json.dumps({"jsonrpc": "1.0", "id": 5, "method": "status"}))
        assert error_of(a)["code"] == -32600 and a["id"] == 5, a
        # A transaction that does not verify is rejected with the mempool's reason.
        tx = {"chain_id": "verity-devnet-1", "sender": ALICE, "nonce": 0, "fee": "0",
              "payload": {"type": "transfer", "to": BOB, "amount": "5"}, "signature": "00" * 64}
        e = error_of(call(port, "send_tx", {"tx": tx}))
        assert e["code"] == -32002 and e["data"]["reason"] == "bad-signature", e
        tx["payload"]["amount"] = 5
        e = error_of(call(port, "send_tx", {"tx": tx}))
        assert e["code"] == -32602 and "tx.payload.amount" in e["message"], e
        # A batch mixing good and bad calls: one answer per call with an
        # id, in order; the notification gets none.
        batch = [{"jsonrpc": "2.0", "id": "a", "method": "status"},
                 {"jsonrpc": "2.0", "id": "b", "method": "nope"},
                 {"jsonrpc": "2.0", "method": "status"},
                 {"jsonrpc": "2.0", "id": "c", "method": "account", "params": {"address": "zz"}},
                 42,
                 {"jsonrpc": "2.0", "id": "d", "method": "account", "params": [ALICE]}]
        status, answers = post(port, json.dumps(batch))
        assert status == 200 and len(answers) == 5, answers
        assert answers[0]["id"] == "a" and "result" in answers[0]
        assert answers[1]["id"] == "b" and answers[1]["error"]["code"] == -32601
        assert answers[2]["id"] == "c" and answers[2]["error"]["code"] == -32602
        assert answers[3]["id"] is None and answers[3]["error"]["code"] == -32600
        assert answers[4]["id"] == "d" and answers[4]["result"]["balance"] == "1000000000000"
        status, a = post(port, json.dumps([{"jsonrpc": "2.0", "id": i, "method": "status"} for i in range(101)]))
        assert error_of(a)["code"] == -32600 and "maximum of 100" in a["error"]["message"], a
        status, a = post(port, "[]")
        assert error_of(a)["code"] == -32600
        status, a = post(port, json.dumps({"jsonrpc": "2.0", "method": "status"}))  # notification
        assert status == 204 and a is None
        # A body over the limit (5 MiB) is refused with 413 before it is read whole.
        big = b"[" + b"1," * (3 << 20) + b"1]"
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                  % len(big))
        try:
            s.sendall(big)
        except OSError:
            pass  # the server may stop reading early; its answer still comes
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.close()
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["code"] == -32600, reply
        # Deep nesting is a parse answer, not a crash.
        status, a = post(port, b"[" * 200000 + b"]" * 200000)
        assert status == 200 and "error" in (a if isinstance(a, dict) else a[0]), str(a)[:200]
        # Bytes that are not HTTP: 400.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"HELLO THERE\r\n\r\n")
        reply = s.recv(4096)
        s.close()
        assert reply.startswith(b"HTTP/1.1 400"), reply
        # Expect: 100-continue (curl sends it for bodies over 1 KiB) is honoured.
        body = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "status", "pad": "x" * 2000}).encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue"), "no 100 Continue"
        s.sendall(body)
        reply = s.recv(65536)
        s.close()
        assert reply.startswith(b"HTTP/1.1 200") and b'"id":9' in reply, reply
        assert get(port, "/nowhere")[0] == 404
        assert get(port, "/")[0] == 405
        # The node is still up, still answers, and still commits.
        before = result(port, "status")["height"]
        wait_for("commits go on", lambda: result(port, "status")["height"] >= before + 2, 30, c.nodes)
        assert c.nodes[0].running()
    finally:
        c.stop()


def slow_client_never_stalls_others():
    c = started(rpc={"request_timeout_ms": 1500})
    try:
        port = c.nodes[0].rpc_port
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # While the slow client trickles its header, others are served.
        served = 0
        start = time.monotonic()
        closed_at = None
        while time.monotonic() - start < 6:
            try:
                slow.sendall(b"X")
            except OSError:
                closed_at = closed_at or time.monotonic() - start
            assert "result" in call(port, "status")
            served += 1
            time.sleep(0.05)
        assert served >= 20, served
        # The trickler was cut off after request_timeout: the socket reads EOF.
        slow.settimeout(5)
        try:
            data = slow.recv(100)
        except OSError:
            data = b""
        assert data == b"", data
        slow.close()
        assert closed_at is None or closed_at >= 1.0, closed_at
    finally:
        c.stop()


def metric(port, line):
    """The value of one sample of /metrics ('name{labels}'), or None."""
    for l in get(port, "/metrics")[1].splitlines():
        if l.startswith(line + " "):
            return float(l.rsplit(" ", 1)[1])
    return None


def silent_sockets_do_not_lock_out_a_client():
    c = started(rpc={"max_connections": 3})
    try:
        port = c.nodes[0].rpc_port
        # Three sockets that connect and never send: every connection taken.
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        time.sleep(0.5)
        # A normal client is served: the longest idle socket made room.
        assert "result" in call(port, "status")
        held[0].settimeout(10)
        assert held[0].recv(100) == b"", "the oldest silent socket was not closed"
        for s in held:
            s.close()
        # When every connection is mid-request, nothing can make room: 503.
        busy = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            busy.append(s)
        time.sleep(0.5)
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = extra.recv(4096)
        assert reply.startswith(b"HTTP/1.1 503") and b"too-many-connections" in reply, reply
        extra.close()
        for s in busy:
            s.close()
        wait_for("served again once connections closed",
                 lambda: get(port, "/health")[0] == 200, 10, c.nodes)
        assert metric(port, 'verity_rpc_connections_evicted_total{reason="too-many-connections"}') >= 1
        assert metric(port, 'verity_rpc_connections_refused_total{reason="too-many-connections"}') >= 1
    finally:
        c.stop()


def raw_http(port, request):
    """Sends raw request bytes; returns (status, headers dict lower-cased, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(4096)
            assert chunk
            body += chunk
        return int(lines[0].split()[1]), headers, body
    finally:
        s.close()


def browser_requests_are_checked():
    c = started(rpc={"cors_allowed_origins": '["https://wallet.example"]'})
    try:
        port = c.nodes[0].rpc_port
        status = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status"}).encode()

        def post_with(headers):
            return raw_http(port, b"POST / HTTP/1.1\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(status)
                            + status)
        # DNS rebinding: a name the node was not given.
        code, _, body = post_with(b"Host: evil.example:%d\r\nContent-Type: application/json\r\n" % port)
        assert code == 403 and json.loads(body)["error"]["data"]["reason"] == "bad-host", body
        # A page of another site.
        code, _, body = post_with(b"Host: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
                                  b"Content-Type: application/json\r\n")
        assert code == 403 and json.loads(body)["error"]["data"]["reason"] == "bad-origin", body
        # A form's content type.
        code, _, body = post_with(b"Host: 127.0.0.1\r\nContent-Type: text/plain\r\n")
        assert code == 415 and json.loads(body)["error"]["data"]["reason"] == "bad-content-type", body
        # The listed origin: a preflight, then the call, both with its CORS header.
        code, headers, _ = raw_http(port, b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://wallet.example\r\n"
                                          b"Access-Control-Request-Method: POST\r\n\r\n")
        assert code == 204 and headers["access-control-allow-origin"] == "https://wallet.example", headers
        assert "Content-Type" in headers["access-control-allow-headers"], headers
        code, headers, body = post_with(b"Host: 127.0.0.1\r\nOrigin: https://wallet.example\r\n"
                                        b"Content-Type: application/json; charset=utf-8\r\n")
        assert code == 200 and "result" in json.loads(body), body
        assert headers["access-control-allow-origin"] == "https://wallet.example", headers
        assert metric(port, 'verity_rpc_requests_refused_total{reason="bad-host"}') == 1
    finally:
        c.stop()


class WebSocket:
    """A minimal RFC 6455 client: enough to test /ws without a library."""

    def __init__(self, port, path="/ws"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            assert chunk, "connection closed during the WebSocket handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            assert chunk, "WebSocket closed"
            out += chunk
        return out

    def recv(self):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x1:
                return json.loads(payload)
            if b0 & 0x0F == 0x8:
                raise AssertionError("server closed the WebSocket")
            # pings and others: ignore

    def close(self):
        self.s.close()


def websocket_subscriptions():
    c = started()
    try:
        port = c.nodes[1].rpc_port
        ws = WebSocket(port)
        ws.send({"jsonrpc": "2.0", "id": 1, "method": "status"})
        assert ws.recv()["result"]["chain_id"] == "verity-devnet-1"
        ws.send({"jsonrpc": "2.0", "id": 2, "method": "subscribe", "params": {"topic": "blocks"}})
        sub = ws.recv()["result"]
        heights = []
        while len(heights) < 3:
            note = ws.recv()
            assert note["method"] == "subscription" and note["params"]["subscription"] == sub, note
            assert note["params"]["topic"] == "blocks"
            heights.append(note["params"]["result"]["height"])
        assert heights == sorted(heights) and heights[2] - heights[0] == 2, heights
        ws.send({"jsonrpc": "2.0", "id": 3, "method": "subscribe", "params": {"topic": "weather"}})
        assert ws.recv()["error"]["code"] == -32602
        ws.send({"jsonrpc": "2.0", "id": 4, "method": "unsubscribe", "params": {"subscription": sub}})
        # Notifications already queued may arrive before the answer.
        while True:
            m = ws.recv()
            if m.get("id") == 4:
                assert m["result"] is True, m
                break
        ws.close()
        # Subscribing needs the WebSocket.
        e = error_of(call(port, "subscribe", {"topic": "blocks"}))
        assert e["code"] == -32004 and e["data"]["reason"] == "websocket-only", e
    finally:
        c.stop()


if __name__ == "__main__":
    TestRunner([reads_agree_on_every_validator, bad_requests_get_errors_and_the_node_stays_up,
                slow_client_never_stalls_others, silent_sockets_do_not_lock_out_a_client,
                browser_requests_are_checked, websocket_subscriptions]).main()
