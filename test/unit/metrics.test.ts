import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/ops/metrics.js';

function metrics(): Metrics {
  return new Metrics({ connections: () => [], natsConnected: () => true });
}

async function requestsOf(m: Metrics, janusId: string): Promise<number> {
  const text = await m.registry.metrics();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`janus_bridge_requests_total{janus_id="${janusId}",outcome="ok"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The scraped sample lines of the two request metrics for one janus_id, in scrape order. */
async function requestLinesOf(m: Metrics, janusId: string): Promise<string[]> {
  const text = await m.registry.metrics();
  return text.split('\n').filter((l) => l.startsWith('janus_bridge_request') && l.includes(`janus_id="${janusId}"`));
}

const DURATION = 'janus_bridge_request_duration_seconds';

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

  it('keeps counting for a newer connection of a janus_id when the old one finishes later (a takeover)', async () => {
    const m = metrics();
    const old = m.forConnection('j1');
    const newer = m.forConnection('j1');
    m.removeConnection('j1', old);
    newer.request('ok', 0.001);
    newer.request('ok', 0.001);
    expect(await requestsOf(m, 'j1')).toBe(2);
  });

  it('shows the counts per outcome and the cumulative duration buckets, sum and count of the requests', async () => {
    const m = metrics();
    const reporter = m.forConnection('j1');
    // Durations that are exact in binary, so that the sum is too: 2^-12, 2^-10, 2^-8 seconds...
    reporter.request('ok', 2 ** -12); // le 0.0005
    reporter.request('ok', 2 ** -10); // le 0.001
    reporter.request('janus_error', 2 ** -8); // le 0.005
    reporter.request('ok', 0.125); // le 0.25
    reporter.request('timeout', 0.5); // le 0.5: a bound is inclusive
    reporter.request('timeout', 16); // above the last bound (10): only in +Inf
    reporter.request('rejected', 2 ** -10); // le 0.001
    m.forConnection('j2').request('unavailable', 0.01);

    const expected = [
      'janus_bridge_requests_total{janus_id="j1",outcome="ok"} 3',
      'janus_bridge_requests_total{janus_id="j1",outcome="janus_error"} 1',
      'janus_bridge_requests_total{janus_id="j1",outcome="timeout"} 2',
      'janus_bridge_requests_total{janus_id="j1",outcome="unavailable"} 0',
      'janus_bridge_requests_total{janus_id="j1",outcome="rejected"} 1',
      `${DURATION}_bucket{le="0.0005",janus_id="j1"} 1`,
      `${DURATION}_bucket{le="0.001",janus_id="j1"} 3`,
      `${DURATION}_bucket{le="0.0025",janus_id="j1"} 3`,
      `${DURATION}_bucket{le="0.005",janus_id="j1"} 4`,
      `${DURATION}_bucket{le="0.01",janus_id="j1"} 4`,
      `${DURATION}_bucket{le="0.025",janus_id="j1"} 4`,
      `${DURATION}_bucket{le="0.05",janus_id="j1"} 4`,
      `${DURATION}_bucket{le="0.1",janus_id="j1"} 4`,
      `${DURATION}_bucket{le="0.25",janus_id="j1"} 5`,
      `${DURATION}_bucket{le="0.5",janus_id="j1"} 6`,
      `${DURATION}_bucket{le="1",janus_id="j1"} 6`,
      `${DURATION}_bucket{le="2.5",janus_id="j1"} 6`,
      `${DURATION}_bucket{le="5",janus_id="j1"} 6`,
      `${DURATION}_bucket{le="10",janus_id="j1"} 6`,
      `${DURATION}_bucket{le="+Inf",janus_id="j1"} 7`,
      `${DURATION}_sum{janus_id="j1"} 16.631103515625`,
      `${DURATION}_count{janus_id="j1"} 7`,
    ];
    expect(await requestLinesOf(m, 'j1')).toEqual(expected);
    // Publishing at scrape time must not add the same requests again on the next scrape.
    expect(await requestLinesOf(m, 'j1')).toEqual(expected);
    expect(await requestLinesOf(m, 'j2')).toEqual([
      'janus_bridge_requests_total{janus_id="j2",outcome="ok"} 0',
      'janus_bridge_requests_total{janus_id="j2",outcome="janus_error"} 0',
      'janus_bridge_requests_total{janus_id="j2",outcome="timeout"} 0',
      'janus_bridge_requests_total{janus_id="j2",outcome="unavailable"} 1',
      'janus_bridge_requests_total{janus_id="j2",outcome="rejected"} 0',
      ...['0.0005', '0.001', '0.0025', '0.005'].map((le) => `${DURATION}_bucket{le="${le}",janus_id="j2"} 0`),
      ...['0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'].map(
        (le) => `${DURATION}_bucket{le="${le}",janus_id="j2"} 1`,
      ),
      `${DURATION}_sum{janus_id="j2"} 0.01`,
      `${DURATION}_count{janus_id="j2"} 1`,
    ]);

    const text = await m.registry.metrics();
    expect(text).toContain(
      '# HELP janus_bridge_requests_total Requests handled, by outcome\n# TYPE janus_bridge_requests_total counter\n',
    );
    expect(text).toContain(
      `# HELP ${DURATION} Time from a request's arrival to its reply\n# TYPE ${DURATION} histogram\n`,
    );
  });

  it('has every outcome at 0 for a connection without requests, so the first one shows as an increase', async () => {
    const m = metrics();
    m.forConnection('j1');
    const counts = (await requestLinesOf(m, 'j1')).filter((l) => l.startsWith('janus_bridge_requests_total'));
    expect(counts).toEqual(
      ['ok', 'janus_error', 'timeout', 'unavailable', 'rejected'].map(
        (o) => `janus_bridge_requests_total{janus_id="j1",outcome="${o}"} 0`,
      ),
    );
  });

  it('has every event and session series of a new connection at 0', async () => {
    const m = metrics();
    m.forConnection('j1');
    const text = await m.registry.metrics();
    for (const line of [
      'janus_bridge_events_published_total{janus_id="j1"} 0',
      'janus_bridge_events_dropped_total{janus_id="j1",reason="too_large"} 0',
      'janus_bridge_reconnects_total{janus_id="j1"} 0',
      'janus_bridge_session_replacements_total{janus_id="j1"} 0',
      'janus_bridge_session_claims_total{janus_id="j1"} 0',
    ])
      expect(text).toContain(line);
  });

  it('says which version runs on which Node.js', async () => {
    const text = await metrics().registry.metrics();
    expect(text).toMatch(
      new RegExp(
        '^janus_bridge_build_info\\{version="\\d+\\.\\d+\\.\\d+",' +
          `node_version="${process.versions.node.replaceAll('.', '\\.')}"\\} 1$`,
        'm',
      ),
    );
  });

  it('drops both request metrics of a removed connection, even on late calls; a re-add starts at zero', async () => {
    const m = metrics();
    const reporter = m.forConnection('j1');
    reporter.request('ok', 0.001);
    reporter.request('timeout', 20);
    m.forConnection('j2').request('ok', 0.001);
    m.removeConnection('j1', reporter);
    expect(await requestLinesOf(m, 'j1')).toEqual([]);
    // A request that was under way during the removal ends later.
    reporter.request('ok', 0.002);
    expect(await requestLinesOf(m, 'j1')).toEqual([]);
    expect(await requestsOf(m, 'j2')).toBe(1);

    const again = m.forConnection('j1');
    again.request('ok', 0.002);
    const lines = await requestLinesOf(m, 'j1');
    expect(lines).toContain('janus_bridge_requests_total{janus_id="j1",outcome="ok"} 1');
    expect(lines).toContain('janus_bridge_requests_total{janus_id="j1",outcome="timeout"} 0');
    expect(lines).toContain(`${DURATION}_count{janus_id="j1"} 1`);
    expect(lines).toContain(`${DURATION}_sum{janus_id="j1"} 0.002`);
  });

  it('counts the requests of both connections of a takeover in the same series', async () => {
    const m = metrics();
    const old = m.forConnection('j1');
    old.request('ok', 0.001);
    old.request('janus_error', 0.001);
    const newer = m.forConnection('j1');
    newer.request('ok', 0.001);
    old.request('ok', 3); // the old connection's last request ends after the takeover
    expect(await requestsOf(m, 'j1')).toBe(3);

    m.removeConnection('j1', old); // the newer one reports: nothing is dropped
    newer.request('ok', 0.001);
    const lines = await requestLinesOf(m, 'j1');
    expect(lines).toContain('janus_bridge_requests_total{janus_id="j1",outcome="ok"} 4');
    expect(lines).toContain('janus_bridge_requests_total{janus_id="j1",outcome="janus_error"} 1');
    expect(lines).toContain(`${DURATION}_bucket{le="0.001",janus_id="j1"} 4`);
    expect(lines).toContain(`${DURATION}_bucket{le="2.5",janus_id="j1"} 4`);
    expect(lines).toContain(`${DURATION}_bucket{le="5",janus_id="j1"} 5`);
    expect(lines).toContain(`${DURATION}_count{janus_id="j1"} 5`);

    m.removeConnection('j1', newer);
    expect(await requestLinesOf(m, 'j1')).toEqual([]);
  });
});

