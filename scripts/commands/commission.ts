// `oag commission`: the guided test of a branch's wiring on site. It talks to the running gateway's local API (the
// gateway owns the GPIO lines, the readers and the store), asks the technician to press, open, trigger and tap, and
// passes a step when the gateway sees it happen, fails it at the timeout; what only a person can tell (a phrase heard,
// a relay clicking) is a y/n. Each step's result goes into the gateway's log as the commissioning record, and the end
// is a summary table and an exit status (0: every step passed). Ctrl-C ends the session cleanly: the gateway ends any
// pulse, so the door is locked and the outputs are back where they were.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { COMMISSIONING_STEPS } from '../../gateway/commission/commissioning.js';
import type { CommissioningStep, FittedHardware, InputChange, StepResult } from '../../gateway/commission/commissioning.js';

export interface CommissionOptions {
  /** The gateway's local API, e.g. http://127.0.0.1:8080. */
  url: string;
  /** An API token (`oag users token add`). */
  token: string;
  /** The technician's name, for the record. */
  who: string;
  steps: readonly CommissioningStep[];
  /** How long a step waits for an input before it fails. */
  timeoutMs: number;
  /** How long a relay or output pulse lasts. */
  pulseSeconds: number;
}

export interface CommissionIo {
  input: Readable;
  output: Writable;
  /** Aborted on Ctrl-C: the session ends cleanly and the run returns 130. */
  signal?: AbortSignal | undefined;
}

interface Row {
  step: CommissioningStep;
  where: string;
  result: StepResult | 'not run';
  detail: string;
}

class Interrupted extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

class Failure extends Error {}

const STEP_TITLES: Record<CommissioningStep, string> = {
  'exit-button': 'exit button',
  'door-contact': 'door contact',
  'fire-input': 'fire input',
  'card-reader': 'card reader',
  announcements: 'announcements',
  'door-relay': 'door relay',
  'switched-outputs': 'switched outputs',
};

interface WatchEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The technician's lines, one at a time; lines typed ahead wait their turn. */
class Lines {
  private readonly queued: string[] = [];
  private waiter: ((line: string | null) => void) | undefined;
  private ended = false;

  push(line: string): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter !== undefined) waiter(line.trim());
    else this.queued.push(line.trim());
  }

  end(): void {
    this.ended = true;
    this.waiter?.(null);
    this.waiter = undefined;
  }

  /** The next line, or null when the input has ended; `cancel` gives up waiting without losing the next line. */
  next(): { line: Promise<string | null>; cancel: () => void } {
    const queued = this.queued.shift();
    if (queued !== undefined) return { line: Promise.resolve(queued), cancel: () => {} };
    if (this.ended) return { line: Promise.resolve(null), cancel: () => {} };
    let resolve!: (line: string | null) => void;
    const line = new Promise<string | null>((r) => (resolve = r));
    this.waiter = resolve;
    return {
      line,
      cancel: () => {
        if (this.waiter === resolve) this.waiter = undefined;
      },
    };
  }
}

