/**
 * `janus-nats`: the bridge's Janus API and admin subjects from a shell. Commands, options and
 * exit statuses: the package README ("Command line") and `janus-nats --help`.
 *
 * Only src/cli/main.ts imports this: the library (src/index.ts) never reaches the CLI or its
 * argument parser.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ErrorCode, headers as natsHeaders, RequestStrategy, type Msg, type NatsConnection } from 'nats';
import { JanusNats, REPLY_GRACE_MS } from '../client.js';
import { subscribeEvents } from '../events.js';
import type { Jsep } from '../handle-api.js';
import { checkJanusId, checkPrefix, DEFAULT_PREFIX, isJanusId } from '../subjects.js';
import { errorFromReply, NoRespondersError, TimeoutError } from '../errors.js';
import {
  DEFAULT_SERVER,
  DEFAULT_TIMEOUT_MS,
  openNats,
  parseDuration,
  secretsOf,
  type GlobalOptions,
} from './connect.js';
import { CliError, describeFailure, EXIT, EXIT_HELP, failureLine, scrub, type ExitCode } from './exit.js';
import {
  eventLine,
  eventObject,
  idLines,
  ownersLines,
  reloadLines,
  sortStatus,
  statusLines,
  type StatusAnswer,
} from './output.js';

/** Where the CLI writes; the process's streams unless a test says otherwise. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

/** How long status and reload keep gathering answers after the last one (ms). */
const DEFAULT_GATHER_MS = 500;

