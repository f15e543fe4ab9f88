/**
 * The statsd receiver's native UDP reader (native/udprecv.c, built by
 * `npm run build` into dist/receivers/statsd/native/udprecv.node): one
 * recvmmsg call drains up to BATCH datagrams into one Buffer, datagram i at
 * offset i × SLOT, its size in lengths[i]. Node's dgram pays a Buffer, an
 * rinfo object and a JS callback per datagram (~5 µs for a 20-line
 * datagram); here a whole batch costs one call.
 *
 * Feature-detected: Linux, the addon loads, and the socket's internal
 * handle exposes its fd and recvStop/recvStart. Otherwise the receiver reads
 * through node:dgram and says why once per process.
 */
import { createRequire } from 'node:module';
import type dgram from 'node:dgram';

/** what the addon exports */
export interface NativeUdp {
  /** up to min(buf.length / slot, lengths.length, 256) datagrams without blocking: their count, 0 when none waits, or -errno */
  recv(fd: number, buf: Buffer, slot: number, lengths: Int32Array): number;
}

/** bytes per datagram slot: the largest UDP payload fits, as in node:dgram's 64 KiB read buffer */
export const SLOT = 65536;
/** datagrams per call (the buffer is BATCH × SLOT of virtual memory; only the bytes received are touched) */
export const BATCH = 128;

/** Node's UDP handle (internal): what paused and native reads need of it. */
export interface UdpHandle {
  recvStart(): number;
  recvStop(): number;
  readonly fd?: number;
}

/**
 * The socket's internal handle when it can be paused (Node's dgram keeps it
 * under a private symbol, `state symbol`; no public API pauses a UDP
 * socket); undefined on a Node where that is not so.
 */
export function udpHandle(sock: dgram.Socket): UdpHandle | undefined {
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol');
  const h = sym === undefined ? undefined : (sock as unknown as Record<symbol, { handle?: Partial<UdpHandle> } | undefined>)[sym]?.handle;
  return h !== undefined && typeof h.recvStop === 'function' && typeof h.recvStart === 'function' ? (h as UdpHandle) : undefined;
}

const DEFAULT_PATH = './native/udprecv.node';
let addonPath = DEFAULT_PATH;
let loaded: { mod: NativeUdp } | { why: string } | undefined;

/** The addon, or why it is not there (loaded once per process). */
export function nativeUdp(): { mod: NativeUdp } | { why: string } {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') loaded = { why: `recvmmsg is Linux only (this is ${process.platform})` };
  else {
    try {
      const mod = createRequire(import.meta.url)(addonPath) as Partial<NativeUdp>;
      loaded = typeof mod.recv === 'function' ? { mod: mod as NativeUdp } : { why: `${addonPath} has no recv()` };
    } catch (err) {
      loaded = { why: `cannot load ${addonPath} (build it with npm run build): ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return loaded;
}

/** Tests: load the addon from another path (a missing one exercises the fallback); undefined restores the default. */
export function setNativeUdpPath(path: string | undefined): void {
  addonPath = path ?? DEFAULT_PATH;
  loaded = undefined;
  told = false;
}

let told = false;
/** true the first time a receiver falls back to node:dgram in this process (it logs why once) */
export function firstFallback(): boolean {
  if (told) return false;
  told = true;
  return true;
}
