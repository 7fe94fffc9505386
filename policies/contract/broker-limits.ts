// What a broker takes at all, before it knows the topic; each reader then holds a payload to its kind's own limit
// (MAX_PAYLOAD_BYTES in parse.ts).
import { LARGEST_PAYLOAD_BYTES } from './parse.js';

/**
 * The largest MQTT packet a broker accepts (Mosquitto's `max_packet_size`): the largest kind's payload (a member
 * chunk, about 20 MiB) plus room for the topic and MQTT 5 properties, so a valid message of any kind passes and the
 * 128 MB publish of issue #13 does not. A client sending more is disconnected as the packet's length is read,
 * before the broker buffers it.
 */
export const MAX_BROKER_PACKET_BYTES = LARGEST_PAYLOAD_BYTES + 64 * 1024;
