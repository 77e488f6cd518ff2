// /ready and /alive rules of the monitor (cluster.md §9): immediate switch to ready, 4 s grace from the
// first not-ready evaluation, /alive STOPPED 4 s after a /restore download.
import { describe, expect, it } from 'vitest';
import { createMonitorState, evaluateAlive, evaluateReady } from '../../src/monitor/readiness.js';

function setup() {
  const state = createMonitorState();
  const server = { running: false };
  const component = { ready: true };
  state.servers.push(server);
  state.components.push(component);
  return { state, server, component };
}

describe('monitor readiness', () => {
  it('is not ready without a registered server', () => {
    expect(evaluateReady(createMonitorState(), 0)).toBe(false);
  });

  it('switches to ready at once and back to not ready only after 4 s of not-ready evaluations', () => {
    const { state, server } = setup();
    expect(evaluateReady(state, 0)).toBe(false);
    server.running = true;
    expect(evaluateReady(state, 10)).toBe(true);
    server.running = false;
    // the grace starts at the first not-ready evaluation (t=1000), not when the server stopped
    expect(evaluateReady(state, 1_000)).toBe(true);
    expect(evaluateReady(state, 4_999)).toBe(true);
    expect(evaluateReady(state, 5_000)).toBe(false);
    expect(evaluateReady(state, 5_001)).toBe(false);
  });

  it('a return to ready during the grace ends it; the next drop starts a new one', () => {
    const { state, server } = setup();
    server.running = true;
    evaluateReady(state, 0);
    server.running = false;
    expect(evaluateReady(state, 100)).toBe(true);
    server.running = true;
    expect(evaluateReady(state, 3_000)).toBe(true);
    server.running = false;
    expect(evaluateReady(state, 4_500)).toBe(true);
    expect(evaluateReady(state, 8_400)).toBe(true);
    expect(evaluateReady(state, 8_500)).toBe(false);
  });

  it('a component that is not ready (restore pending) keeps /ready down', () => {
    const { state, server, component } = setup();
    server.running = true;
    component.ready = false;
    expect(evaluateReady(state, 0)).toBe(false);
    component.ready = true;
    expect(evaluateReady(state, 1)).toBe(true);
  });

  it('/alive turns STOPPED 4 s after the /restore download', () => {
    const { state } = setup();
    expect(evaluateAlive(state, 1e12)).toBe(true);
    state.restoredAt = 50_000;
    expect(evaluateAlive(state, 53_999)).toBe(true);
    expect(evaluateAlive(state, 54_000)).toBe(false);
  });
});
