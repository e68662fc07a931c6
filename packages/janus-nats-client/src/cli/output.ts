/** What the CLI prints for people (the --json forms are the objects themselves). */
import type { JanusEvent } from '../events.js';

/** One event as a line: `[subject] {body}`, with --headers `[subject] {headers} {body}`. */
export function eventLine(event: JanusEvent, withHeaders: boolean): string {
  return `[${event.subject}] ${withHeaders ? `${JSON.stringify(event.headers)} ` : ''}${JSON.stringify(event.body)}`;
}

/** One event as the JSON object of a line of `sub --json`. */
export function eventObject(event: JanusEvent, withHeaders: boolean): Record<string, unknown> {
  return {
    subject: event.subject,
    janus_id: event.janusId,
    janus_url: event.janusUrl,
    ...(withHeaders ? { headers: event.headers } : {}),
    body: event.body,
  };
}

/** Rows as aligned columns (the last one not padded). */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>, indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

const text = (value: unknown): string => (value === undefined || value === null ? '-' : String(value));

/** One replica's answer to `<prefix>.admin.status`. */
export interface StatusAnswer {
  readonly host?: string;
  readonly replica?: string;
  readonly instance?: string;
  readonly version?: string;
  readonly connections?: ReadonlyArray<Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** Sorted by replica, then instance (two daemons on one host without HA share the replica name). */
export function sortStatus(answers: StatusAnswer[]): StatusAnswer[] {
  return [...answers].sort(
    (a, b) => text(a.replica).localeCompare(text(b.replica)) || text(a.instance).localeCompare(text(b.instance)),
  );
}

export function statusLines(answers: readonly StatusAnswer[]): string[] {
  const lines: string[] = [];
  for (const answer of answers) {
    const connections = answer.connections ?? [];
    lines.push(
      `replica ${text(answer.replica)} ` +
        `(host ${text(answer.host)}, instance ${text(answer.instance)}, version ${text(answer.version)}): ` +
        `${connections.length} connection${connections.length === 1 ? '' : 's'}`,
    );
    lines.push(
      ...table(
        connections.map((c) => [
          text(c.janus_id),
          text(c.state),
          `session ${text(c.session_id)}`,
          `since ${text(c.since)}`,
          `pending ${text(c.pending)}`,
          text(c.janus_url),
        ]),
        '  ',
      ),
    );
  }
  lines.push(`${answers.length} replica${answers.length === 1 ? '' : 's'} answered`);
  return lines;
}

export function ownersLines(answer: Record<string, unknown>): string[] {
  const replicas = Array.isArray(answer.replicas) ? (answer.replicas as Array<Record<string, unknown>>) : [];
  const owners = Array.isArray(answer.owners) ? (answer.owners as Array<Record<string, unknown>>) : [];
  return [
    `bucket ${text(answer.bucket)}`,
    `replicas (${replicas.length}):`,
    ...table(
      replicas.map((r) => [text(r.replica), `instance ${text(r.instance)}`, `since ${text(r.since)}`]),
      '  ',
    ),
    `owners (${owners.length}):`,
    ...table(
      [
        ['janus_id', 'replica', 'state', 'session', 'since'],
        ...owners.map((o) => [text(o.janus_id), text(o.replica), text(o.state), text(o.session_id), text(o.since)]),
      ],
      '  ',
    ),
  ];
}

const list = (value: unknown): string => (Array.isArray(value) && value.length > 0 ? value.join(', ') : '-');

/** One replica's reload summary. */
export function reloadLines(answer: Record<string, unknown>): string[] {
  if (answer.ok === true) {
    const skipped = Array.isArray(answer.skipped) ? (answer.skipped as Array<Record<string, unknown>>) : [];
    return [
      `reloaded from ${text(answer.source)}`,
      `  added: ${list(answer.added)}`,
      `  removed: ${list(answer.removed)}`,
      `  changed: ${list(answer.changed)}`,
      `  unchanged: ${list(answer.unchanged)}`,
      ...(skipped.length > 0
        ? [
            `  skipped: ${skipped
              .map((s) => `row ${text(s.row)} (${text(s.janus_id) || '""'}): ${text(s.reason)}`)
              .join('; ')}`,
          ]
        : []),
    ];
  }
  const error = (answer.error ?? {}) as Record<string, unknown>;
  return [
    `reload FAILED from ${text(answer.source)}: ${text(error.kind)}: ${text(error.message)} (the running list is kept)`,
  ];
}

/** Ids (list_sessions' sessions, list_handles' handles), one a line; nothing for none. */
export function idLines(ids: unknown): string[] {
  return Array.isArray(ids) ? ids.map((id) => String(id)) : [];
}
