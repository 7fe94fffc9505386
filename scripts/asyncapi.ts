// Builds docs/asyncapi.yaml from the contract's zod schemas (policies/contract), so the document cannot drift
// from the code: `npx tsx scripts/asyncapi.ts` writes it, `--check` fails when the committed file is stale
// (test/unit/contract/asyncapi.test.ts does the same check in `npm test`).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import {
  COMMAND_MAX_AGE_MS,
  COMMANDS_WITHOUT_MAX_AGE,
  CONTRACT_MAJOR,
  CONTRACT_MESSAGES,
  CONTRACT_MINOR,
  CONTRACT_VERSION,
  DEFAULT_PREFIX,
  MEMBER_REQUEST_MAX_AGE_MS,
} from '../policies/contract/index.js';

export const ASYNCAPI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'asyncapi.yaml');

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function schemaOf(schema: z.ZodType): unknown {
  const json = z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function buildAsyncApi(): string {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};

  for (const m of CONTRACT_MESSAGES) {
    const schemaName = pascal(m.name);
    schemas[schemaName] = schemaOf(m.schema);
    messages[m.name] = {
      name: m.name,
      title: schemaName,
      summary: m.summary,
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${schemaName}` },
      ...(m.name === 'commandReply'
        ? { correlationId: { $ref: '#/components/correlationIds/commandCorrelation' } }
        : m.name === 'command'
          ? { correlationId: { $ref: '#/components/correlationIds/commandCorrelation' } }
          : {}),
    };
    channels[m.name] = {
      address: m.shared === true ? `${DEFAULT_PREFIX}/${m.kind}` : `${DEFAULT_PREFIX}/sites/{site}/${m.kind}`,
      title: m.kind,
      description: `${m.from === 'site' ? 'Published by the gateway' : 'Published by central'}; ${m.retained ? 'retained' : 'not retained'}; QoS ${m.qos}.${m.shared === true ? ' Shared by every site (read-only for sites).' : ''}`,
      ...(m.shared === true ? {} : { parameters: { site: { $ref: '#/components/parameters/site' } } }),
      messages: { [m.name]: { $ref: `#/components/messages/${m.name}` } },
    };
    const op: Record<string, unknown> = {
      // Written from the gateway's side: it sends what sites publish and receives what central publishes.
      action: m.from === 'site' ? 'send' : 'receive',
      channel: { $ref: `#/channels/${m.name}` },
      summary: m.summary,
      messages: [{ $ref: `#/channels/${m.name}/messages/${m.name}` }],
      bindings: { mqtt: { qos: m.qos, retain: m.retained, bindingVersion: '0.2.0' } },
    };
    if (m.name === 'command') {
      op.reply = {
        address: { location: '$message.header#/responseTopic', description: 'The MQTT 5 response topic (under the site tree); on MQTT 3.1.1 the commandReply channel.' },
        channel: { $ref: '#/channels/commandReply' },
        messages: [{ $ref: '#/channels/commandReply/messages/commandReply' }],
      };
    }
    if (m.name === 'membersRequest') {
      op.reply = {
        channel: { $ref: '#/channels/membersTransfer' },
        messages: [{ $ref: '#/channels/membersTransfer/messages/membersTransfer' }],
      };
    }
    operations[`${m.from === 'site' ? 'publish' : 'receive'}${pascal(m.name)}`] = op;
  }

  const doc = {
    asyncapi: '3.0.0',
    info: {
      title: 'Open Access gateway MQTT contract',
      version: `${CONTRACT_MAJOR}.${CONTRACT_MINOR}.0`,
      description: [
        'How branch gateways and central talk. Generated from policies/contract by scripts/asyncapi.ts: do not edit by hand.',
        '',
        `## Versions (this document: contract ${CONTRACT_VERSION})`,
        '',
        `- The contract is \`oa/v${CONTRACT_MAJOR}\`, the topic prefix. Within it changes are additive only: a new optional field, a new message, a new name in an open list. Anything else (removing, renaming or retyping a field, closing a list, changing a meaning) is a new major version on \`oa/v${CONTRACT_MAJOR + 1}\` topics, served alongside v${CONTRACT_MAJOR} while the estate moves over.`,
        '- Every message may carry `v`, the minor version its sender speaks (`1.v`); without it the message is from 1.0. Gateways write it from 1.1. Central does not write it yet: gateways of 1.0 refuse any key they do not know, so central is upgraded first and stamps its messages once no 1.0 gateway is left.',
        '- The schemas below are what every reader accepts. A reader ignores fields it does not know (and drops them), and takes any name in an open list (alarm, command, access reason, event type, mode, door state, reader role, policy source, occupancy change, system event: each shows its known names, then any name matching the pattern), keeping an unknown one as it came and showing it as unknown; a message is never refused for it. A gateway answers a command it does not know with a refusal naming it and the commands it knows. An event of an unknown type is kept whole.',
        '- A sender sends only the fields and the names its own version defines. Two-valued lists (online/offline, raised/cleared, granted/refused, applied/refused) and the member-list transfer kinds and refusals are closed: a new value there is a new major version.',
        '- The policy document (`policy`) is the one exception: it is versioned by its own `version`, and a gateway refuses a document with a key it does not know, since silently ignoring a rule could open a door that should stay shut.',
        '',
        '## Delivery',
        '',
        `- The prefix is configurable (default \`${DEFAULT_PREFIX}\`). Everything a site publishes or receives is under \`{prefix}/sites/{site}/\`, so a broker ACL confines each site to its own tree (docs/central.md).`,
        '- Events carry a ULID `id`: the gateway resends after an outage until the broker acknowledges (PUBACK); central stores each id once.',
        `- A command arriving with the retain flag, or whose \`at\` is more than ${COMMAND_MAX_AGE_MS / 1000} s from the gateway clock, is refused with an error reply and changes nothing. ${COMMANDS_WITHOUT_MAX_AGE.map((c) => `\`${c}\``).join(' and ')} are taken whatever their \`at\`: they only secure the branch, and a gateway with a wrong clock cannot tell skew from age.`,
        '- Command replies go to the MQTT 5 response topic with the request correlation data; the reply also repeats the command id for MQTT 3.1.1 brokers (the embedded aedes broker).',
        '- Member lists (docs/members.md): central announces the current version on `{prefix}/members/current` (retained, readable by every site). Each branch pulls what it lacks inside its own tree: a request on `members/request`, chunks (or a refusal) on `members/chunk`. A delta from the version it holds when central still keeps the deltas, else a snapshot; a window of chunks at a time, each with its SHA-256; the branch stages them durably and applies the version in one transaction once count and list hash match the announcement. Card numbers never leave central: members are keyed by HMAC-SHA256 with the deployment key, named by `keyId`.',
        `- A member-list request older than ${MEMBER_REQUEST_MAX_AGE_MS / 1000} s by its \`at\` (queued while central was away) is not answered; the branch asks again.`,
      ].join('\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      production: {
        host: 'broker.example.org:8883',
        protocol: 'mqtts',
        protocolVersion: '5',
        description: 'Mosquitto (or a clustered broker) with TLS, a password per site and an ACL by username.',
      },
      pilot: {
        host: '127.0.0.1:1883',
        protocol: 'mqtt',
        protocolVersion: '3.1.1',
        description: 'Central embedded aedes broker, for a pilot on one box.',
      },
    },
    channels,
    operations,
    components: {
      parameters: { site: { description: 'The site id: lower case letters, digits and dashes (also the broker username of that gateway).' } },
      correlationIds: {
        commandCorrelation: { description: 'MQTT 5 correlation data of the request, echoed on the reply.', location: '$message.header#/correlationData' },
      },
      messages,
      schemas,
    },
  };
  return `# Generated by scripts/asyncapi.ts from policies/contract: do not edit by hand.\n${stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const text = buildAsyncApi();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(ASYNCAPI_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${ASYNCAPI_PATH} is out of date: run npx tsx scripts/asyncapi.ts`);
      process.exit(1);
    }
    console.log(`${ASYNCAPI_PATH} is up to date`);
  } else {
    writeFileSync(ASYNCAPI_PATH, text);
    console.log(`wrote ${ASYNCAPI_PATH}`);
  }
}
