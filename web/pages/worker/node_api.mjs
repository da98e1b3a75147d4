// The node's public JSON-RPC (POST /) and WebSocket (/ws) as the page uses
// them: the node that served the page, so no CORS is involved. Errors keep
// the node's stable reason (data.reason) when it gives one.
export class RpcError extends Error {
  constructor(method, error) {
    const reason = error?.data?.reason ?? '';
    super(`${method}: ${error?.message ?? 'failed'}${reason ? ` (${reason})` : ''}`);
    this.code = error?.code;
    this.reason = reason;
  }
}

export class NodeApi {
  constructor(base = '') { this.base = base; this.nextId = 1; }

  async call(method, params = {}) {
    const res = await fetch(`${this.base}/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params }),
    });
    const answer = await res.json();
    if (answer.error) throw new RpcError(method, answer.error);
    return answer.result;
  }

  // Several calls in one request (a JSON-RPC batch): [[method, params], ...]
  // in, one {result} or {error} per call out, in order.
  async batch(calls) {
    if (calls.length === 0) return [];
    const first = this.nextId;
    this.nextId += calls.length;
    const res = await fetch(`${this.base}/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method,
        params: params ?? {} }))),
    });
    const answers = await res.json();
    if (!Array.isArray(answers)) throw new RpcError('batch', answers.error);
    const byId = new Map(answers.map((a) => [a.id, a]));
    return calls.map((_, i) => byId.get(first + i) ?? { error: { message: 'no answer' } });
  }

  // A missing record (-32001) is null, not an error.
  async find(method, params) {
    try {
      return await this.call(method, params);
    } catch (e) {
      if (e instanceof RpcError && e.code === -32001) return null;
      throw e;
    }
  }
}

// A topic of the WebSocket (`blocks`, `txs`, `tasks`): onEvent(result) for
// each notification; reconnects with backoff (250 ms doubling to 5 s) and
// calls onConnect on every (re)connection, since events may have been
// missed meanwhile.
export class Subscription {
  constructor({ topic, onEvent, onConnect, onState }) {
    Object.assign(this, { topic, onEvent, onConnect: onConnect ?? (() => {}), onState: onState ?? (() => {}) });
    this.backoff = 250;
    this.stopped = false;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: this.topic } }));
      this.onState('connected');
      this.onConnect();
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.method === 'subscription' && msg.params?.topic === this.topic) this.onEvent(msg.params.result);
    };
    ws.onclose = () => {
      this.onState('disconnected');
      if (this.stopped) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  stop() { this.stopped = true; this.ws?.close(); }
}
