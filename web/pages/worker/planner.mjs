// What the browser worker does next for one task: the twin of
// worker/daemon/planner.cpp (plan_task, record_run), a pure function: the
// node's `task` answer and what the page remembers in, one action out. The
// page (app.mjs) does the I/O. Same rules, same order, so that a browser
// worker commits and reveals exactly when verity-worker does
// (docs/worker.md, "The loop"). tests/web/planner_test.mjs covers each rule.
import { fromHex, taskCommitment, taskResultHash, toHex } from './chain.mjs';
import { OUTCOMES, outcomeText } from '../common.mjs';

export { OUTCOMES, outcomeText };

const kMaxTaskIoBytes = 64 * 1024;

function ending(t, me) {
  if (t.status === 'settled' && t.result) {
    const r = t.result;
    const agreed = r.majority.includes(me);
    return `settled: ${outcomeText(r.outcome)}, fuel ${r.fuel_used}, result ${r.result_hash}` +
      (agreed ? ' (agreed: rewarded)' : ' (this worker was not in the majority)');
  }
  if (t.status === 'failed') return `failed: ${t.failure}`;
  return `round ended without this worker (${t.status})`;
}

// in: { task (the node's answer), me (hex key), chainId, state (persisted
// result or null), sentBefore, height (or null), meteringVersion }.
// Returns { kind, keep, report, log, assignedHeight, payload }; kind is one
// of end, wait, refuse_metering, run, commit_missed, commit, salt_lost, reveal.
export function planTask(input) {
  const { task: t, me, chainId, state, sentBefore, height, meteringVersion } = input;
  const make = (kind, log = '') => ({ kind, keep: true, report: false, log, assignedHeight: 0, payload: null });
  const mine = t.round ? t.round.assignments.find(a => a.worker === me) ?? null : null;
  const assignedHeight = t.round ? t.round.assigned_height : 0;

  if (!t.round || !mine || (state && state.assigned_height !== assignedHeight)) {
    const p = make('end');
    if (state || sentBefore) {
      p.log = ending(t, me);
      p.report = true;
    }
    p.keep = Boolean(t.round && mine);
    return p;
  }
  if (assignedHeight === 0) return make('wait');
  const round = t.round;

  if (!mine.committed) {
    if (!state) {
      if (t.metering_version !== meteringVersion)
        return make('refuse_metering', `metered by version ${t.metering_version}, and this worker's sandbox by ` +
          `${meteringVersion}: not running it (its fuel would not be the task's)`);
      const p = make('run', `assigned (round ${round.kind}, commit by height ${round.commit_deadline}, reveal by ` +
        `${round.reveal_deadline})`);
      p.assignedHeight = assignedHeight;
      return p;
    }
    if (height != null && height > round.commit_deadline)
      return make('commit_missed', `commit deadline ${round.commit_deadline} passed before the commitment landed`);
    const result = taskResultHash(state.outcome, state.exit_code, state.fuel_used, state.output);
    const p = make('commit', `committed ${toHex(result)}`);
    p.payload = { type: 'commit_result', task: t.id,
      commitment: taskCommitment(chainId, t.id, result, state.salt, fromHex(me)) };
    return p;
  }

  if (mine.revealed) return make('wait');
  if (!state) return make('salt_lost', 'committed but the salt is lost; cannot reveal');
  const allCommitted = round.assignments.every(a => a.committed);
  if (!allCommitted && (height == null || height <= round.commit_deadline)) return make('wait');
  const p = make('reveal', 'revealed');
  p.payload = { type: 'reveal_result', task: t.id, outcome: state.outcome, exit_code: state.exit_code,
    fuel_used: state.fuel_used, output: state.output, salt: state.salt };
  return p;
}

// The result the worker records for a run: the sandbox's, its output cut to
// what a reveal carries, and (byzantine: the page's "lie" switch, for tests)
// altered exactly as verity-worker --byzantine alters it.
export function recordRun(task, assignedHeight, outcome, exitCode, fuelUsed, output, salt, byzantine) {
  let out = output.length > kMaxTaskIoBytes ? output.slice(0, kMaxTaskIoBytes) : output.slice();
  if (byzantine) {
    if (out.length === 0) out = Uint8Array.of(0x21);  // '!'
    else out[0] ^= 0x01;
  }
  return { task, assigned_height: assignedHeight, outcome, exit_code: exitCode, fuel_used: fuelUsed, output: out, salt };
}