export async function runCommission(options: CommissionOptions, io: CommissionIo): Promise<number> {
  const out = (line = ''): void => {
    io.output.write(`${line}\n`);
  };
  const interrupt = new AbortController();
  const onAbort = (): void => interrupt.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (io.signal?.aborted === true) interrupt.abort();
  const isTty = (io.input as { isTTY?: boolean }).isTTY === true;
  // On a terminal readline echoes what is typed, so it needs the output too.
  const rl = createInterface({ input: io.input, ...(isTty ? { output: io.output, terminal: true } : { terminal: false }) });
  const lines = new Lines();
  rl.on('line', (line) => lines.push(line));
  rl.on('close', () => lines.end());
  // On a terminal readline takes Ctrl-C itself and says so here instead of the process getting SIGINT.
  rl.on('SIGINT', onAbort);
  const api = apiClient(options);
  const rows: Row[] = [];
  let session: string | undefined;
  let watch: WatchStream | undefined;
  try {
    const started = await api.post<{ session: string; fitted: FittedHardware; mode: string }>('/api/console/commission', { who: options.who, steps: options.steps });
    session = started.session;
    const fitted = started.fitted;
    watch = await openWatch(options, session, interrupt.signal);
    out(`Commissioning ${options.url} as ${options.who} (session ${session}); the branch is ${started.mode}.`);
    out('Each step waits for you; type s and Enter to skip one, Ctrl-C to stop (everything is left locked and safe).');
    const ctx: StepContext = { options, api, session, fitted, watch, lines, out, signal: interrupt.signal, rows, several: fitted.doors.length > 1 };
    for (const step of COMMISSIONING_STEPS) {
      if (!options.steps.includes(step)) continue;
      out();
      out(`— ${STEP_TITLES[step]} —`);
      await STEPS[step](ctx);
    }
    await api.post('/api/console/commission/end', { session, reason: 'done' });
    session = undefined;
    printSummary(out, rows, options.steps);
    return rows.length > 0 && rows.every((row) => row.result === 'passed') ? 0 : 1;
  } catch (error) {
    if (error instanceof Interrupted) {
      out();
      out(`Stopped: ${error.why}.`);
      if (session !== undefined) {
        await api.post('/api/console/commission/end', { session, reason: 'interrupted' }).then(
          () => out('The session is ended: any pulse has stopped, the door is locked and the outputs are back where they were.'),
          (failed: unknown) => out(`Could not end the session (${(failed as Error).message}): the gateway ends it when this connection closes.`),
        );
        session = undefined;
      }
      printSummary(out, rows, options.steps);
      return 130;
    }
    // The gateway refused something the run cannot go on without, or went away: said in one line, session ended.
    if (error instanceof Error) {
      out(`oag commission: ${error.message}`);
      if (session !== undefined) await api.post('/api/console/commission/end', { session, reason: 'interrupted' }).catch(() => undefined);
      return 1;
    }
    throw error;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    watch?.close();
    rl.close();
  }
}

// ---- the steps -----------------------------------------------------------------------------------------------------

interface StepContext {
  options: CommissionOptions;
  api: ApiClient;
  session: string;
  fitted: FittedHardware;
  watch: WatchStream;
  lines: Lines;
  out: (line?: string) => void;
  signal: AbortSignal;
  rows: Row[];
  several: boolean;
}

