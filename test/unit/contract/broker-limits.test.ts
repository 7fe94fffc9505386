import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_BROKER_PACKET_BYTES, MAX_PAYLOAD_BYTES } from '../../../policies/contract/index.js';

describe('MAX_BROKER_PACKET_BYTES', () => {
  it('takes the largest valid message of every kind with its topic, and refuses the 128 MB publish of issue #13', () => {
    for (const [kind, max] of Object.entries(MAX_PAYLOAD_BYTES)) expect(max + 1024, kind).toBeLessThan(MAX_BROKER_PACKET_BYTES);
    expect(MAX_BROKER_PACKET_BYTES).toBeLessThan(128 * 1024 * 1024);
  });

  it('is the number docs/central.md tells a Mosquitto operator to set', () => {
    const doc = readFileSync(new URL('../../../docs/central.md', import.meta.url), 'utf8');
    expect(doc).toContain(`max_packet_size ${MAX_BROKER_PACKET_BYTES} `);
  });
});
