/**
 * deploy/monitoring: the Grafana dashboard, the alerting rules (plain rule file and
 * PrometheusRule) and their kustomization, checked against what the daemon really exports.
 *
 * - Every metric name in every expression (dashboard targets, template variables, alert rules)
 *   is one the daemon registers: `new Metrics(...)` with the ownership and event-handler
 *   metrics added, histograms with their _bucket, _sum and _count (prom-client's default
 *   process_* and nodejs_* metrics are in that registry too). Renaming a metric fails here.
 * - Every label in a selector or a `by`/`without` clause is a label of those metrics (or one
 *   Prometheus adds to a target: job, instance, pod, …), and every label value a selector
 *   names (state="ready", outcome="timeout", reason=…) is one the daemon emits: read from the
 *   /metrics text of a Metrics whose connection, Admin API link, leases and event-handler
 *   figures are all populated (the daemon creates every state, outcome and reason series at 0),
 *   and cross-checked with the exported constants.
 * - The PrometheusRule has the operator's shape, and holds the same groups as alerts.rules.yaml.
 * - promtool (on PATH, or the one `make deps` unpacks into .tools/bin from Debian's
 *   prometheus package): both the rules and every dashboard expression load, and the
 *   alerts fire (and stay quiet) on synthetic series as docs/operations.md says.
 * - With kubectl installed: `kubectl kustomize deploy/monitoring` renders exactly the files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOMES, PUBLISH_KINDS, REFUSED_REPLY_KINDS } from '../../src/bridge/reporting.js';
import { REFUSAL_REASONS } from '../../src/eventhandlers/admission.js';
import { EVH_DROP_REASONS, EvhTallies } from '../../src/eventhandlers/tally.js';
import { ADMIN_LINK_STATES } from '../../src/janus/admin-link.js';
import { CONNECTION_STATES } from '../../src/janus/connection.js';
import { Metrics } from '../../src/ops/metrics.js';

const REPO = resolve(import.meta.dirname, '../..');
const DIR = join(REPO, 'deploy/monitoring');
const PROMTOOL = existsSync(join(REPO, '.tools/bin/promtool')) ? join(REPO, '.tools/bin/promtool') : 'promtool';
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

type Obj = Record<string, any>;

/** YAML 1.1 as Kubernetes and Prometheus read it; any error or warning (a duplicate key) fails. */
function parseYaml(path: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { version: '1.1', uniqueKeys: true });
  const problems = docs.flatMap((d) => [...d.errors, ...d.warnings]).map((e) => e.message);
  if (problems.length) throw new Error(`${path}: ${problems.join('; ')}`);
  return docs.map((d) => d.toJS() as Obj).filter((o) => o !== null && o !== undefined);
}

const rulesFile = parseYaml(join(DIR, 'alerts.rules.yaml'));
const prometheusRule = parseYaml(join(DIR, 'prometheusrule.yaml'));
const dashboardText = readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as Obj;

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const groups = (rulesFile[0]?.groups ?? []) as Array<{ name: string; rules: Rule[] }>;
const rules: Rule[] = groups.flatMap((g) => g.rules ?? []);

// ---------------------------------------------------------------------------------------------
// What the daemon exports.

/** Labels Prometheus puts on every series of a target (static, Kubernetes and Operator discovery). */
const TARGET_LABELS = new Set(['job', 'instance', 'pod', 'namespace', 'container', 'endpoint', 'service', 'node']);
/** Labels whose values are the operator's (ids, versions) or bucket bounds: any value may be selected. */
const OPEN_LABELS = new Set(['janus_id', 'le', 'version', 'node_version']);