const STEPS: Record<CommissioningStep, (ctx: StepContext) => Promise<void>> = {
  'exit-button': async (ctx) => {
    const doors = ctx.fitted.doors.filter((door) => door.exit);
    if (doors.length === 0) return record(ctx, 'exit-button', {}, 'skipped', 'no exit button fitted');
    for (const door of doors) {
      const at = doorWords(ctx, door.id);
      const seen = await waitForInputs(ctx, `Press the exit button${at} now`, [{ input: 'exit-button', door: door.id, active: true }]);
      await record(ctx, 'exit-button', doorField(ctx, door.id), seen.result, seen.detail);
    }
  },
  'door-contact': async (ctx) => {
    const doors = ctx.fitted.doors.filter((door) => door.contact);
    if (doors.length === 0) return record(ctx, 'door-contact', {}, 'skipped', 'no door contact fitted');
    for (const door of doors) {
      const at = doorWords(ctx, door.id);
      const seen = await waitForInputs(ctx, `Open the door${at} (press the exit button first, or it counts as forced), then close it`, [
        { input: 'door-contact', door: door.id, active: true },
        { input: 'door-contact', door: door.id, active: false },
      ]);
      await record(ctx, 'door-contact', doorField(ctx, door.id), seen.result, seen.detail);
    }
  },
  'fire-input': async (ctx) => {
    if (!ctx.fitted.fireInput) return record(ctx, 'fire-input', {}, 'skipped', 'no fire input fitted');
    ctx.out('The branch goes into emergency while the fire input is active: the doors release, the lights come on, and');
    ctx.out('central is told of a fire alarm (tell whoever is on call first).');
    const seen = await waitForInputs(ctx, 'Trigger the fire input with its test key, then reset it', [
      { input: 'fire-input', active: true },
      { input: 'fire-input', active: false },
    ]);
    let detail = seen.detail;
    if (seen.result === 'passed') {
      // The fire latches the emergency until staff reset it: the technician's test is over, so reset it here.
      const reset = await ctx.api.post('/api/console/commands', { command: 'reset-alarms' }).then(
        () => 'alarms reset: the doors hold as the schedule says again',
        (error: unknown) => `alarms not reset (${(error as Error).message}): reset them at the console`,
      );
      ctx.out(`  ${reset}`);
      detail = `${detail}; ${reset}`;
    }
    await record(ctx, 'fire-input', {}, seen.result, detail);
  },
  'card-reader': async (ctx) => {
    const roles = (['entry', 'exit'] as const).filter((role) => ctx.fitted.readers.some((reader) => reader.role === role));
    if (roles.length === 0) return record(ctx, 'card-reader', {}, 'skipped', 'no card reader');
    for (const role of roles) {
      const seen = await waitFor(ctx, `Tap a test card on the ${role} reader`, (event) => {
        if (event.event !== 'tap' || event.data.role !== role) return undefined;
        const person = typeof event.data.person === 'string' ? `card ${event.data.person}` : 'a card this branch does not know';
        return `${person}, ${String(event.data.result)} (${String(event.data.reason)})`;
      });
      await record(ctx, 'card-reader', {}, seen.result, `${role} reader: ${seen.detail}`);
    }
  },
  announcements: async (ctx) => {
    if (!ctx.fitted.spoken) ctx.out('No announcements are configured here: the sounder beeps for each phrase instead.');
    const heard: string[] = [];
    const missed: string[] = [];
    const skipped: string[] = [];
    for (const phrase of ctx.fitted.phrases) {
      await ctx.api.post('/api/console/commission/announce', { session: ctx.session, phrase });
      const answer = await ask(ctx, `Listen: the gateway says "${phrase}". Did you hear it?`);
      (answer === 'yes' ? heard : answer === 'no' ? missed : skipped).push(phrase);
    }
    const result: StepResult = missed.length > 0 ? 'failed' : heard.length === 0 ? 'skipped' : skipped.length > 0 ? 'skipped' : 'passed';
    const detail = [heard.length > 0 ? `heard: ${heard.join(', ')}` : '', missed.length > 0 ? `not heard: ${missed.join(', ')}` : '', skipped.length > 0 ? `skipped: ${skipped.join(', ')}` : '']
      .filter((part) => part !== '')
      .join('; ');
    await record(ctx, 'announcements', {}, result, detail);
  },
  'door-relay': async (ctx) => {
    for (const door of ctx.fitted.doors) {
      const at = doorWords(ctx, door.id);
      const pulsed = await ctx.api.post('/api/console/commission/pulse', { session: ctx.session, ...doorField(ctx, door.id), seconds: ctx.options.pulseSeconds }).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      if (pulsed !== undefined) {
        ctx.out(`  The relay${at} was not pulsed: ${pulsed}`);
        await record(ctx, 'door-relay', doorField(ctx, door.id), 'failed', `not pulsed: ${pulsed}`);
        continue;
      }
      const answer = await ask(ctx, `Watch the door relay${at}: it clicks on for ${ctx.options.pulseSeconds} s, then off. Did it?`);
      await record(ctx, 'door-relay', doorField(ctx, door.id), resultOf(answer), answerWords(answer));
    }
  },
  'switched-outputs': async (ctx) => {
    if (ctx.fitted.outputs.length === 0) return record(ctx, 'switched-outputs', {}, 'skipped', 'no switched output fitted');
    for (const output of ctx.fitted.outputs) {
      const name = output.label ?? output.id;
      let pulsed: { from: boolean; to: boolean };
      try {
        pulsed = await ctx.api.post('/api/console/commission/pulse', { session: ctx.session, output: output.id, seconds: ctx.options.pulseSeconds });
      } catch (error) {
        if (error instanceof Interrupted) throw error;
        ctx.out(`  ${name} was not switched: ${(error as Error).message}`);
        await record(ctx, 'switched-outputs', { output: output.id }, 'failed', `not switched: ${(error as Error).message}`);
        continue;
      }
      const onOff = (on: boolean): string => (on ? 'on' : 'off');
      const answer = await ask(ctx, `Watch ${name}: it switches ${onOff(pulsed.to)} for ${ctx.options.pulseSeconds} s, then back ${onOff(pulsed.from)}. Did it?`);
      await record(ctx, 'switched-outputs', { output: output.id }, resultOf(answer), answerWords(answer));
    }
  },
};

