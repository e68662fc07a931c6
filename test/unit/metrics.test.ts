import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/ops/metrics.js';

function metrics(): Metrics {
  return new Metrics({ connections: () => [], natsConnected: () => true });
}

async function requestsOf(m: Metrics, janusId: string): Promise<number> {
  const text = await m.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`janus_bridge_requests_total{janus_id="${janusId}",outcome="ok"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('Metrics per connection', () => {
  it('drops the series of a connection that is no longer served', async () => {
    const m = metrics();
    const reporter = m.forConnection('j1');
    reporter.request('ok', 0.001);
    expect(await requestsOf(m, 'j1')).toBe(1);
    m.removeConnection('j1', reporter);
    reporter.request('ok', 0.001);
    expect(await requestsOf(m, 'j1')).toBe(0);
  });

  it('keeps counting for a newer connection of the same janus_id when the old one finishes later (a takeover)', async () => {
    const m = metrics();
    const old = m.forConnection('j1');
    const newer = m.forConnection('j1');
    m.removeConnection('j1', old);
    newer.request('ok', 0.001);
    newer.request('ok', 0.001);
    expect(await requestsOf(m, 'j1')).toBe(2);
  });
});
