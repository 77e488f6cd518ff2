// The Redis side of the shared connection store (issue 12): one hash per CID, field `o` the owning node-id (decimal
// text), field `d` the sealed entry (seal.ts). Writes, deletes and claims are Lua scripts (atomic in Redis): an owner
// writes or deletes only while it is the owner, a claim moves the owner only from the one expected (one winner).
// Every write sets the entry's expiry (entryLifetime): entries of a node that died do not stay for ever.
import { Redis } from 'ioredis';

/** Key prefix of the entries: `<prefix><CID hex>`. */
export const STORE_KEY_PREFIX = 'extplugtest:dtls:cid:';

/** Settings of the Redis client. */
export interface RedisStoreOptions {
  /** `redis://host:port[/db]` (ioredis URL syntax) */
  url: string;
  /** a command not answered within this time fails (ms) */
  timeout: number;
  /** an entry expires this long after its last write or claim (ms) */
  entryLifetime: number;
  /** called on connection errors (logged by the caller, at most once per state change) */
  onError?: (err: Error) => void;
  /** called when the client is connected (again) */
  onReady?: () => void;
}

/** What an owner's write found. */
export type WriteResult = 'written' | 'other-owner';

/** An entry as stored: owner and sealed data. */
export interface RawEntry {
  owner: number;
  data: Buffer | undefined;
}

/** The store operations a cluster node uses. */
export interface RedisStore {
  /** Writes `data` as `owner`'s entry of `cid` unless another node owns it. */
  write(cid: Buffer, owner: number, data: Buffer): Promise<WriteResult>;
  /** Deletes the entry of `cid` if `owner` owns it. */
  remove(cid: Buffer, owner: number): Promise<void>;
  /** The entry of `cid`, undefined when there is none. */
  lookup(cid: Buffer): Promise<RawEntry | undefined>;
  /** Makes `me` the owner if `expected` still is; returns the owner afterwards (with the data when it is `me`). */
  claim(cid: Buffer, expected: number, me: number): Promise<RawEntry | undefined>;
  /** The client is connected. */
  readonly connected: boolean;
  /** Closes the client. */
  close(): Promise<void>;
}

const WRITE = `local o = redis.call('HGET', KEYS[1], 'o')
if o and o ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const REMOVE = `if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const CLAIM = `local o = redis.call('HGET', KEYS[1], 'o')
if not o then return false end
if o ~= ARGV[1] then return {o} end
redis.call('HSET', KEYS[1], 'o', ARGV[2])
return {ARGV[2], redis.call('HGET', KEYS[1], 'd')}`;

type Scripts = Redis & {
  storeWrite(key: string, owner: string, data: Buffer, lifetime: string): Promise<number>;
  storeRemove(key: string, owner: string): Promise<number>;
  storeClaimBuffer(key: string, expected: string, me: string): Promise<Buffer[] | null>;
};

/** The Redis key of a CID. */
export function storeKey(cid: Buffer): string {
  return STORE_KEY_PREFIX + cid.toString('hex');
}

function owner(text: Buffer | string | undefined | null): number | undefined {
  if (text === undefined || text === null) return undefined;
  const n = Number(text.toString());
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
}

/** Connects to Redis (in the background: commands fail while it is unreachable, nothing is queued). */
export function createRedisStore(o: RedisStoreOptions): RedisStore {
  const redis = new Redis(o.url, {
    commandTimeout: o.timeout,
    connectTimeout: o.timeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // reconnect every 0.5-2 s while unreachable
    retryStrategy: (times) => Math.min(2000, 500 * times),
  }) as Scripts;
  redis.on('error', (err: Error) => o.onError?.(err));
  redis.on('ready', () => o.onReady?.());
  redis.defineCommand('storeWrite', { numberOfKeys: 1, lua: WRITE });
  redis.defineCommand('storeRemove', { numberOfKeys: 1, lua: REMOVE });
  redis.defineCommand('storeClaim', { numberOfKeys: 1, lua: CLAIM });
  return {
    async write(cid, me, data) {
      return (await redis.storeWrite(storeKey(cid), String(me), data, String(Math.round(o.entryLifetime)))) === 1 ? 'written' : 'other-owner';
    },
    async remove(cid, me) {
      await redis.storeRemove(storeKey(cid), String(me));
    },
    async lookup(cid) {
      const [o, d] = await redis.hmgetBuffer(storeKey(cid), 'o', 'd');
      const id = owner(o);
      return id === undefined ? undefined : { owner: id, data: d ?? undefined };
    },
    async claim(cid, expected, me) {
      const r = await redis.storeClaimBuffer(storeKey(cid), String(expected), String(me));
      if (r === null || r.length === 0) return undefined;
      const id = owner(r[0]);
      return id === undefined ? undefined : { owner: id, data: r[1] ?? undefined };
    },
    get connected() {
      return redis.status === 'ready';
    },
    async close() {
      redis.disconnect();
    },
  };
}
