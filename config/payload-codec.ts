// The payload key ring and the AES-256-GCM codec over it. Pure: keys come in as bytes (config/
// temporal.ts reads them). The first key of the ring encrypts; every key decrypts what it wrote,
// found by the key id each payload carries, so a key can be rotated while histories, schedules
// and long-running workflows written under the older one are still read.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

const { temporal } = proto;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

/**
 * The id a key gets when the config names none (a single `temporal.payloadKey`, or an entry of
 * `payloadKeys` without `id`): what the codec has always written, so payloads written before
 * key rings existed stay readable. Not secret: 64 bits of the key's SHA-256.
 */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export interface RingKey {
  id: string;
  fingerprint: string;
  key: Buffer;
  /** Where the key is configured, for messages (e.g. "temporal.payloadKeys.1"). */
  source: string;
}

export class KeyRingError extends Error {
  override name = 'KeyRingError';
  constructor(
    message: string,
    /** The config path at fault. */
    readonly path: string,
  ) {
    super(message);
  }
}

/** A payload names a key this ring does not hold: the process needs that key added to its ring. */
export class UnknownPayloadKeyError extends Error {
  override name = 'UnknownPayloadKeyError';
  constructor(
    readonly keyId: string,
    ring: KeyRing,
  ) {
    const named = keyId ? `key ${keyId}` : 'a key without an id';
    const fp = /^[0-9a-f]{16}$/.test(keyId)
      ? ` (an id of 16 hex digits is a key's fingerprint, what a key configured without an id writes; \`osbackup config check\` prints the fingerprint of each key it is given)`
      : '';
    super(
      `payload was encrypted with ${named}, which is not in this process's payload key ring (${ring.describe()}). Fix: add that key to temporal.payloadKeys, after the current one, in the config of this process${fp}; workers, the CLI and the codec server need every key still in use`,
    );
  }
}

export interface KeyInput {
  /** Absent: the key's fingerprint. */
  id?: string;
  key: Buffer;
  source?: string;
}

/** The keys by id, the first one current. Each key also answers to its fingerprint. */
export class KeyRing {
  readonly keys: readonly RingKey[];
  private readonly byId = new Map<string, RingKey>();

  constructor(inputs: readonly KeyInput[]) {
    if (!inputs.length) throw new KeyRingError('the payload key ring is empty', 'temporal.payloadKeys');
    this.keys = inputs.map((k, i) => {
      const source = k.source ?? `key ${i + 1}`;
      if (k.key.length !== 32)
        throw new KeyRingError(
          `${source}: the key is ${k.key.length} bytes, not 32. Fix: write 32 random bytes as hex or base64 (openssl rand -hex 32)`,
          source,
        );
      const fingerprint = keyFingerprint(k.key);
      return { id: k.id ?? fingerprint, fingerprint, key: k.key, source };
    });
    for (const [i, k] of this.keys.entries()) {
      const other = this.keys.slice(0, i).find((o) => o.fingerprint === k.fingerprint);
      if (other)
        throw new KeyRingError(
          `${k.source} holds the same key as ${other.source} (fingerprint ${k.fingerprint}). Fix: each entry of the ring is a different key; remove one`,
          k.source,
        );
    }
    // ids first: an id is what a payload written under this ring carries
    for (const k of this.keys) {
      const taken = this.byId.get(k.id);
      if (taken)
        throw new KeyRingError(
          `${k.source}: the id ${k.id} is also ${taken.source}'s. Fix: give every key its own id`,
          k.source,
        );
      this.byId.set(k.id, k);
    }
    for (const k of this.keys) {
      const taken = this.byId.get(k.fingerprint);
      if (taken && taken !== k)
        throw new KeyRingError(
          `${taken.source}: the id ${taken.id} is the fingerprint of ${k.source}'s key, so payloads under either would be read with the wrong key. Fix: choose another id`,
          taken.source,
        );
      this.byId.set(k.fingerprint, k);
    }
  }

  /** The key new payloads are encrypted with. */
  get current(): RingKey {
    return this.keys[0]!;
  }

  find(id: string): RingKey | undefined {
    return this.byId.get(id);
  }

  /** "2026-05 (current), 2025-11" — ids only, and fingerprints where they differ from the id. */
  describe(withFingerprints = false): string {
    return this.keys
      .map((k, i) => {
        const notes = [
          ...(i === 0 ? ['current'] : []),
          ...(withFingerprints && k.id !== k.fingerprint ? [`fingerprint ${k.fingerprint}`] : []),
        ];
        return `${k.id}${notes.length ? ` (${notes.join(', ')})` : ''}`;
      })
      .join(', ');
  }
}

/** AES-256-GCM over the whole serialized payload, under the ring's current key; any key of the ring decrypts. */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly ring: KeyRing;

  /** One key (a ring of one, its id the fingerprint), or a ring. */
  constructor(keys: Buffer | KeyRing) {
    this.ring = Buffer.isBuffer(keys) ? new KeyRing([{ key: keys }]) : keys;
  }

  /** The id new payloads carry. */
  get keyId(): string {
    return this.ring.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.ring.current;
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(temporal.api.common.v1.Payload.encode(p).finish()), c.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(id) },
        data: Buffer.concat([iv, c.getAuthTag(), body]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING) return p;
      const kid = payloadKeyId(p) ?? '';
      const k = this.ring.find(kid);
      if (!k) throw new UnknownPayloadKeyError(kid, this.ring);
      const d = Buffer.from(p.data ?? []);
      try {
        const dec = createDecipheriv('aes-256-gcm', k.key, d.subarray(0, 12));
        dec.setAuthTag(d.subarray(12, 28));
        return temporal.api.common.v1.Payload.decode(
          Buffer.concat([dec.update(d.subarray(28)), dec.final()]),
        ) as Payload;
      } catch {
        // GCM's own "unable to authenticate data" names neither the key nor what to do
        throw new Error(
          `a payload encrypted with key ${kid} does not authenticate under this process's key ${k.id} (${k.source}): another key was configured under that id somewhere, or the payload is corrupted. Fix: give every worker, CLI and codec server the same key under the id ${kid}`,
        );
      }
    });
  }
}

/** The key id an encrypted payload carries; null for a payload in clear. */
export function payloadKeyId(p: Payload): string | null {
  if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING) return null;
  return Buffer.from(p.metadata?.[KEY_ID_METADATA] ?? []).toString();
}