type Answer = 'yes' | 'no' | 'skip';

function resultOf(answer: Answer): StepResult {
  return answer === 'yes' ? 'passed' : answer === 'no' ? 'failed' : 'skipped';
}

function answerWords(answer: Answer): string {
  return answer === 'yes' ? 'seen by the technician' : answer === 'no' ? 'not seen by the technician' : 'skipped by the technician';
}

/** Where a step happens, in words: nothing at a branch with one door. */
function doorWords(ctx: StepContext, door: string): string {
  return ctx.several ? ` of door ${door}` : '';
}

function doorField(ctx: StepContext, door: string): { door?: string } {
  return ctx.several ? { door } : {};
}

async function record(ctx: StepContext, step: CommissioningStep, at: { door?: string; output?: string }, result: StepResult, detail: string): Promise<void> {
  const where = at.door ?? at.output ?? '';
  ctx.rows.push({ step, where, result, detail });
  ctx.out(`  ${result === 'passed' ? 'PASSED' : result === 'failed' ? 'FAILED' : 'skipped'}${detail === '' ? '' : `: ${detail}`}`);
  await ctx.api.post('/api/console/commission/step', { session: ctx.session, step, result, ...at, ...(detail === '' ? {} : { detail: detail.slice(0, 500) }) });
}

/** A y/n question; anything else is asked again with the keys that answer it. Ctrl-C or the input's end stops the run. */
async function ask(ctx: StepContext, question: string): Promise<Answer> {
  ctx.out(`${question} [y/n, s to skip]`);
  for (;;) {
    const line = await nextLine(ctx);
    const key = line.toLowerCase();
    if (key === 'y' || key === 'yes') return 'yes';
    if (key === 'n' || key === 'no') return 'no';
    if (key === 's' || key === 'skip') return 'skip';
    ctx.out(`  "${line.slice(0, 20)}" is not an answer: type y (yes), n (no) or s (skip), then Enter.`);
  }
}

