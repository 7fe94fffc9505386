// The PC/SC card reader driver through the real stack: pcscd started here, vpcd's two virtual readers,
// cards played over vpcd's TCP protocol. Needs the Debian packages pcscd, vsmartcard-vpcd, libpcsclite-dev, and
// nfc-pcsc installed by npm after them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcscCardReader } from '../../firmware-bridge/readers/pcsc.js';
import type { CardTap, ReadError, ReaderStatus } from '../../firmware-bridge/types.js';
import { requireNfcPcsc } from '../helpers/nfc-pcsc.js';
import { requirePcscStack, startPcscd, VpcdCard, waitFor, type Pcscd } from '../helpers/vpcd-card.js';

/** pcscd polls vpcd for card presence (about every 400 ms): leave a gap between one card and the next. */
const CARD_GAP_MS = 900;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PC/SC card reader through pcscd and vpcd', () => {
  let pcscdPath: string;
  let pcscd: Pcscd | undefined;
  let reader: PcscCardReader | undefined;
  const cards: VpcdCard[] = [];
  const taps: CardTap[] = [];
  const readErrors: ReadError[] = [];
  const statuses: ReaderStatus[] = [];
  const latest = (readerId: string) => statuses.filter((s) => s.readerId === readerId).at(-1);

  const tapReceivedAt = new Map<CardTap, bigint>();

  /** Insert, wait for the tap, remove. latencyMs: socket connect → tap event; readMs: the driver's own UID read (card seen → tap). */
  async function tapOnce(card: VpcdCard): Promise<{ tap: CardTap; latencyMs: number; readMs: number }> {
    const before = taps.length;
    const insertedAt = process.hrtime.bigint();
    await card.insert();
    await waitFor(() => taps.length > before, 5000, 'a tap');
    const tap = taps[before]!;
    const receivedAt = tapReceivedAt.get(tap)!;
    await card.remove();
    await sleep(CARD_GAP_MS);
    return { tap, latencyMs: Number(receivedAt - insertedAt) / 1e6, readMs: Number(receivedAt - tap.seenAt) / 1e6 };
  }

  beforeAll(async () => {
    const nfc = await requireNfcPcsc();
    pcscdPath = requirePcscStack();
    pcscd = await startPcscd(pcscdPath);
    reader = new PcscCardReader({
      entries: [
        { id: 'front', role: 'entry', namePattern: 'ACR122|00 00' },
        { id: 'back', role: 'exit', namePattern: '00 01' },
      ],
      nfc,
      backoff: { initialMs: 100, maxMs: 500 },
    });
    reader.on('tap', (t) => {
      tapReceivedAt.set(t, process.hrtime.bigint());
      taps.push(t);
    });
    reader.on('read-error', (e) => readErrors.push(e));
    reader.on('status', (s) => statuses.push(s));
    await reader.start();
    await waitFor(() => latest('front')?.online === true && latest('back')?.online === true, 10_000, 'both virtual readers online');
  });

  afterAll(async () => {
    await reader?.stop();
    for (const card of cards) await card.remove();
    await pcscd?.stop();
  });

  function card(options: ConstructorParameters<typeof VpcdCard>[0]): VpcdCard {
    const c = new VpcdCard(options);
    cards.push(c);
    return c;
  }

  it('names the virtual readers by their pattern: 00 00 is the entry reader, 00 01 the exit', () => {
    expect(latest('front')).toMatchObject({ online: true, role: 'entry', readerName: 'Virtual PCD 00 00' });
    expect(latest('back')).toMatchObject({ online: true, role: 'exit', readerName: 'Virtual PCD 00 01' });
  });

  it('taps several cards with their normalised UID and role, and measures tap-to-event latency', async () => {
    const latencies: number[] = [];
    const reads: number[] = [];
    const uids = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? `04a1b2c3d4e5${i.toString(16).padStart(2, '0')}` : `dead${i.toString(16).padStart(4, '0')}`));
    for (const uid of uids) {
      const { tap, latencyMs, readMs } = await tapOnce(card({ uid }));
      expect(tap).toMatchObject({ uid: uid.toUpperCase(), readerId: 'front', role: 'entry', readerName: 'Virtual PCD 00 00' });
      latencies.push(latencyMs);
      reads.push(readMs);
    }
    const exit = await tapOnce(card({ uid: '0102030405060708090a', slot: 1 }));
    expect(exit.tap).toMatchObject({ uid: '0102030405060708090A', readerId: 'back', role: 'exit' });
    latencies.push(exit.latencyMs);
    reads.push(exit.readMs);
    expect(readErrors).toEqual([]);

    const summary = (values: number[]): string => {
      const sorted = [...values].sort((a, b) => a - b);
      const pick = (q: number) => sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))]!.toFixed(1);
      return `median ${pick(0.5)} ms, p99 ${pick(0.99)} ms, min ${pick(0)} ms, max ${pick(1)} ms (n=${sorted.length})`;
    };
    console.log(`PC/SC tap-to-event latency through pcscd+vpcd (card inserted → tap event): ${summary(latencies)}`);
    console.log(`  of which the driver's UID read (card seen → tap event, FF CA through pcscd): ${summary(reads)}`);
  });

  it('counts a card held on the reader as one tap', async () => {
    const before = taps.length;
    const held = card({ uid: '04112233445566' });
    await held.insert();
    await waitFor(() => taps.length > before, 5000, 'the tap');
    await sleep(2500);
    expect(taps.length - before).toBe(1);
    expect(held.apdus).toEqual(['FFCA000000']);
    await held.remove();
    await sleep(CARD_GAP_MS);
  });

  it('reports a card that fails to read as a read error, not a tap', async () => {
    const before = taps.length;
    const bad = card({ uid: '04aabbcc', uidStatus: 0x6a81 });
    await bad.insert();
    await waitFor(() => readErrors.length > 0, 5000, 'a read error');
    expect(readErrors[0]).toEqual({ readerId: 'front', role: 'entry', message: 'card refused the UID request (status 6A81)' });
    await bad.remove();
    await sleep(CARD_GAP_MS);
    expect(taps.length).toBe(before);
  });

  it('goes offline when pcscd stops, and comes back with working taps when it restarts', async () => {
    await pcscd?.stop();
    await waitFor(() => latest('front')?.online === false && latest('back')?.online === false, 10_000, 'both readers offline');
    // The readers may first be reported removed; the context's own failure names the service right after.
    await waitFor(() => /PC\/SC service/.test(latest('front')?.detail ?? ''), 10_000, 'the offline reason to name the PC/SC service');

    pcscd = await startPcscd(pcscdPath);
    await waitFor(() => latest('front')?.online === true && latest('back')?.online === true, 15_000, 'both readers online again');
    const { tap } = await tapOnce(card({ uid: '04cafe0001' }));
    expect(tap).toMatchObject({ uid: '04CAFE0001', readerId: 'front', role: 'entry' });
  });
});
