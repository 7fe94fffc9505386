// One simulated branch for the demo: a temp folder with its config, policy and member list, and the real
// gateway running on the simulated drivers with an accelerated clock.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { isMap, isSeq, parseDocument } from 'yaml';
import { MAIN_DOOR } from '../../firmware-bridge/config.js';
import { SimulatedIntruderPanel } from '../../firmware-bridge/simulated/intruder-panel.js';
import type { PanelState } from '../../firmware-bridge/simulated/intruder-panel.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { hashPin } from '../../policies/pin.js';
import type { PolicyInput } from '../../policies/index.js';
import type { Clock } from '../../gateway/core/clock.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { addConsoleUser } from '../../gateway/console/index.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { importMembersCsv } from '../../gateway/members/index.js';
import { generateMembersCsv } from '../bench/import.js';
import type { AgeBand } from './truth.js';

/** One window of a switched output, as the policy's `outputs` section writes it (OutputWindowSchema's input). */
type DemoOutputWindow = NonNullable<PolicyInput['outputs']>[string][number];

/**
 * What runs the building at a demo branch: its switched outputs (relays on the simulated GPIO, with their windows in
 * the demo's copy of the policy), an intruder alarm panel (simulated, `intruderAlarm: {}` in the policy: the
 * defaults) and the announcements' languages.
 */
export interface DemoBuilding {
  outputs: ReadonlyArray<{ id: string; label: string; windows: readonly DemoOutputWindow[] }>;
  announcements: { languages: readonly string[]; welcome?: boolean };
}

/** How the branch says its announcements: the words printed (`onWords` gets each line as it is said) or heard. */
export interface DemoSound {
  driver: 'print' | 'aplay' | 'none';
  onWords?: ((line: string) => void) | undefined;
}

/** The simulated panel as a visitor meets it: where it is, and its keypad (a group leader unsets it there). */
export interface DemoPanel {
  readonly state: PanelState;
  unsetAtKeypad(): void;
}

export interface DemoBranchOptions {
  site: string;
  policyFile: string;
  dir: string;
  members: number;
  seed: number;
  clock: Clock;
  http?: { port: number } | undefined;
  mqtt?: GatewayConfigInput['mqtt'];
  logger?: Logger;
  /** Card + PIN branch: a simulated keypad, and this PIN set for the members who visit (the demo's "PIN registration"). */
  pin?: string | undefined;
  /** How the branch counts people: a people counter at the door, or the door contact alone (the default). */
  counting?: 'counter' | 'contact' | undefined;
  /** A PIR motion sensor in the building. */
  motion?: boolean | undefined;
  /**
   * A second door, `meeting-room`, with its own relay, contact, exit button and reader (`room`), which this group's
   * booking opens instead of the main door (its copy of the policy gets `doors: [meeting-room]` on that booking).
   */
  meetingRoomFor?: string | undefined;
  /** Switched outputs, the intruder alarm panel and announcements (the building running itself). */
  building?: DemoBuilding | undefined;
  sound?: DemoSound | undefined;
}

export const MEETING_ROOM = 'meeting-room';

export interface DemoBranch {
  site: string;
  running: RunningGateway;
  /** Card numbers of the generated members, for the visitors to tap (clear numbers stay in the demo's memory). */
  cards: { valid: string[]; other: string[] };
  groups: Record<string, string[]>;
  /** The demo manager's login for the branch's console. */
  login?: { username: string; password: string } | undefined;
  pin: string | undefined;
  counting: 'counter' | 'contact';
  /** The reader at each door, by door id (`main` first). */
  readerAt: Readonly<Record<string, string>>;
  /** The pseudonym the branch shows for a card (its events and the bus name people by it). */
  personOf(card: string): string;
  /** A card's age band on the demo's day, from the export the demo made (the script's own record, not the gateway's). */
  ageBandOf(card: string): AgeBand;
  /** The switched outputs' labels by id ("Public PCs"). */
  outputLabels: Readonly<Record<string, string>>;
  /** The simulated intruder alarm panel, where the branch has one. */
  panel: DemoPanel | undefined;
  stop(): Promise<void>;
}

