import { Duplex, Transform, pipeline, type TransformCallback } from 'node:stream';
import { MalformedPacketError, PacketTooLargeError } from './errors.js';

/**
 * Room for everything in a PUBLISH besides the payload: topic (2-byte length + up to
 * 65535 bytes), packet identifier (2) and, for MQTT 5, properties (64 KiB allowed).
 */
export const PUBLISH_OVERHEAD_BYTES = 2 + 65_535 + 2 + 65_536;

const State = { Header: 0, Length: 1, Body: 2 } as const;
type State = (typeof State)[keyof typeof State];

/**
 * Passes MQTT bytes through unchanged while reading each fixed header, and fails as
 * soon as a packet announces a Remaining Length over the limit. Without it the MQTT
 * parser buffers a whole packet before anyone looks at it, up to 256 MiB per client;
 * with it a connection costs at most one limit-sized packet.
 */
class PacketSizeGuard extends Transform {
  private state: State = State.Header;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxRemainingLength: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === State.Header) {
        // One byte: packet type and flags [MQTT-2.2].
        i += 1;
        this.state = State.Length;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === State.Length) {
        // Remaining Length: 1 to 4 bytes, 7 bits each, low bits first [MQTT-2.2.3].
        const byte = chunk[i] ?? 0;
        i += 1;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes += 1;
        if ((byte & 0x80) !== 0) {
          if (this.lengthBytes === 4) {
            done(new MalformedPacketError('Remaining Length longer than 4 bytes'));
            return;
          }
          continue;
        }
        if (this.length > this.maxRemainingLength) {
          done(new PacketTooLargeError(this.length, this.maxRemainingLength));
          return;
        }
        this.bodyLeft = this.length;
        this.state = this.length === 0 ? State.Header : State.Body;
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        i += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) this.state = State.Header;
      }
    }
    done(null, chunk);
  }
}

/**
 * `conn` with its incoming bytes checked by a {@link PacketSizeGuard}: what Aedes reads
 * comes through the guard, what it writes goes straight to `conn`, and destroying the
 * result destroys `conn`. An oversized packet destroys both with a
 * {@link PacketTooLargeError}, which Aedes reports as `clientError` or `connectionError`.
 */
export function guardPacketSize(conn: Duplex, maxRemainingLength: number): Duplex {
  const guard = new PacketSizeGuard(maxRemainingLength);
  // The error reaches Aedes through the guarded stream; nothing to do here.
  pipeline(conn, guard, () => undefined);
  return Duplex.from({ readable: guard, writable: conn });
}
