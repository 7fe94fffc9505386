// aedes's parser (mqtt-packet) holds a packet until its last byte has arrived and has no size limit: one 128 MB
// PUBLISH became 128 MB in central's heap several times over. This stream stands between the socket and aedes and
// reads only the MQTT framing (a type byte and the remaining length, MQTT 3.1.1 §2.2): a packet announcing more
// than the connection's limit ends the connection before its body is read, so nothing big is ever buffered.
import { Duplex } from 'node:stream';

/** MQTT's remaining length takes at most four bytes; a fifth is a malformed packet, refused like a large one. */
const MAX_LENGTH_BYTES = 4;

export interface PacketGuard {
  /** What aedes is handed instead of the socket. */
  stream: Duplex;
  /** Changed once the client is known (central sends member chunks of tens of MiB; a site nothing near that). */
  setLimit(maxPacketBytes: number): void;
}

/**
 * Wraps `socket`. `onTooLarge` is told the announced size before the connection is destroyed; `length` is
 * `undefined` for a malformed remaining length.
 */
export function guardPackets(socket: Duplex, maxPacketBytes: number, onTooLarge: (length: number | undefined, limit: number) => void): PacketGuard {
  let limit = maxPacketBytes;
  // The framing state: reading a type byte, the remaining length's bytes, or skipping `toSkip` body bytes.
  let state: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let toSkip = 0;

  /** Index of the first byte of `chunk` past which the connection must end, or -1 when all of it may pass. */
  function scan(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length) {
      if (state === 'body') {
        const n = Math.min(toSkip, chunk.length - i);
        toSkip -= n;
        i += n;
        if (toSkip === 0) state = 'type';
        continue;
      }
      const byte = chunk[i]!;
      i += 1;
      if (state === 'type') {
        state = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
        continue;
      }
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      lengthBytes += 1;
      if (byte & 0x80) {
        if (lengthBytes === MAX_LENGTH_BYTES) {
          onTooLarge(undefined, limit);
          return i;
        }
        continue;
      }
      if (length > limit) {
        onTooLarge(length, limit);
        return i;
      }
      toSkip = length;
      state = toSkip === 0 ? 'type' : 'body';
    }
    return -1;
  }

  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    writev(chunks, callback) {
      // mqtt-packet writes a packet in several pieces: one segment on the wire, as the socket alone would do.
      socket.cork();
      for (const { chunk } of chunks.slice(0, -1)) socket.write(chunk);
      socket.write(chunks.at(-1)!.chunk, callback);
      socket.uncork();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (stream.destroyed) return;
    const stop = scan(chunk);
    if (stop >= 0) {
      stream.destroy();
      return;
    }
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (error) => stream.destroy(error));
  socket.on('close', () => stream.destroy());
  return {
    stream,
    setLimit(maxBytes: number) {
      limit = maxBytes;
    },
  };
}