export async function startDemoBranch(options: DemoBranchOptions): Promise<DemoBranch> {
  mkdirSync(options.dir, { recursive: true });
  const key = randomBytes(32);
  const policyFile = join(options.dir, 'policy.yaml');
  copyFileSync(options.policyFile, policyFile);
  if (options.meetingRoomFor !== undefined) bookingOpensOnly(policyFile, options.meetingRoomFor, MEETING_ROOM);
  const building = options.building;
  if (building !== undefined) runsItself(policyFile, building);
  const readerAt: Record<string, string> = { [MAIN_DOOR]: 'entry', ...(options.meetingRoomFor === undefined ? {} : { [MEETING_ROOM]: 'room' }) };
  const csv = join(options.dir, 'members.csv');
  const generated = await generateMembersCsv(csv, options.members, options.seed, { asOf: options.clock.now() });
  const config = parseGatewayConfig({
    site: options.site,
    policyFile,
    store: { path: join(options.dir, 'gateway.sqlite') },
    clock: { trust: 'trusted' },
    http: options.http === undefined ? { enabled: false } : { enabled: true, port: options.http.port },
    log: { level: 'silent' },
    hardware: {
      gpio: { driver: 'simulated' },
      // Debounce is real time; the demo's day runs hundreds of times faster, so inputs are taken as they come.
      inputs: {
        doorContact: { debounceMs: 0 },
        exitButton: { debounceMs: 0 },
        ...(options.counting === 'counter' ? { counterIn: { debounceMs: 0 }, counterOut: { debounceMs: 0 } } : {}),
        ...(options.motion === true ? { motion: { debounceMs: 0 } } : {}),
      },
      ...(options.meetingRoomFor === undefined
        ? {}
        : { doors: [{ id: MEETING_ROOM, contact: { debounceMs: 0 }, exit: { debounceMs: 0 } }] }),
      readers: Object.entries(readerAt).map(([door, id]) => ({ id, driver: 'simulated' as const, role: 'entry' as const, ...(door === MAIN_DOOR ? {} : { door }) })),
      keypad: { driver: options.pin === undefined ? 'none' : 'simulated' },
      ...(building === undefined
        ? {}
        : {
            switched: building.outputs.map(({ id, label }) => ({ id, label })),
            intruderAlarm: { status: { debounceMs: 0 } },
          }),
    },
    ...(options.mqtt === undefined ? {} : { mqtt: options.mqtt }),
    ...(options.sound === undefined ? {} : { sound: { driver: options.sound.driver, cacheDir: join(options.dir, 'sounds') } }),
  } satisfies GatewayConfigInput);
  const logger = options.logger ?? wordsLogger(options.sound);
  const running = await startGateway(config, { clock: options.clock, logger, env: { OAG_DEPLOYMENT_KEY: key.toString('hex') } });
  const wiring = running.hardware.simulated?.intruderAlarm;
  // The panel's exit time is its own 30 s on the demo's clock: the day runs faster, and so does the panel.
  const panel = wiring === undefined ? undefined : new SimulatedIntruderPanel({ wiring, clock: options.clock });
  const hasher = createCardHasher(key);
  await importMembersCsv(running.store, csv, { hasher, now: options.clock.now() });
  if (options.pin !== undefined) {
    // One salted hash shared by the demo's members: scrypt per member would only slow the start.
    const pinHash = hashPin(options.pin);
    running.store.transaction(() => {
      for (const card of generated.cards.valid) {
        const cardHash = hasher(normaliseCardId(card));
        const member = running.store.members.find(cardHash);
        if (member !== undefined) running.store.members.upsert({ ...member, cardHash, pinHash });
      }
    });
  }
  // A manager account for the console, printed by the demo: a fresh password each run.
  const login = { username: 'manager', password: `demo-${randomBytes(4).toString('hex')}` };
  if (running.api !== undefined) await addConsoleUser(running.store, login.username, 'manager', login.password);
  return {
    site: options.site,
    running,
    login: running.api === undefined ? undefined : login,
    cards: generated.cards,
    groups: generated.groups,
    pin: options.pin,
    counting: options.counting ?? 'contact',
    readerAt,
    personOf: (card) => running.gateway.pseudonym(hasher(normaliseCardId(card))),
    ageBandOf: (card) => ageBandOn(generated.birthDates.get(card) ?? null, options.clock.now()),
    outputLabels: Object.fromEntries((building?.outputs ?? []).map(({ id, label }) => [id, label])),
    panel:
      panel === undefined
        ? undefined
        : {
            get state() {
              return panel.state;
            },
            unsetAtKeypad() {
              panel.keypad('unset');
            },
          },
    stop: async () => {
      panel?.detach();
      await running.stop();
    },
  };
}

/**
 * The gateway's print driver says each announcement's words in its log: a logger that hands those lines on and
 * drops the rest (the demo's terminal tells the day from the events instead).
 */
function wordsLogger(sound: DemoSound | undefined): Logger {
  const onWords = sound?.onWords;
  if (sound?.driver !== 'print' || onWords === undefined) return pino({ level: 'silent' });
  return pino(
    { level: 'info' },
    {
      write(line: string) {
        if (!line.includes('🔊')) return;
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        if (typeof msg === 'string' && msg.startsWith('🔊 [')) onWords(msg);
      },
    },
  );
}

/** The demo's copy of a policy runs the building: the outputs' windows, the alarm's defaults, the announcements. */
function runsItself(policyFile: string, building: DemoBuilding): void {
  const doc = parseDocument(readFileSync(policyFile, 'utf8'));
  doc.set('outputs', doc.createNode(Object.fromEntries(building.outputs.map(({ id, windows }) => [id, windows.map((w) => ({ ...w }))]))));
  doc.set('intruderAlarm', doc.createNode({}));
  doc.set('announcements', doc.createNode({ ...building.announcements, languages: [...building.announcements.languages] }));
  writeFileSync(policyFile, doc.toString());
}

/** The demo's copy of a policy: the group's booking opens only `door` (the example policy itself stays as it is). */
function bookingOpensOnly(policyFile: string, group: string, door: string): void {
  const doc = parseDocument(readFileSync(policyFile, 'utf8'));
  const bookings = doc.get('bookings');
  const booking = isSeq(bookings) ? bookings.items.find((item) => isMap(item) && item.get('group') === group) : undefined;
  if (!isMap(booking)) throw new Error(`${policyFile}: no booking for group "${group}" to give the ${door} door`);
  booking.set('doors', doc.createNode([door], { flow: true }));
  writeFileSync(policyFile, doc.toString());
}

/** 18 and over is an adult, as the figures count it; no birth date is unknown. */
function ageBandOn(birthDate: string | null, day: Date): AgeBand {
  if (birthDate === null) return 'unknown';
  const today = day.toISOString().slice(0, 10);
  const eighteenth = `${String(Number(birthDate.slice(0, 4)) + 18).padStart(4, '0')}${birthDate.slice(4)}`;
  return eighteenth <= today ? 'adult' : 'child';
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