/** Every metric name the daemon can register, as the brief of this test says to build it. */
function registeredNames(): Set<string> {
  const metrics = new Metrics({ connections: () => [], natsConnected: () => true });
  metrics.leaseOwnership(() => 0);
  metrics.eventHandlers({ perJanus: () => [], refusals: () => ({}) });
  const names = new Set<string>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

interface Series {
  name: string;
  labels: Record<string, string>;
}

/** The sample lines of a /metrics text. */
function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!match) throw new Error(`unreadable /metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!;
    series.push({ name: match[1]!, labels });
  }
  return series;
}

/**
 * /metrics of a daemon with everything populated: one connection (every state and outcome
 * series at 0, as the daemon makes them), its Admin API link, leases, event-handler figures
 * with a link, one of each call that creates a series only when used.
 */
async function populatedSeries(): Promise<Series[]> {
  const metrics = new Metrics({
    connections: () => [{ janusId: 'edge-1', state: 'ready', pending: 0, adminState: 'ready' }],
    natsConnected: () => true,
    eventsWaiting: () => 0,
    natsPendingBytes: () => 0,
  });
  const reporter = metrics.forConnection('edge-1');
  reporter.request('ok', 0.01);
  // The admin request counter makes a series at its first use; adminRequest takes a RequestOutcome.
  for (const outcome of OUTCOMES) reporter.adminRequest(outcome);
  const leaseMetrics = metrics.leaseOwnership(() => 1);
  leaseMetrics.renewal(0.002, true);
  const tallies = new EvhTallies();
  tallies.of('edge-1').links = 1;
  metrics.eventHandlers({ perJanus: () => tallies.entries(), refusals: () => tallies.refusals });
  return parseExposition(await metrics.registry.metrics());
}

interface Known {
  names: Set<string>;
  /** Per exposed name: label → the values seen. */
  labels: Map<string, Map<string, Set<string>>>;
}

let known: Known;

beforeAll(async () => {
  const labels = new Map<string, Map<string, Set<string>>>();
  for (const s of await populatedSeries()) {
    const byLabel = labels.get(s.name) ?? new Map<string, Set<string>>();
    labels.set(s.name, byLabel);
    for (const [key, value] of Object.entries(s.labels)) {
      if (!byLabel.has(key)) byLabel.set(key, new Set());
      byLabel.get(key)!.add(value);
    }
  }
  known = { names: registeredNames(), labels };
});

function valuesOf(metric: string, label: string): string[] {
  return [...(known.labels.get(metric)?.get(label) ?? [])].sort();
}

// ---------------------------------------------------------------------------------------------
// A PromQL reader: enough to find metric names, selectors and grouping labels.

interface Token {
  kind: 'string' | 'var' | 'duration' | 'number' | 'ident' | 'op' | 'punct';
  text: string;
}

const TOKEN_RULES: Array<[Token['kind'], RegExp]> = [
  ['string', /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/],
  ['var', /^(?:\$\{[A-Za-z_]\w*(?::\w+)?\}|\$[A-Za-z_]\w*)/],
  ['duration', /^\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:])/],
  ['number', /^(?:0x[0-9a-f]+|\d*\.?\d+(?:e[+-]?\d+)?)(?![\w:])/i],
  ['ident', /^[A-Za-z_:][\w:]*/],
  ['op', /^(?:=~|!~|!=|==|>=|<=|[=<>+\-*/%^@])/],
  ['punct', /^[(){}[\],]/],
];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let rest = expr;
  while (rest.length > 0) {
    const space = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (space) {
      rest = rest.slice(space[0].length);
      continue;
    }
    let matched = false;
    for (const [kind, re] of TOKEN_RULES) {
      const m = re.exec(rest);
      if (!m) continue;
      tokens.push({ kind, text: m[0] });
      rest = rest.slice(m[0].length);
      matched = true;
      break;
    }
    if (!matched) throw new Error(`cannot read ${JSON.stringify(rest.slice(0, 30))} in ${expr}`);
  }
  return tokens;
}

const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'count',
  'min',
  'max',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

interface Selector {
  metric: string;
  label: string;
  op: string;
  value: string;
}

interface Analysis {
  metrics: string[];
  selectors: Selector[];
  grouping: Array<{ kind: string; labels: string[] }>;
  /** Grafana variables ($x, ${x}), anywhere in the text. */
  variables: string[];
}

function unquote(text: string): string {
  if (text.startsWith('`')) return text.slice(1, -1);
  return text.slice(1, -1).replace(/\\(.)/g, '$1');
}

function analyze(expr: string): Analysis {
  const t = tokenize(expr);
  const out: Analysis = { metrics: [], selectors: [], grouping: [], variables: [] };
  for (const m of expr.matchAll(/\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)/g)) out.variables.push((m[1] ?? m[2])!);

  // Brackets must pair up: a cheap syntax check that needs no Prometheus.
  const open: string[] = [];
  for (const tok of t) {
    if (tok.kind !== 'punct') continue;
    if ('({['.includes(tok.text)) open.push(tok.text);
    else if (')}]'.includes(tok.text)) {
      const expected = { ')': '(', '}': '{', ']': '[' }[tok.text];
      if (open.pop() !== expected) throw new Error(`unbalanced ${tok.text} in ${expr}`);
    }
  }
  if (open.length) throw new Error(`unclosed ${open.join('')} in ${expr}`);

  /** Reads `{label op "value", …}` from t[start] = '{'; returns the index of '}'. */
  const readMatchers = (start: number, metric: string): number => {
    let i = start + 1;
    while (t[i]?.text !== '}') {
      const [label, op, value] = [t[i], t[i + 1], t[i + 2]];
      if (label?.kind !== 'ident' || !['=', '!=', '=~', '!~'].includes(op?.text ?? '') || value?.kind !== 'string')
        throw new Error(
          `a label matcher expected at ${t
            .slice(i, i + 3)
            .map((x) => x.text)
            .join(' ')} in ${expr}`,
        );
      out.selectors.push({ metric, label: label.text, op: op!.text, value: unquote(value.text) });
      i += 3;
      if (t[i]?.text === ',') i++;
    }
    return i;
  };

  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const next = t[i + 1];
    if (tok.text === '[') {
      while (t[i]?.text !== ']') i++; // ranges and subqueries: durations only
      continue;
    }
    if (tok.text === '{') {
      // A selector without a name before it: {__name__="…", …}.
      const from = out.selectors.length;
      i = readMatchers(i, '');
      const name = out.selectors.slice(from).find((s) => s.label === '__name__' && s.op === '=')?.value ?? '';
      for (const s of out.selectors.slice(from)) s.metric = name;
      if (name) out.metrics.push(name);
      continue;
    }
    if (tok.kind !== 'ident') continue;
    if (GROUPING.has(tok.text)) {
      if (next?.text === '(') {
        const labels: string[] = [];
        let j = i + 2;
        for (; t[j]?.text !== ')'; j++) if (t[j]!.kind === 'ident') labels.push(t[j]!.text);
        out.grouping.push({ kind: tok.text, labels });
        i = j;
      }
      continue;
    }
    if (KEYWORDS.has(tok.text.toLowerCase())) continue;
    if (next?.text === '(') continue; // a function or an aggregation
    if (AGGREGATIONS.has(tok.text) && (next?.text === 'by' || next?.text === 'without')) continue;
    out.metrics.push(tok.text);
    if (next?.text === '{') i = readMatchers(i + 1, tok.text);
  }
  return out;
}

