/**
 * A minimal Language Server Protocol client over stdio, as an editor drives
 * a server: Content-Length framed JSON-RPC, the initialize handshake, answers
 * to the server's own requests (workspace/configuration, capability
 * registration), requests with ids, and the diagnostics it publishes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../harness/ports.js';

interface Message {
  jsonrpc: '2.0';
  id?: number | string;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}
export interface Position {
  line: number;
  character: number;
}
export interface Diagnostic {
  range: { start: Position; end: Position };
  message: string;
  severity?: number;
  source?: string;
}
export interface CompletionItem {
  label: string;
  kind?: number;
  detail?: string;
  documentation?: string | { kind: string; value: string };
  insertText?: string;
}

export class LspClient {
  private proc: ChildProcess;
  private buf = Buffer.alloc(0);
  private nextId = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private stderr = '';
  readonly diagnostics = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
  /** the server's requests to the client, by method (what an editor is asked) */
  readonly serverRequests: string[] = [];
  private exited: Promise<number | null>;

  constructor(
    cmd: string,
    args: string[],
    private settings: Record<string, unknown>,
  ) {
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => this.proc.once('exit', (code) => res(code)));
    this.proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.stdin!.on('error', () => {
      /* the server went away; requests fail on their deadline */
    });
  }

  get log(): string {
    return this.stderr;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const m = /Content-Length: *(\d+)/i.exec(this.buf.subarray(0, head).toString('ascii'));
      if (!m) throw new Error(`LSP: a header without Content-Length: ${this.buf.subarray(0, head).toString()}`);
      const len = Number(m[1]);
      if (this.buf.length < head + 4 + len) return;
      const msg = JSON.parse(this.buf.subarray(head + 4, head + 4 + len).toString('utf8')) as Message;
      this.buf = this.buf.subarray(head + 4 + len);
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Message): void {
    if (msg.method !== undefined && msg.id !== undefined) {
      // a request from the server: answer as an editor does
      this.serverRequests.push(msg.method);
      let result: unknown = null;
      if (msg.method === 'workspace/configuration') {
        const items = (msg.params as { items: Array<{ section?: string }> }).items;
        result = items.map((it) => (it.section === undefined ? null : (this.settings[it.section] ?? null)));
      }
      this.send({ jsonrpc: '2.0', id: msg.id, result });
      return;
    }
    if (msg.method === 'textDocument/publishDiagnostics') {
      const p = msg.params as { uri: string; version?: number; diagnostics: Diagnostic[] };
      this.diagnostics.set(p.uri, { version: p.version, diagnostics: p.diagnostics });
      return;
    }
    if (msg.id !== undefined && typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`LSP error ${msg.error.code}: ${msg.error.message}`));
      else p?.resolve(msg.result);
    }
  }

  private send(m: Message): void {
    const body = Buffer.from(JSON.stringify(m), 'utf8');
    this.proc.stdin!.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
  }

  request<T>(method: string, params: unknown, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`LSP ${method}: no answer in ${timeoutMs} ms; server log: ${this.stderr}`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  async initialize(rootUri: string | null): Promise<Record<string, unknown>> {
    const r = await this.request<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: process.pid,
      rootUri,
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: {
          synchronization: { dynamicRegistration: true },
          completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          publishDiagnostics: { relatedInformation: true, versionSupport: true },
        },
      },
    });
    this.notify('initialized', {});
    this.notify('workspace/didChangeConfiguration', { settings: this.settings });
    return r.capabilities;
  }

  open(uri: string, text: string, version = 1): void {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version, text } });
  }

  async completion(uri: string, position: Position): Promise<CompletionItem[]> {
    const r = await this.request<{ items: CompletionItem[] } | CompletionItem[] | null>('textDocument/completion', { textDocument: { uri }, position });
    return r === null ? [] : Array.isArray(r) ? r : r.items;
  }

  /** the diagnostics of a document once the server has published them for this version */
  async diagnosticsFor(uri: string, version = 1, timeoutMs = 15_000): Promise<Diagnostic[]> {
    await waitFor(
      () => {
        const d = this.diagnostics.get(uri);
        return d !== undefined && (d.version === undefined || d.version >= version);
      },
      { timeoutMs, what: `diagnostics of ${uri}; server log: ${this.stderr}` },
    );
    return this.diagnostics.get(uri)!.diagnostics;
  }

  /** shutdown + exit, as an editor closes; killed when it does not exit in time */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      try {
        await this.request('shutdown', null, 5_000);
        this.notify('exit', null);
      } catch {
        /* gone already */
      }
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
      timer.unref();
      const code = await this.exited;
      clearTimeout(timer);
      return code;
    }
    return this.exited;
  }
}

export const docText = (d: CompletionItem['documentation']): string => (d === undefined ? '' : typeof d === 'string' ? d : d.value);