describe('Metrics of what the bridge could not publish or refused to answer', () => {
  it('shows every kind at 0 from the start', async () => {
    const text = await metrics().registry.metrics();
    for (const kind of ['reply', 'event', 'status', 'admin'])
      expect(text).toContain(`janus_bridge_publish_failures_total{kind="${kind}"} 0`);
    for (const kind of ['request', 'admin', 'discovery', 'relay'])
      expect(text).toContain(`janus_bridge_reply_subjects_refused_total{kind="${kind}"} 0`);
  });

  it('counts them by kind, from the process and from a connection, even after the connection is removed', async () => {
    const m = metrics();
    const reporter = m.forConnection('j1');
    m.publishFailed('admin');
    reporter.publishFailed('event');
    m.removeConnection('j1', reporter);
    reporter.publishFailed('event');
    reporter.replySubjectRefused('request');
    m.replySubjectRefused('discovery');
    const text = await m.registry.metrics();
    expect(text).toContain('janus_bridge_publish_failures_total{kind="admin"} 1');
    expect(text).toContain('janus_bridge_publish_failures_total{kind="event"} 2');
    expect(text).toContain('janus_bridge_reply_subjects_refused_total{kind="request"} 1');
    expect(text).toContain('janus_bridge_reply_subjects_refused_total{kind="discovery"} 1');
  });
});

describe('Admin API metrics', () => {
  it('shows the state of each Admin API link (if any), counts admin requests until the connection goes', async () => {
    const m = new Metrics({
      connections: () => [
        { janusId: 'a', state: 'ready', pending: 0, adminState: 'disconnected' },
        { janusId: 'b', state: 'ready', pending: 0 },
      ],
      natsConnected: () => true,
    });
    const reporter = m.forConnection('a');
    reporter.adminRequest('ok');
    reporter.adminRequest('rejected');
    let text = await m.registry.metrics();
    expect(text).toContain('janus_bridge_admin_connection_state{janus_id="a",state="disconnected"} 1');
    expect(text).toContain('janus_bridge_admin_connection_state{janus_id="a",state="ready"} 0');
    expect(text).not.toContain('janus_bridge_admin_connection_state{janus_id="b"');
    expect(text).toContain('janus_bridge_admin_requests_total{janus_id="a",outcome="rejected"} 1');
    expect(text).toContain('janus_bridge_reply_subjects_refused_total{kind="adminapi"} 0');
    m.removeConnection('a', reporter);
    reporter.adminRequest('ok');
    text = await m.registry.metrics();
    expect(text).not.toContain('janus_bridge_admin_requests_total{janus_id="a"');
  });
});