function version(): string {
  try {
    return (
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string })
        .version ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

function durationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** Where JSON.parse stopped, without quoting the argument (it may hold an apisecret). */
function whereJsonFailed(err: unknown): string {
  const message = (err as Error).message ?? '';
  const position = /position (\d+)/.exec(message);
  if (position) return ` (at character ${Number(position[1]) + 1})`;
  if (/end of JSON input/i.test(message)) return ' (it ends too early)';
  return '';
}

function kindOf(value: unknown): string {
  return value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'string'
        ? 'a string'
        : `a ${typeof value}`;
}

export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  /** --json as typed, for the parser's own errors (before the options are known). */
  const jsonWanted = argv.includes('--json');
  let options: GlobalOptions | undefined;
  let exitCode: ExitCode = EXIT.ok;
  const secrets = (): string[] => (options ? secretsOf(options) : []);

  const print = (human: string | string[], machine: unknown): void => {
    if (options?.json) io.out(`${JSON.stringify(machine)}\n`);
    else if (!Array.isArray(human)) io.out(`${human}\n`);
    // An empty list (no sessions, no handles) prints nothing.
    else if (human.length > 0) io.out(`${human.join('\n')}\n`);
  };
  /** A note for people on stderr (not data): JSON with --json. */
  const note = (human: string, machine: Record<string, unknown>): void => {
    io.err(options?.json ? `${JSON.stringify(machine)}\n` : `${human}\n`);
  };

  const program = new Command('janus-nats')
    .description(
      'Janus WebRTC servers behind janus-nats-bridge, from a shell: ' +
        "Janus API requests, handles, events and the bridge's admin subjects over NATS.",
    )
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => {
        const reason = scrub(text.replace(/^error: /, '').trim(), secrets());
        write(
          jsonWanted
            ? `${JSON.stringify({ error: { class: 'UsageError', reason, exit: EXIT.usage } })}\n`
            : `error: ${reason}\n`,
        );
      },
    })
    .addOption(
      new Option('-s, --server <urls>', `NATS server URLs, comma-separated (default ${DEFAULT_SERVER})`).env(
        'NATS_URL',
      ),
    )
    .addOption(new Option('--creds <file>', 'user credentials file (JWT and seed, as nsc writes it)').env('NATS_CREDS'))
    .addOption(new Option('--nkey <file>', 'file with a user NKey seed').env('NATS_NKEY'))
    .addOption(new Option('--user <user>', 'user name').env('NATS_USER'))
    .addOption(
      new Option('--password <password>', 'password (prefer NATS_PASSWORD: argv is visible to other users)').env(
        'NATS_PASSWORD',
      ),
    )
    .addOption(new Option('--token <token>', 'authentication token (prefer NATS_TOKEN)').env('NATS_TOKEN'))
    .addOption(new Option('--tlscert <file>', 'TLS client certificate').env('NATS_CERT'))
    .addOption(new Option('--tlskey <file>', 'TLS client key').env('NATS_KEY'))
    .addOption(new Option('--tlsca <file>', 'CA certificate to verify the server').env('NATS_CA'))
    .addOption(
      new Option(
        '--timeout <duration>',
        'how long a request may take: milliseconds (800) or with a unit (800ms, 5s, 1m); ' +
          'sent to the bridge as Janus-Timeout, the client waits 1 s longer',
      )
        .env('NATS_TIMEOUT')
        .argParser(durationOption)
        .default(DEFAULT_TIMEOUT_MS, `${DEFAULT_TIMEOUT_MS} ms`),
    )
    .addOption(
      new Option('--prefix <prefix>', "the bridge's subject prefix (nats.subjectPrefix)").default(DEFAULT_PREFIX),
    )
    .addOption(
      new Option('--json', 'machine output: one JSON document on stdout (sub: one per line), errors as JSON on stderr'),
    )
    .configureHelp({
      subcommandTerm: (command) =>
        [
          command.name(),
          ...command.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)),
        ].join(' '),
    })
    .showHelpAfterError(jsonWanted ? false : '(janus-nats --help for usage)')
    .addHelpText(
      'after',
      `
Plugins may be named short: "echotest" stands for "janus.plugin.echotest".
A plugin's own error (data.error_code in message's answer) is an answer: exit status 0.

${EXIT_HELP}`,
    );

  program.hook('preAction', (_program, action) => {
    options = action.optsWithGlobals<GlobalOptions>();
  });

  /** A janus_id argument, checked before anything is sent. */
  const janusIdArgument = (command: Command, value: string): string => {
    try {
      return checkJanusId(value);
    } catch (err) {
      return command.error((err as Error).message, { exitCode: EXIT.usage, code: 'janus-nats.usage' });
    }
  };
  const prefixOf = (command: Command): string => {
    try {
      return checkPrefix(options!.prefix);
    } catch (err) {
      return command.error(`--prefix: ${(err as Error).message}`, { exitCode: EXIT.usage, code: 'janus-nats.usage' });
    }
  };
  const handleIdArgument = (command: Command, value: string, what = 'handle_id'): number => {
    const n = Number(value);
    if (!/^[1-9]\d*$/.test(value) || !Number.isSafeInteger(n)) {
      command.error(`${what} must be a positive whole number below 2^53, got ${JSON.stringify(value)}`, {
        exitCode: EXIT.usage,
        code: 'janus-nats.usage',
      });
    }
    return n;
  };
  const objectArgument = (command: Command, what: string, text: string, example: string): Record<string, unknown> => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return command.error(
        `${what} is not valid JSON${whereJsonFailed(err)}; quote it for the shell, e.g. '${example}'`,
        { exitCode: EXIT.usage, code: 'janus-nats.invalidJson' },
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return command.error(`${what} must be a JSON object, e.g. '${example}'; got ${kindOf(value)}`, {
        exitCode: EXIT.usage,
        code: 'janus-nats.invalidJson',
      });
    }
    return value as Record<string, unknown>;
  };

  /** Runs `act` with a NATS connection, closed afterwards whatever happens. */
  const withNats = async (act: (nc: NatsConnection) => Promise<void>): Promise<void> => {
    const nc = await openNats(options!);
    try {
      await act(nc);
    } finally {
      // A close that fails must not hide what `act` did (its result or its error).
      await nc.close().catch(() => undefined);
    }
  };
  /** Runs `act` with a JanusNats for `janusId`, closed afterwards. */
  const withJanus = (janusId: string, act: (janus: JanusNats) => Promise<void>): Promise<void> =>
    withNats(async (nc) => {
      const janus = new JanusNats(nc, janusId, { prefix: options!.prefix, timeout: options!.timeout });
      try {
        await act(janus);
      } finally {
        await janus.close();
      }
    });

  /** One request on an admin subject: the reply's JSON. */
  const adminRequest = async (nc: NatsConnection, subject: string, why: string): Promise<Record<string, unknown>> => {
    let msg: Msg;
    try {
      msg = await nc.request(subject, '', { timeout: options!.timeout });
    } catch (err) {
      throw adminError(err, subject, why, options!.timeout);
    }
    return parseAdminReply(msg, subject);
  };
  /**
   * Every answer on an admin subject (each replica answers):
   * until `gather` ms pass without a new one, or --timeout without any.
   */
  const adminGather = async (
    nc: NatsConnection,
    subject: string,
    why: string,
    gather: number,
  ): Promise<Array<Record<string, unknown>>> => {
    const answers: Array<Record<string, unknown>> = [];
    try {
      const replies = await nc.requestMany(subject, '', {
        strategy: RequestStrategy.JitterTimer,
        maxWait: options!.timeout,
        jitter: gather,
      });
      for await (const msg of replies) answers.push(parseAdminReply(msg, subject));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw adminError(err, subject, why, options!.timeout);
    }
    if (answers.length === 0) throw new TimeoutError(subject, options!.timeout);
    return answers;
  };

  /**
   * One request on `<prefix>.adminapi.<janus_id>` (Janus's Admin API through the bridge): Janus's
   * answer, or its error thrown as for `request` (JanusError below 600, BridgeError 600–699, e.g.
   * 608 a verb the bridge does not pass on, 609 no janus_admin_url). --timeout travels as
   * Janus-Timeout and the NATS request waits REPLY_GRACE_MS longer, as JanusNats.request does.
   */
  const adminApiRequest = async (
    nc: NatsConnection,
    prefix: string,
    janusId: string,
    message: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => {
    const subject = `${prefix}.adminapi.${janusId}`;
    const timeout = options!.timeout;
    const h = natsHeaders();
    h.set('Janus-Timeout', String(timeout));
    const waitMs = timeout + REPLY_GRACE_MS;
    let msg: Msg;
    try {
      msg = await nc.request(subject, JSON.stringify(message), { timeout: waitMs, headers: h });
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === ErrorCode.NoResponders) throw new NoRespondersError(subject, janusId, err);
      if (code === ErrorCode.Timeout) throw new TimeoutError(subject, waitMs, err);
      throw err;
    }
    const reply = parseAdminReply(msg, subject);
    if (typeof reply.janus !== 'string')
      throw new CliError('JanusNatsError', EXIT.other, `the reply on ${subject} is not a Janus message`);
    if (reply.janus === 'error') throw errorFromReply(reply, msg.headers?.get('Nats-Service-Error-Code'));
    return reply;
  };
  /**
   * The bridge's Janus session for `janusId`, from `<prefix>.admin.status`: the replica serving
   * it answers with its session_id (the others do not list it). Stops at the first answer that
   * lists it; waits for the others until none came for DEFAULT_GATHER_MS otherwise.
   */
  const bridgeSession = async (nc: NatsConnection, prefix: string, janusId: string): Promise<number> => {
    const subject = `${prefix}.admin.status`;
    let listed: Record<string, unknown> | undefined;
    let answered = 0;
    try {
      const replies = await nc.requestMany(subject, '', {
        strategy: RequestStrategy.JitterTimer,
        maxWait: options!.timeout,
        jitter: DEFAULT_GATHER_MS,
      });
      for await (const msg of replies) {
        answered++;
        const connections = (parseAdminReply(msg, subject) as StatusAnswer).connections ?? [];
        const connection = connections.find((c) => c.janus_id === janusId);
        if (connection === undefined) continue;
        listed = connection;
        if (isJanusId(connection.session_id)) return connection.session_id;
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw adminError(err, subject, `no bridge runs with prefix "${prefix}"`, options!.timeout);
    }
    if (answered === 0) throw new TimeoutError(subject, options!.timeout);
    if (listed === undefined)
      throw new CliError(
        'NoRespondersError',
        EXIT.noResponders,
        `no bridge serves janus_id "${janusId}" ` +
          `(${answered} replica${answered === 1 ? '' : 's'} answered ${subject}, none lists it)`,
      );
    throw new CliError(
      'JanusNatsError',
      EXIT.other,
      `the bridge has no Janus session for "${janusId}" now (state ${String(listed.state)}); give --session`,
    );
  };
  /** The request of `admin`: a JSON object with a "janus" verb. */
  const adminMessageArgument = (command: Command, text: string): Record<string, unknown> => {
    const message = objectArgument(command, 'the Admin API request', text, '{"janus":"list_sessions"}');
    if (typeof message.janus !== 'string' || message.janus === '') {
      command.error('the Admin API request needs a "janus" verb, e.g. \'{"janus":"list_sessions"}\'', {
        exitCode: EXIT.usage,
        code: 'janus-nats.usage',
      });
    }
    return message;
  };

  program
    .command('request')
    .description("send any Janus API request (the bridge adds its session); prints Janus's reply")
    .argument('<janus_id>', "the Janus, by its id in the bridge's list")
    .argument('<json>', 'the request, e.g. \'{"janus":"info"}\'')
    .action(async (id: string, text: string, _opts: unknown, command: Command) => {
      const janusId = janusIdArgument(command, id);
      prefixOf(command);
      const message = objectArgument(command, 'the request', text, '{"janus":"info"}');
      if (typeof message.janus !== 'string' || message.janus === '') {
        command.error('the request needs a "janus" verb, e.g. \'{"janus":"info"}\'', {
          exitCode: EXIT.usage,
          code: 'janus-nats.usage',
        });
      }
      await withJanus(janusId, async (janus) => {
        const reply = await janus.request(message as { janus: string });
        print(JSON.stringify(reply, null, 2), reply);
      });
    });

  program
    .command('attach')
    .description("attach a new handle to a plugin on the bridge's session; prints the handle id")
    .argument('<janus_id>', 'the Janus')
    .argument('<plugin>', 'the plugin, e.g. janus.plugin.echotest (or echotest)')
    .option('--opaque-id <id>', "Janus's opaque_id for the handle")
    .action(async (id: string, pluginName: string, opts: { opaqueId?: string }, command: Command) => {
      const janusId = janusIdArgument(command, id);
      prefixOf(command);
      const plugin = pluginName.includes('.') ? pluginName : `janus.plugin.${pluginName}`;
      await withJanus(janusId, async (janus) => {
        const handle = await janus.attach(plugin, opts.opaqueId === undefined ? {} : { opaqueId: opts.opaqueId });
        print(String(handle.id), {
          janus_id: janusId,
          plugin,
          handle_id: handle.id,
          ...(handle.sessionId !== undefined ? { session_id: handle.sessionId } : {}),
        });
        await handle.close();
      });
    });

  program
    .command('message')
    .description("send a message to a handle's plugin; prints the plugin's answer {data, jsep}")
    .argument('<janus_id>', 'the Janus')
    .argument('<handle_id>', 'the handle')
    .argument('<body>', 'the message body, e.g. \'{"audio":true}\'')
    .option('--jsep <json>', 'a JSEP offer or answer, e.g. \'{"type":"offer","sdp":"v=0…"}\'')
    .action(async (id: string, handleText: string, bodyText: string, opts: { jsep?: string }, command: Command) => {
      const janusId = janusIdArgument(command, id);
      prefixOf(command);
      const handleId = handleIdArgument(command, handleText);
      const body = objectArgument(command, 'the message body', bodyText, '{"audio":true}');
      const jsep =
        opts.jsep === undefined
          ? undefined
          : (objectArgument(command, '--jsep', opts.jsep, '{"type":"offer","sdp":"…"}') as unknown as Jsep);
      await withJanus(janusId, async (janus) => {
        const handle = await janus.handle(handleId);
        const answer = await handle.message(body, jsep);
        print(JSON.stringify(answer, null, 2), answer);
      });
    });

  program
    .command('detach')
    .description('detach a handle')
    .argument('<janus_id>', 'the Janus')
    .argument('<handle_id>', 'the handle')
    .action(async (id: string, handleText: string, _opts: unknown, command: Command) => {
      const janusId = janusIdArgument(command, id);
      prefixOf(command);
      const handleId = handleIdArgument(command, handleText);
      await withJanus(janusId, async (janus) => {
        const handle = await janus.handle(handleId);
        await handle.detach();
        print(`handle ${handleId} detached`, { janus_id: janusId, handle_id: handleId, detached: true });
      });
    });

  program
    .command('ping')
    .description("Janus's ping through the bridge; prints the round trip in milliseconds")
    .argument('<janus_id>', 'the Janus')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const janusId = janusIdArgument(command, id);
      prefixOf(command);
      await withJanus(janusId, async (janus) => {
        const started = performance.now();
        await janus.ping();
        const ms = Math.round((performance.now() - started) * 100) / 100;
        print(`pong from ${janusId} in ${ms.toFixed(2)} ms`, { janus_id: janusId, rtt_ms: ms });
      });
    });

  program
    .command('sub')
    .description('print events as they come, until Ctrl-C or SIGTERM: one per line, "[subject] {body}"')
    .argument('[janus_id]', 'one Janus (default: every Janus behind the prefix)')
    .option(
      '--type <type>',
      'only these Janus-Type values (event, hangup, detached, …); repeat or comma-separate',
      collect,
    )
    .option('--headers', 'also print the decoded headers (type, session, handle, plugin, transaction, msgId)')
    .option('--count <n>', 'stop after n events', positiveInteger)
    .action(
      async (
        id: string | undefined,
        opts: { type?: string[]; headers?: boolean; count?: number },
        command: Command,
      ) => {
        const janusId = id === undefined ? undefined : janusIdArgument(command, id);
        const prefix = prefixOf(command);
        await withNats(async (nc) => {
          const stream = subscribeEvents(nc, {
            prefix,
            ...(janusId !== undefined ? { janusId } : {}),
            ...(opts.type !== undefined && opts.type.length > 0 ? { type: opts.type } : {}),
          });
          await nc.flush();
          let stopped = false;
          const stop = (): void => {
            stopped = true;
            // close() only unsubscribes and ends the iteration below, which goes on from there.
            void stream.close();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          note(`listening on ${stream.subjects.join(', ')} (Ctrl-C to stop)`, { listening: stream.subjects });
          let seen = 0;
          try {
            for await (const event of stream) {
              print(eventLine(event, opts.headers === true), eventObject(event, opts.headers === true));
              if (opts.count !== undefined && ++seen >= opts.count) {
                stopped = true;
                break;
              }
            }
          } finally {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
          }
          if (!stopped)
            throw new CliError('NatsError', EXIT.connection, 'the NATS connection closed', ErrorCode.ConnectionClosed);
        });
      },
    );

  program
    .command('status')
    .description("every replica's connections (<prefix>.admin.status: each replica answers), sorted by replica")
    .option(
      '--wait <duration>',
      'keep gathering answers until none came for this long',
      durationOption,
      DEFAULT_GATHER_MS,
    )
    .action(async (opts: { wait: number }, command: Command) => {
      const prefix = prefixOf(command);
      await withNats(async (nc) => {
        const answers = sortStatus(
          (await adminGather(
            nc,
            `${prefix}.admin.status`,
            `no bridge runs with prefix "${prefix}"`,
            opts.wait,
          )) as StatusAnswer[],
        );
        print(statusLines(answers), answers);
      });
    });

  program
    .command('owners')
    .description('the ownership table with several replicas (<prefix>.admin.owners, ha.enabled)')
    .action(async (_opts: unknown, command: Command) => {
      const prefix = prefixOf(command);
      await withNats(async (nc) => {
        const table = await adminRequest(
          nc,
          `${prefix}.admin.owners`,
          `no bridge with ha.enabled runs with prefix "${prefix}"`,
        );
        print(ownersLines(table), table);
      });
    });

  program
    .command('reload')
    .description(
      'reload the connection list (<prefix>.admin.reload: every replica reloads and answers); prints each summary',
    )
    .option(
      '--wait <duration>',
      'keep gathering answers until none came for this long',
      durationOption,
      DEFAULT_GATHER_MS,
    )
    .action(async (opts: { wait: number }, command: Command) => {
      const prefix = prefixOf(command);
      await withNats(async (nc) => {
        const answers = await adminGather(
          nc,
          `${prefix}.admin.reload`,
          `no bridge runs with prefix "${prefix}"`,
          opts.wait,
        );
        print(
          answers.flatMap((answer) => reloadLines(answer)),
          answers,
        );
        if (answers.some((answer) => answer.ok !== true)) exitCode = EXIT.reloadFailed;
      });
    });

  program
    .command('admin')
    .description(
      'send a Janus Admin API request (<prefix>.adminapi.<janus_id>: the bridge adds the admin secret, ' +
        "passes read-only verbs unless adminApi.allowVerbs); prints Janus's answer",
    )
    .argument('<janus_id>', 'the Janus (its connection needs a janus_admin_url)')
    .argument('<json>', 'the request, e.g. \'{"janus":"list_sessions"}\'')
    .action(async (id: string, text: string, _opts: unknown, command: Command) => {
      const janusId = janusIdArgument(command, id);
      const prefix = prefixOf(command);
      const message = adminMessageArgument(command, text);
      await withNats(async (nc) => {
        const reply = await adminApiRequest(nc, prefix, janusId, message);
        print(JSON.stringify(reply, null, 2), reply);
      });
    });

  program
    .command('sessions')
    .description('the Janus sessions (Admin API list_sessions); prints one session id a line')
    .argument('<janus_id>', 'the Janus (its connection needs a janus_admin_url)')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const janusId = janusIdArgument(command, id);
      const prefix = prefixOf(command);
      await withNats(async (nc) => {
        const reply = await adminApiRequest(nc, prefix, janusId, { janus: 'list_sessions' });
        print(idLines(reply.sessions), reply);
      });
    });

  program
    .command('handles')
    .description(
      "the handles of the bridge's session (or --session) (Admin API list_handles); prints one handle id a line",
    )
    .argument('<janus_id>', 'the Janus (its connection needs a janus_admin_url)')
    .option('--session <id>', "the session (default: the bridge's, from <prefix>.admin.status)")
    .action(async (id: string, opts: { session?: string }, command: Command) => {
      const janusId = janusIdArgument(command, id);
      const prefix = prefixOf(command);
      const given = opts.session === undefined ? undefined : handleIdArgument(command, opts.session, '--session');
      await withNats(async (nc) => {
        const sessionId = given ?? (await bridgeSession(nc, prefix, janusId));
        const reply = await adminApiRequest(nc, prefix, janusId, { janus: 'list_handles', session_id: sessionId });
        print(idLines(reply.handles), reply);
      });
    });

  program
    .command('handle-info')
    .description(
      "a handle's state in Janus (Admin API handle_info) on the bridge's session (or --session); " +
        'prints its info, indented',
    )
    .argument('<janus_id>', 'the Janus (its connection needs a janus_admin_url)')
    .argument('<handle_id>', 'the handle')
    .option('--session <id>', "the session holding the handle (default: the bridge's, from <prefix>.admin.status)")
    .action(async (id: string, handleText: string, opts: { session?: string }, command: Command) => {
      const janusId = janusIdArgument(command, id);
      const prefix = prefixOf(command);
      const handleId = handleIdArgument(command, handleText);
      const given = opts.session === undefined ? undefined : handleIdArgument(command, opts.session, '--session');
      await withNats(async (nc) => {
        const sessionId = given ?? (await bridgeSession(nc, prefix, janusId));
        const reply = await adminApiRequest(nc, prefix, janusId, {
          janus: 'handle_info',
          session_id: sessionId,
          handle_id: handleId,
        });
        print(JSON.stringify(reply.info ?? reply, null, 2), reply);
      });
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const failure = describeFailure(err);
    const reason = scrub(failure.reason, secrets());
    const shown = {
      ...failure,
      reason,
      ...(failure.action !== undefined ? { action: scrub(failure.action, secrets()) } : {}),
    };
    io.err(options?.json || jsonWanted ? `${JSON.stringify({ error: shown })}\n` : `error: ${failureLine(shown)}\n`);
    return failure.exit;
  }
}

function adminError(err: unknown, subject: string, why: string, timeout: number): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === ErrorCode.NoResponders)
    return new CliError('NoRespondersError', EXIT.noResponders, `nobody answers ${subject} (${why})`);
  if (code === ErrorCode.Timeout) return new TimeoutError(subject, timeout, err);
  return err as Error;
}

function parseAdminReply(msg: Msg, subject: string): Record<string, unknown> {
  try {
    const value = JSON.parse(msg.string()) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // below
  }
  throw new CliError('JanusNatsError', EXIT.other, `the reply on ${subject} is not a JSON object`);
}