async function nextLine(ctx: StepContext): Promise<string> {
  const { line, cancel } = ctx.lines.next();
  const got = await raceAbort(line, ctx.signal, cancel);
  if (got === null) throw new Interrupted('the input ended');
  return got;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, cancel: () => void): Promise<T> {
  if (signal.aborted) {
    cancel();
    return Promise.reject(new Interrupted('Ctrl-C'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(new Interrupted('Ctrl-C'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** The inputs' changes, in this order, within the timeout; `s` skips. */
async function waitForInputs(ctx: StepContext, prompt: string, expected: InputChange[]): Promise<{ result: StepResult; detail: string }> {
  let next = 0;
  const seen: string[] = [];
  const words = (change: InputChange): string =>
    change.input === 'door-contact' ? (change.active ? 'opened' : 'closed') : change.input === 'exit-button' ? 'pressed' : change.active ? 'triggered' : 'reset';
  const outcome = await waitFor(
    ctx,
    prompt,
    (event) => {
      if (event.event !== 'input') return undefined;
      const want = expected[next]!;
      const data = event.data as unknown as InputChange;
      if (data.input !== want.input || data.active !== want.active || (want.door !== undefined && ctx.several && data.door !== want.door)) return undefined;
      next += 1;
      seen.push(words(want));
      if (next < expected.length) {
        ctx.out(`  ${words(want)}…`);
        return undefined;
      }
      return seen.join(', then ');
    },
    () => (seen.length === 0 ? 'nothing seen' : `only ${seen.join(', then ')}`),
  );
  return outcome;
}

/**
 * Prints the prompt and waits: passes when `check` returns words for an event, fails at the timeout (with
 * `partial`'s words), skips on `s`. Any other line is answered with what the step waits for.
 */
async function waitFor(
  ctx: StepContext,
  prompt: string,
  check: (event: WatchEvent) => string | undefined,
  partial: () => string = () => 'nothing seen',
): Promise<{ result: StepResult; detail: string }> {
  const seconds = Math.ceil(ctx.options.timeoutMs / 1000);
  ctx.out(`${prompt} (${seconds} s; s to skip)`);
  return new Promise((resolve, reject) => {
    let done = false;
    let pendingLine: { cancel: () => void } | undefined;
    const finish = (outcome: { result: StepResult; detail: string } | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      pendingLine?.cancel();
      ctx.signal.removeEventListener('abort', onAbort);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onAbort = (): void => finish(new Interrupted('Ctrl-C'));
    const unsubscribe = ctx.watch.subscribe((event) => {
      if (event.event === 'ended') return finish(new Interrupted(`the gateway ended the session (${String(event.data.reason)})`));
      const words = check(event);
      if (words !== undefined) finish({ result: 'passed', detail: words });
    });
    const timer = setTimeout(() => finish({ result: 'failed', detail: `${partial()} within ${seconds} s` }), ctx.options.timeoutMs);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    const listen = (): void => {
      if (done) return;
      const next = ctx.lines.next();
      pendingLine = next;
      void next.line.then((line) => {
        if (done) return;
        if (line === null) return finish(new Interrupted('the input ended'));
        if (line.toLowerCase() === 's' || line.toLowerCase() === 'skip') return finish({ result: 'skipped', detail: 'skipped by the technician' });
        ctx.out(`  Still waiting (${prompt.charAt(0).toLowerCase()}${prompt.slice(1)}): type s and Enter to skip this step.`);
        listen();
      });
    };
    listen();
  });
}

function printSummary(out: (line?: string) => void, rows: Row[], steps: readonly CommissioningStep[]): void {
  const all: Row[] = [...rows];
  for (const step of COMMISSIONING_STEPS) {
    if (steps.includes(step) && !rows.some((row) => row.step === step)) all.push({ step, where: '', result: 'not run', detail: '' });
  }
  const widths = [Math.max(4, ...all.map((r) => r.step.length)), Math.max(5, ...all.map((r) => r.where.length)), 7];
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell))
      .join('  ')
      .trimEnd();
  out();
  out(line(['step', 'where', 'result', 'detail']));
  for (const row of all) out(line([row.step, row.where, row.result, row.detail]));
  const passed = all.filter((row) => row.result === 'passed').length;
  out();
  out(passed === all.length && all.length > 0 ? `All ${passed} passed.` : `${passed} of ${all.length} passed.`);
}

// ---- the gateway's API -------------------------------------------------------------------------------------------

interface ApiClient {
  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T>;
}

function apiClient(options: CommissionOptions): ApiClient {
  return {
    async post<T>(path: string, body: unknown): Promise<T> {
      let response: Response;
      try {
        response = await fetch(new URL(path, options.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        throw new Failure(`no gateway answering at ${options.url} (${(error as Error).message}); is \`oag gateway\` running?`);
      }
      return (await readAnswer(response, options.url)) as T;
    },
  };
}

async function readAnswer(response: Response, url: string): Promise<Record<string, unknown>> {
  let body: Record<string, unknown>;
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    throw new Failure(`${url} answered HTTP ${response.status} with something that is not JSON; is that a gateway?`);
  }
  if (response.status === 401) throw new Failure(`the gateway refused the token: ${String(body.error)} (make one with oag users token add)`);
  if (!response.ok) {
    const errors = Array.isArray(body.errors) ? ` (${body.errors.join('; ')})` : '';
    throw new Error(`${String(body.error)}${errors}`);
  }
  return body;
}

interface WatchStream {
  subscribe(listener: (event: WatchEvent) => void): () => void;
  close(): void;
}

/** The session's event stream: resolves once the gateway has sent `ready`, so no input is missed after a prompt. */
async function openWatch(options: CommissionOptions, session: string, signal: AbortSignal): Promise<WatchStream> {
  const controller = new AbortController();
  const listeners = new Set<(event: WatchEvent) => void>();
  let response: Response;
  try {
    response = await fetch(new URL(`/api/console/commission/watch?session=${session}`, options.url), {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${options.token}` },
      signal: AbortSignal.any([controller.signal, signal]),
    });
  } catch (error) {
    throw new Failure(`could not watch the inputs at ${options.url}: ${(error as Error).message}`);
  }
  if (!response.ok || response.body === null) await readAnswer(response, options.url);
  const body = response.body!;
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const pump = async (): Promise<void> => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parseBlock(block);
          if (event === undefined) continue;
          if (event.event === 'ready') ready();
          for (const listener of [...listeners]) listener(event);
        }
      }
    } catch {
      // Closed by us (the end of the run) or by the network: said below as the session's end.
    }
    if (!controller.signal.aborted) for (const listener of [...listeners]) listener({ event: 'ended', data: { reason: 'the gateway closed the stream' } });
    ready();
  };
  void pump();
  await isReady;
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      controller.abort();
    },
  };
}

function parseBlock(block: string): WatchEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trim());
  }
  if (data.length === 0) return undefined;
  try {
    return { event, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

// ---- the command -------------------------------------------------------------------------------------------------

/** `--steps exit-button,door-relay`: known names, in the fixed order; an unknown one is a usage error naming the known. */
export function parseSteps(text: string | undefined): CommissioningStep[] {
  if (text === undefined || text.trim() === '') return [...COMMISSIONING_STEPS];
  const asked = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = asked.filter((s) => !(COMMISSIONING_STEPS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--steps: unknown step(s) ${unknown.join(', ')}; the steps are ${COMMISSIONING_STEPS.join(', ')}`);
  return COMMISSIONING_STEPS.filter((step) => asked.includes(step));
}

export function register(program: Command): void {
  program
    .command('commission')
    .description("a guided test of the branch's wiring on site, through the running gateway; each step's result goes into its log")
    .option('-u, --url <url>', "the gateway's local API", 'http://127.0.0.1:8080')
    .option('--token <token>', 'an API token (oag users token add); better in OAG_TOKEN, which ps does not show')
    .option('--who <name>', "the technician's name, for the record", process.env.USER ?? 'technician')
    .option('--steps <list>', `the steps to walk, comma-separated (default: all): ${COMMISSIONING_STEPS.join(', ')}`)
    .option('--timeout <seconds>', 'how long a step waits for an input', '30')
    .option('--pulse <seconds>', 'how long the relay and each switched output are pulsed', '3')
    .action(async (raw: { url: string; token?: string; who: string; steps?: string; timeout: string; pulse: string }) => {
      const token = raw.token ?? process.env.OAG_TOKEN;
      const fail = (message: string, code = 2): never => {
        process.stderr.write(`oag commission: ${message}\n`);
        process.exit(code);
      };
      if (token === undefined || token === '') fail('an API token is needed: --token or OAG_TOKEN (make one with oag users token add --config /etc/oag/gateway.yaml --name commissioning --role staff --expires-days 1)');
      let steps: CommissioningStep[] = [];
      try {
        steps = parseSteps(raw.steps);
      } catch (error) {
        fail((error as Error).message);
      }
      const timeout = Number(raw.timeout);
      const pulse = Number(raw.pulse);
      if (!Number.isInteger(timeout) || timeout < 1 || timeout > 600) fail('--timeout: a whole number of seconds from 1 to 600');
      if (!Number.isInteger(pulse) || pulse < 1 || pulse > 30) fail('--pulse: a whole number of seconds from 1 to 30');
      const interrupt = new AbortController();
      // The first Ctrl-C ends the session cleanly; a second one leaves at once (the gateway still ends the session).
      process.on('SIGINT', () => {
        if (interrupt.signal.aborted) process.exit(130);
        interrupt.abort();
      });
      const code = await runCommission(
        { url: raw.url, token: token!, who: raw.who, steps, timeoutMs: timeout * 1000, pulseSeconds: pulse },
        { input: process.stdin, output: process.stdout, signal: interrupt.signal },
      );
      process.exit(code);
    });
}