/** Every label the metrics of an expression have (as exposed), plus the target labels. */
function labelsAvailable(metrics: readonly string[]): Set<string> {
  const labels = new Set(TARGET_LABELS);
  for (const metric of metrics) for (const label of known.labels.get(metric)?.keys() ?? []) labels.add(label);
  return labels;
}

/**
 * The problems of one expression: a metric the daemon does not register, a label it does not
 * have, a label value it never emits. Grafana variables in values ("$janus_id") are skipped.
 */
function problemsOf(where: string, expr: string): string[] {
  const a = analyze(expr);
  const problems: string[] = [];
  if (a.metrics.length === 0) problems.push(`${where}: no metric in ${expr}`);
  for (const metric of a.metrics) {
    if (!known.names.has(metric)) problems.push(`${where}: ${metric} is not a metric the daemon registers`);
  }
  for (const s of a.selectors) {
    if (s.label === '__name__' || !known.names.has(s.metric)) continue;
    const theirs = known.labels.get(s.metric);
    if (!TARGET_LABELS.has(s.label) && !theirs?.has(s.label)) {
      problems.push(
        `${where}: ${s.metric} has no label ${s.label} (it has ${[...(theirs?.keys() ?? [])].join(', ') || 'none'})`,
      );
      continue;
    }
    if (TARGET_LABELS.has(s.label) || OPEN_LABELS.has(s.label) || s.value.includes('$')) continue;
    const emitted = valuesOf(s.metric, s.label);
    const wanted = s.op === '=' || s.op === '!=' ? [s.value] : s.value.split('|');
    for (const value of wanted) {
      if (!/^[\w-]+$/.test(value))
        problems.push(
          `${where}: ${s.label}${s.op}"${s.value}": only plain values and a|b alternatives are checked here`,
        );
      else if (!emitted.includes(value))
        problems.push(`${where}: ${s.metric}{${s.label}="${value}"} is never emitted (values: ${emitted.join(', ')})`);
    }
  }
  const available = labelsAvailable(a.metrics);
  for (const g of a.grouping) {
    for (const label of g.labels)
      if (!available.has(label)) problems.push(`${where}: ${g.kind} (${label}): no metric of the expression has it`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The dashboard.

interface Target {
  where: string;
  expr: string;
}

function allPanels(panels: Obj[] = dashboard.panels ?? []): Obj[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const panels = allPanels();
const dataPanels = panels.filter((p) => p.type !== 'row');
const variables = (dashboard.templating?.list ?? []) as Obj[];
const targets: Target[] = dataPanels.flatMap((p) =>
  ((p.targets ?? []) as Obj[]).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: String(t.expr ?? '') })),
);
/** `label_values(<selector>, <label>)` of the query variables. */
const variableQueries = variables
  .filter((v) => v.type === 'query')
  .map((v) => {
    const query = typeof v.query === 'string' ? v.query : String(v.query?.query ?? '');
    const m = /^label_values\((.+),\s*([A-Za-z_]\w*)\)$/.exec(query.trim());
    return { name: String(v.name), query, definition: v.definition, selector: m?.[1] ?? '', label: m?.[2] ?? '' };
  });
/** Grafana's own variables. */
const BUILT_INS = new Set(['__rate_interval', '__interval', '__range', '__range_s', '__interval_ms']);

describe('the Grafana dashboard (deploy/monitoring/grafana-dashboard.json)', () => {
  it('is a Grafana 10 dashboard: schema version, uid, title, no fixed id, time settings', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(39);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe('janus-nats-bridge');
    expect(dashboard.id ?? null, 'a fixed id would clash on import').toBeNull();
    expect(dashboard.time).toEqual({ from: expect.any(String) as string, to: 'now' });
    expect(dashboardText.endsWith('\n')).toBe(true);
  });

  it('has a Prometheus datasource variable every panel and target uses, and a janus_id one from label_values', () => {
    const ds = variables.find((v) => v.type === 'datasource');
    expect(ds, 'a datasource template variable').toBeDefined();
    expect(ds!.query).toBe('prometheus');
    const uid = `\${${ds!.name}}`;
    for (const p of dataPanels) {
      expect(p.datasource, `panel "${p.title}"`).toEqual({ type: 'prometheus', uid });
      for (const t of p.targets as Obj[])
        expect(t.datasource ?? p.datasource, `panel "${p.title}" ${t.refId}`).toEqual({ type: 'prometheus', uid });
    }
    for (const v of variables.filter((x) => x.type === 'query'))
      expect(v.datasource, `variable ${v.name}`).toEqual({ type: 'prometheus', uid });
    const janusId = variableQueries.find((v) => v.name === 'janus_id');
    expect(janusId?.label, 'janus_id comes from label_values(…, janus_id)').toBe('janus_id');
    for (const v of variableQueries) {
      expect(v.label, `variable ${v.name}: label_values(<selector>, <label>)`).not.toBe('');
      expect(v.definition ?? v.query).toBe(v.query);
      expect(problemsOf(`variable ${v.name}`, v.selector)).toEqual([]);
      const [metric] = analyze(v.selector).metrics;
      expect(labelsAvailable([metric!]).has(v.label), `variable ${v.name}: ${metric} has the label ${v.label}`).toBe(
        true,
      );
    }
  });

  it('panels: unique ids, known types, in the 24-column grid, no overlap; targets with an expr, unique refIds', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(['row', 'timeseries', 'stat', 'state-timeline', 'table', 'bargauge', 'gauge']).toContain(p.type);
      const { x, y, w, h } = p.gridPos as { x: number; y: number; w: number; h: number };
      expect(x >= 0 && w > 0 && h > 0 && x + w <= 24, `panel "${p.title}" gridPos ${JSON.stringify(p.gridPos)}`).toBe(
        true,
      );
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `panel "${p.title}" overlaps another at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.title, 'a title').toBeTruthy();
      const refIds = (p.targets as Obj[]).map((t) => t.refId);
      expect(refIds.length, `panel "${p.title}" has targets`).toBeGreaterThan(0);
      expect(new Set(refIds).size, `panel "${p.title}" refIds`).toBe(refIds.length);
      for (const t of p.targets as Obj[])
        expect(String(t.expr ?? '').trim(), `panel "${p.title}" ${t.refId}`).not.toBe('');
    }
  });

  it('every metric, label and label value in every target is exported by the daemon (a rename fails here)', () => {
    expect(targets.length).toBeGreaterThan(20);
    expect(targets.flatMap((t) => problemsOf(t.where, t.expr))).toEqual([]);
  });

  it('every variable a target uses is a template variable of the dashboard or a Grafana built-in', () => {
    const defined = new Set(variables.map((v) => String(v.name)));
    for (const t of [...targets, ...variableQueries.map((v) => ({ where: `variable ${v.name}`, expr: v.query }))]) {
      for (const name of analyze(t.expr).variables)
        expect(defined.has(name) || BUILT_INS.has(name), `${t.where}: $${name}`).toBe(true);
    }
  });

  it('charts every janus_bridge_ metric the daemon registers, request duration quantiles, process CPU, memory', () => {
    const used = new Set(
      targets.flatMap((t) => analyze(t.expr).metrics).map((m) => m.replace(/_(bucket|sum|count)$/, '')),
    );
    const daemon = [...known.names].filter((n) => n.startsWith('janus_bridge_') && !/_(bucket|sum|count)$/.test(n));
    expect(
      daemon.filter((name) => !used.has(name) && !used.has(`${name}_bucket`)),
      'janus_bridge_ metrics the dashboard does not chart',
    ).toEqual([]);
    for (const q of ['0.5', '0.99']) {
      expect(
        targets.some(
          (t) =>
            t.expr.startsWith(`histogram_quantile(${q},`) &&
            t.expr.includes('janus_bridge_request_duration_seconds_bucket'),
        ),
        `p${Number(q) * 100}`,
      ).toBe(true);
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes'])
      expect(used.has(name), name).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The alerting rules.

const DURATION = /^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/;
/** `{{ $labels.x }}` only: what the promtool scenarios below render themselves. */
const TEMPLATE = /\{\{\s*\$labels\.([A-Za-z_]\w*)\s*\}\}/g;

/** What the operator asked for: alert, the metric it watches, its `for`. */
const REQUIRED: Array<[alert: string, metric: string, forDuration: string]> = [
  ['JanusBridgeJanusConnectionDown', 'janus_bridge_connection_state', '1m'],
  ['JanusBridgeRequestsTimingOut', 'janus_bridge_requests_total', '5m'],
  ['JanusBridgeEventsDropped', 'janus_bridge_events_dropped_total', '0m'],
  ['JanusBridgeNatsDisconnected', 'janus_bridge_nats_connected', '30s'],
  ['JanusBridgeLeasesFlapping', 'janus_bridge_ha_handovers_total', '5m'],
  ['JanusBridgeHeartbeatWritesFailing', 'janus_bridge_ha_lease_renewal_failures_total', '0m'],
  ['JanusBridgeAdminLinkDown', 'janus_bridge_admin_connection_state', '2m'],
  ['JanusBridgeEventHandlerLinkDown', 'janus_bridge_evh_links', '2m'],
];

describe('the alerting rules (alerts.rules.yaml and prometheusrule.yaml)', () => {
  it('alerts.rules.yaml is a rule file: one document, `groups` only, named groups of rules', () => {
    expect(rulesFile).toHaveLength(1);
    expect(Object.keys(rulesFile[0]!)).toEqual(['groups']);
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) {
      expect(Object.keys(g).sort()).toEqual(['name', 'rules']);
      expect(g.name).toMatch(/^[\w-]+$/);
    }
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
  });

  it("the PrometheusRule has the operator's shape: spec.groups[].rules[] with alert, expr, for, labels, …", () => {
    expect(prometheusRule).toHaveLength(1);
    const object = prometheusRule[0]!;
    expect(Object.keys(object).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(object.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(object.kind).toBe('PrometheusRule');
    expect(object.metadata.name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    expect(object.metadata.namespace, 'no namespace: the overlay sets it').toBeUndefined();
    for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
      expect(key).toMatch(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
      expect(typeof value).toBe('string');
    }
    expect(Object.keys(object.spec)).toEqual(['groups']);
    for (const group of object.spec.groups as Obj[]) {
      expect(typeof group.name).toBe('string');
      expect(Array.isArray(group.rules) && group.rules.length > 0, `group ${group.name} has rules`).toBe(true);
      for (const rule of group.rules as Obj[]) {
        expect(Object.keys(rule).sort(), `rule ${rule.alert}`).toEqual([
          'alert',
          'annotations',
          'expr',
          'for',
          'labels',
        ]);
        expect(rule.alert).toMatch(/^JanusBridge[A-Z][A-Za-z]+$/);
        expect(typeof rule.expr).toBe('string');
        expect(rule.for, `rule ${rule.alert}: for`).toMatch(DURATION);
        expect(['critical', 'warning', 'info'], `rule ${rule.alert}: severity`).toContain(rule.labels.severity);
        for (const key of ['summary', 'description', 'runbook']) {
          expect(typeof rule.annotations[key], `rule ${rule.alert}: annotation ${key}`).toBe('string');
          expect(rule.annotations[key].trim().length, `rule ${rule.alert}: annotation ${key}`).toBeGreaterThan(10);
        }
        for (const value of [...Object.values(rule.labels), ...Object.values(rule.annotations)])
          expect(typeof value).toBe('string');
      }
    }
  });

  it('the PrometheusRule holds exactly the groups of alerts.rules.yaml', () => {
    expect(prometheusRule[0]!.spec.groups).toEqual(rulesFile[0]!.groups);
  });

  it('has the alerts asked for, each on its metric and with its `for`; alert names are unique', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const [alert, metric, forDuration] of REQUIRED) {
      const rule = rules.find((r) => r.alert === alert);
      expect(rule, alert).toBeDefined();
      expect(analyze(rule!.expr).metrics, alert).toContain(metric);
      expect(rule!.for, alert).toBe(forDuration);
    }
    const selects = (alert: string, metric: string, label: string, value: string) =>
      analyze(rules.find((r) => r.alert === alert)!.expr).selectors.some(
        (s) => s.metric === metric && s.label === label && s.op === '=' && s.value === value,
      );
    expect(selects('JanusBridgeJanusConnectionDown', 'janus_bridge_connection_state', 'state', 'ready')).toBe(true);
    expect(selects('JanusBridgeAdminLinkDown', 'janus_bridge_admin_connection_state', 'state', 'ready')).toBe(true);
    expect(selects('JanusBridgeRequestsTimingOut', 'janus_bridge_requests_total', 'outcome', 'timeout')).toBe(true);
    expect(analyze(rules.find((r) => r.alert === 'JanusBridgeLeasesFlapping')!.expr).metrics).toContain(
      'janus_bridge_ha_failovers_total',
    );
  });

  it('every metric, label and label value in every rule is exported by the daemon (a rename fails here)', () => {
    expect(rules.flatMap((r) => problemsOf(`alert ${r.alert}`, r.expr))).toEqual([]);
    for (const r of rules) expect(analyze(r.expr).variables, `alert ${r.alert}: no Grafana variables`).toEqual([]);
  });

  it('annotations name only labels the expression keeps ({{ $labels.x }}, nothing else templated)', () => {
    for (const r of rules) {
      const a = analyze(r.expr);
      let kept = labelsAvailable(a.metrics);
      for (const g of a.grouping) {
        if (g.kind === 'without') kept = new Set([...kept].filter((l) => !g.labels.includes(l)));
        if (g.kind === 'by') kept = new Set([...kept].filter((l) => g.labels.includes(l)));
      }
      for (const [key, text] of Object.entries(r.annotations)) {
        expect(text.replace(TEMPLATE, '').includes('{{'), `alert ${r.alert} ${key}: only {{ $labels.x }}`).toBe(false);
        for (const [, label] of text.matchAll(TEMPLATE))
          expect(kept.has(label!), `alert ${r.alert} ${key}: $labels.${label}`).toBe(true);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The label values the checks above accept are the daemon's: the fixture covers every constant.

describe('the label values the checks accept', () => {
  it('are the exported constants (and the drop reasons of src/ops/metrics.ts, not exported, as emitted)', () => {
    expect(valuesOf('janus_bridge_requests_total', 'outcome')).toEqual([...OUTCOMES].sort());
    expect(valuesOf('janus_bridge_admin_requests_total', 'outcome')).toEqual([...OUTCOMES].sort());
    expect(valuesOf('janus_bridge_connection_state', 'state')).toEqual([...CONNECTION_STATES].sort());
    expect(valuesOf('janus_bridge_admin_connection_state', 'state')).toEqual([...ADMIN_LINK_STATES].sort());
    expect(valuesOf('janus_bridge_publish_failures_total', 'kind')).toEqual([...PUBLISH_KINDS].sort());
    expect(valuesOf('janus_bridge_reply_subjects_refused_total', 'kind')).toEqual([...REFUSED_REPLY_KINDS].sort());
    expect(valuesOf('janus_bridge_evh_events_dropped_total', 'reason')).toEqual([...EVH_DROP_REASONS].sort());
    expect(valuesOf('janus_bridge_evh_refused_total', 'reason')).toEqual([...REFUSAL_REASONS].sort());
    expect(valuesOf('janus_bridge_ha_handovers_total', 'direction')).toEqual(['given', 'taken']);
    // Not exported (src/ops/metrics.ts DROP_REASONS): what the daemon emits is the list.
    expect(valuesOf('janus_bridge_events_dropped_total', 'reason')).toContain('nats_unavailable');
  });

  it('every janus_bridge_ metric has series in the fixture (no vacuous label check), and no other name', () => {
    const daemon = [...known.names].filter((n) => n.startsWith('janus_bridge_') && !/_(bucket|sum|count)$/.test(n));
    const exposed = (name: string) => known.labels.has(name) || known.labels.has(`${name}_bucket`);
    expect(daemon.filter((n) => !exposed(n))).toEqual([]);
    expect([...known.labels.keys()].filter((n) => !known.names.has(n))).toEqual([]);
  });

  it('the checks fail on a renamed metric, a wrong label value, a label the metric lacks, a lost grouping', () => {
    expect(problemsOf('x', 'rate(janus_bridge_request_total[5m])')).toEqual([
      'x: janus_bridge_request_total is not a metric the daemon registers',
    ]);
    expect(problemsOf('x', 'janus_bridge_connection_state{state="up"} == 0')[0]).toContain(
      '{state="up"} is never emitted',
    );
    expect(problemsOf('x', 'janus_bridge_admin_connection_state{state=~"ready|open"}')[0]).toContain(
      '{state="open"} is never emitted',
    );
    expect(problemsOf('x', 'janus_bridge_nats_connected{janus_id="a"}')[0]).toContain('has no label janus_id');
    expect(problemsOf('x', 'sum by (reason) (janus_bridge_pending_requests)')[0]).toContain('by (reason)');
    expect(
      problemsOf(
        'x',
        'histogram_quantile(0.99, sum by (le) ' +
          '(rate(janus_bridge_request_duration_seconds_bucket{janus_id=~"$janus_id"}[$__rate_interval])))',
      ),
    ).toEqual([]);
    expect(() => analyze('sum(rate(x[5m])')).toThrow(/unclosed/);
  });
});

// ---------------------------------------------------------------------------------------------
// promtool: the rules and the dashboard's queries load; the alerts fire on synthetic series.

/** A dashboard expression as Prometheus would receive it from Grafana. */
function substituted(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*');
}

const SERIES_LABELS = 'job="bridge", instance="p1:8080", pod="p1"';
const P2 = 'job="bridge", instance="p2:8080", pod="p2"';

interface Scenario {
  alert: string;
  interval: string;
  series: Array<[string, string]>;
  /** eval_time → the labels of each alert expected then (besides alertname and the rule's labels). */
  expect: Array<[string, Array<Record<string, string>>]>;
}

/** Each alert firing where it should and quiet where it should not; docs/operations.md says the same in words. */
const SCENARIOS: Scenario[] = [
  {
    alert: 'JanusBridgeJanusConnectionDown',
    interval: '15s',
    series: [
      [`janus_bridge_connection_state{${SERIES_LABELS}, janus_id="edge-1", state="ready"}`, '1 1 0x14'],
      [`janus_bridge_connection_state{${SERIES_LABELS}, janus_id="edge-1", state="disconnected"}`, '0 0 1x14'],
      [`janus_bridge_connection_state{${SERIES_LABELS}, janus_id="edge-2", state="ready"}`, '1x16'],
      // edge-3 moved from replica p1 to p2: ready on one replica is enough.
      [`janus_bridge_connection_state{${SERIES_LABELS}, janus_id="edge-3", state="ready"}`, '0x16'],
      [`janus_bridge_connection_state{${P2}, janus_id="edge-3", state="ready"}`, '1x16'],
    ],
    expect: [
      ['1m', []],
      ['2m', [{ job: 'bridge', janus_id: 'edge-1', state: 'ready' }]],
    ],
  },
  {
    alert: 'JanusBridgeRequestsTimingOut',
    interval: '15s',
    series: [
      [`janus_bridge_requests_total{${SERIES_LABELS}, janus_id="edge-1", outcome="timeout"}`, '0+1x60'],
      [`janus_bridge_requests_total{${SERIES_LABELS}, janus_id="edge-1", outcome="ok"}`, '0+10x60'],
      [`janus_bridge_requests_total{${SERIES_LABELS}, janus_id="edge-2", outcome="timeout"}`, '0x30 1x30'],
      [`janus_bridge_requests_total{${SERIES_LABELS}, janus_id="edge-2", outcome="ok"}`, '0+10x60'],
    ],
    expect: [
      ['3m', []],
      ['10m', [{ ...labelsOf(SERIES_LABELS), janus_id: 'edge-1' }]],
    ],
  },
  {
    alert: 'JanusBridgeEventsDropped',
    interval: '15s',
    series: [
      [
        `janus_bridge_events_dropped_total{${SERIES_LABELS}, janus_id="edge-1", reason="nats_unavailable"}`,
        '0 0 0 0 7x10',
      ],
      [`janus_bridge_events_dropped_total{${SERIES_LABELS}, janus_id="edge-1", reason="too_large"}`, '0x14'],
    ],
    expect: [
      ['45s', []],
      ['2m', [{ ...labelsOf(SERIES_LABELS), janus_id: 'edge-1', reason: 'nats_unavailable' }]],
    ],
  },
  {
    alert: 'JanusBridgeEventHandlerEventsDropped',
    interval: '15s',
    series: [
      [
        `janus_bridge_evh_events_dropped_total{${SERIES_LABELS}, janus_id="edge-1", reason="malformed"}`,
        '0 0 0 0 1x10',
      ],
      [`janus_bridge_evh_events_dropped_total{${SERIES_LABELS}, janus_id="edge-1", reason="buffer_full"}`, '0x14'],
    ],
    expect: [
      ['45s', []],
      ['2m', [{ ...labelsOf(SERIES_LABELS), janus_id: 'edge-1', reason: 'malformed' }]],
    ],
  },
  {
    alert: 'JanusBridgeNatsDisconnected',
    interval: '15s',
    series: [
      [`janus_bridge_nats_connected{${SERIES_LABELS}}`, '1 1 0x10'],
      [`janus_bridge_nats_connected{${P2}}`, '1x12'],
    ],
    expect: [
      ['45s', []],
      ['1m30s', [labelsOf(SERIES_LABELS)]],
    ],
  },
  {
    alert: 'JanusBridgeLeasesFlapping',
    interval: '1m',
    series: [
      [`janus_bridge_ha_leases_held{${SERIES_LABELS}}`, '2x60'],
      [`janus_bridge_ha_leases_held{${P2}}`, '2x60'],
      // Four connections, one taken over every minute (and given by the other replica).
      [`janus_bridge_ha_handovers_total{${SERIES_LABELS}, direction="taken"}`, '0+1x60'],
      [`janus_bridge_ha_handovers_total{${P2}, direction="given"}`, '0+1x60'],
      [`janus_bridge_ha_failovers_total{${SERIES_LABELS}}`, '0x60'],
      [`janus_bridge_ha_failovers_total{${P2}}`, '0x60'],
    ],
    expect: [
      ['5m', []],
      ['30m', [{ job: 'bridge' }]],
    ],
  },
  {
    alert: 'JanusBridgeLeasesFlapping',
    interval: '1m',
    // A rolling update: each of four connections moves twice within minutes, then nothing.
    series: [
      [`janus_bridge_ha_leases_held{${SERIES_LABELS}}`, '2x60'],
      [`janus_bridge_ha_leases_held{${P2}}`, '2x60'],
      [`janus_bridge_ha_handovers_total{${SERIES_LABELS}, direction="taken"}`, '0x5 4x55'],
      [`janus_bridge_ha_handovers_total{${P2}, direction="taken"}`, '0x7 3x53'],
      [`janus_bridge_ha_failovers_total{${SERIES_LABELS}}`, '0x10 1x50'],
      [`janus_bridge_ha_failovers_total{${P2}}`, '0x60'],
    ],
    expect: [
      ['15m', []],
      ['30m', []],
    ],
  },
  {
    alert: 'JanusBridgeHeartbeatWritesFailing',
    interval: '15s',
    series: [
      [`janus_bridge_ha_lease_renewal_failures_total{${SERIES_LABELS}}`, '0 0 0 1+1x20'],
      [`janus_bridge_ha_lease_renewal_failures_total{${P2}}`, '0x10 1x14'],
    ],
    expect: [
      ['30s', []],
      ['3m', [labelsOf(SERIES_LABELS)]],
    ],
  },
  {
    alert: 'JanusBridgeAdminLinkDown',
    interval: '15s',
    series: [
      [`janus_bridge_admin_connection_state{${SERIES_LABELS}, janus_id="edge-1", state="ready"}`, '1 0x20'],
      [`janus_bridge_admin_connection_state{${SERIES_LABELS}, janus_id="edge-1", state="disconnected"}`, '0 1x20'],
      [`janus_bridge_admin_connection_state{${SERIES_LABELS}, janus_id="edge-2", state="ready"}`, '1x21'],
    ],
    expect: [
      ['1m', []],
      ['3m', [{ job: 'bridge', janus_id: 'edge-1', state: 'ready' }]],
    ],
  },
  {
    alert: 'JanusBridgeEventHandlerLinkDown',
    interval: '15s',
    series: [
      [`janus_bridge_evh_links{${SERIES_LABELS}, janus_id="edge-1"}`, '1 1 0x20'],
      // edge-2's Janus reconnected to replica p2: p1 keeps its series at 0.
      [`janus_bridge_evh_links{${SERIES_LABELS}, janus_id="edge-2"}`, '1 0x21'],
      [`janus_bridge_evh_links{${P2}, janus_id="edge-2"}`, '0 1x21'],
    ],
    expect: [
      ['1m', []],
      ['3m', [{ job: 'bridge', janus_id: 'edge-1' }]],
    ],
  },
  {
    alert: 'JanusBridgePublishFailures',
    interval: '15s',
    series: [
      [`janus_bridge_publish_failures_total{${SERIES_LABELS}, kind="reply"}`, '0 0 1x10'],
      [`janus_bridge_publish_failures_total{${SERIES_LABELS}, kind="event"}`, '0x12'],
    ],
    expect: [
      ['15s', []],
      ['1m', [{ ...labelsOf(SERIES_LABELS), kind: 'reply' }]],
    ],
  },
];

function labelsOf(selector: string): Record<string, string> {
  return Object.fromEntries([...selector.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

function promtool(args: string[], cwd: string) {
  return spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8', timeout: 60_000 });
}

describe('promtool', () => {
  let dir: string;
  beforeAll(() => {
    const version = promtool(['--version'], REPO);
    if (version.status !== 0)
      throw new Error(`promtool does not run (${version.error?.message ?? version.stderr}): make deps unpacks it`);
    dir = mkdtempSync(join(tmpdir(), 'jnb-monitoring-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`promtool check rules` accepts alerts.rules.yaml', () => {
    const run = promtool(['check', 'rules', join(DIR, 'alerts.rules.yaml')], dir);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('every dashboard query (variables substituted as Grafana does) is valid PromQL (promtool check rules)', () => {
    const queries = [...targets.map((t) => t.expr), ...variableQueries.map((v) => v.selector)];
    const file = join(dir, 'dashboard-queries.yaml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((expr, i) => ({ record: `dashboard_query:q${i}`, expr: substituted(expr) })),
          },
        ],
      }),
    );
    const run = promtool(['check', 'rules', file], dir);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it('every alert has a scenario in which it fires', () => {
    const firing = new Set(
      SCENARIOS.filter((s) => s.expect.some(([, alerts]) => alerts.length > 0)).map((s) => s.alert),
    );
    expect(rules.map((r) => r.alert).filter((a) => !firing.has(a))).toEqual([]);
  });

  it.each(SCENARIOS.map((s, i) => [`${s.alert} #${i}`, s] as const))(
    '`promtool test rules`: %s fires (and stays quiet) as intended',
    (_name, scenario) => {
      const rule = rules.find((r) => r.alert === scenario.alert)!;
      const render = (labels: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(rule.annotations).map(([k, v]) => [
            k,
            v.replace(TEMPLATE, (_m, l: string) => labels[l] ?? ''),
          ]),
        );
      const test = {
        rule_files: [join(DIR, 'alerts.rules.yaml')],
        evaluation_interval: '15s',
        tests: [
          {
            interval: scenario.interval,
            input_series: scenario.series.map(([series, values]) => ({ series, values })),
            alert_rule_test: scenario.expect.map(([evalTime, alerts]) => ({
              eval_time: evalTime,
              alertname: scenario.alert,
              exp_alerts: alerts.map((labels) => ({
                exp_labels: { ...labels, ...rule.labels },
                exp_annotations: render(labels),
              })),
            })),
          },
        ],
      };
      const file = join(dir, `${scenario.alert}-${SCENARIOS.indexOf(scenario)}.test.yaml`);
      writeFileSync(file, stringify(test));
      const run = promtool(['test', 'rules', file], dir);
      expect(run.status, run.stdout + run.stderr).toBe(0);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The kustomization and the PodMonitor.

describe('deploy/monitoring as a kustomization (Prometheus Operator and Grafana sidecar)', () => {
  const kustomization = parseYaml(join(DIR, 'kustomization.yaml'))[0]!;
  const podMonitor = parseYaml(join(DIR, 'podmonitor.yaml'))[0]!;
  const deployment = parseYaml(join(REPO, 'deploy/k8s/base/deployment.yaml'))[0]!;

  it('lists every manifest and the dashboard; the plain rule file is not a resource', () => {
    expect(kustomization.kind).toBe('Kustomization');
    expect([...kustomization.resources].sort()).toEqual(['podmonitor.yaml', 'prometheusrule.yaml']);
    const generator = (kustomization.configMapGenerator as Obj[])[0]!;
    expect(generator.files).toEqual(['grafana-dashboard.json']);
    expect(generator.options).toMatchObject({ disableNameSuffixHash: true, labels: { grafana_dashboard: '1' } });
    const files = readdirSync(DIR).sort();
    expect(files).toEqual([
      'alerts.rules.yaml',
      'grafana-dashboard.json',
      'kustomization.yaml',
      'podmonitor.yaml',
      'prometheusrule.yaml',
    ]);
  });

  it("the PodMonitor scrapes the bridge's pods on their port `http` at /metrics", () => {
    expect(podMonitor).toMatchObject({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'janus-nats-bridge' },
    });
    expect(podMonitor.metadata.namespace).toBeUndefined();
    const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
    const selector = podMonitor.spec.selector.matchLabels as Record<string, string>;
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(selector)) expect(podLabels[key], `pod label ${key}`).toBe(value);
    const [endpoint] = podMonitor.spec.podMetricsEndpoints as Obj[];
    const ports = (deployment.spec.template.spec.containers[0].ports as Obj[]).map((p) => p.name);
    expect(ports).toContain(endpoint!.port);
    expect(endpoint!.path).toBe('/metrics');
  });

  it.runIf(HAS_KUBECTL)(
    '`kubectl kustomize deploy/monitoring` renders the PrometheusRule, the PodMonitor and the dashboard ConfigMap as ' +
      'the files hold them',
    () => {
      const run = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8', timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      const objects = parseAllDocuments(run.stdout, { version: '1.1' })
        .map((d) => d.toJS() as Obj)
        .filter(Boolean);
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        'ConfigMap/janus-nats-bridge-dashboard',
        'PodMonitor/janus-nats-bridge',
        'PrometheusRule/janus-nats-bridge',
      ]);
      expect(objects.find((o) => o.kind === 'PrometheusRule')).toEqual(prometheusRule[0]);
      expect(objects.find((o) => o.kind === 'PodMonitor')).toEqual(podMonitor);
      const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
      expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
      expect(configMap.data['grafana-dashboard.json']).toBe(dashboardText);
    },
    60_000,
  );
});
