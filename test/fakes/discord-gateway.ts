/**
 * The gateway half of the fake Discord (see discord-api.ts): a WebSocket server speaking Discord's
 * gateway protocol v10 in plain JSON frames, enough for discord.js to connect, stay connected and
 * resume. HELLO (op 10) on connect; IDENTIFY (op 2) is checked for the token and the intents, then
 * READY and one GUILD_CREATE per guild; heartbeats (op 1) are acknowledged (op 11); RESUME (op 6)
 * replays the dispatches missed since the client's sequence number and ends with RESUMED.
 * Several clients may be connected at once (instances, shards), each with its own session; every
 * dispatch goes to every session. A session whose socket dropped keeps its dispatches for the
 * replay, as Discord does; a clean close (1000/1001) ends the session.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** Gateway opcodes used here (Discord's numbering). */
const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Reconnect: 7, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;

/** An IDENTIFY as the client sent it. */
export interface RecordedIdentify {
  token: string;
  intents: number;
  shard: [number, number] | undefined;
}

/** A RESUME as the client sent it. */
export interface RecordedResume {
  token: string;
  session_id: string;
  seq: number | null;
}

export interface FakeGatewayOptions {
  token: string;
  /** Intent bits the bot is allowed (privileged intents turned on in the portal); others close 4014. */
  allowedIntents: number;
  /** Heartbeat interval announced in HELLO. */
  heartbeatIntervalMs: number;
  /** READY's `d`, given the new session's id and resume URL. */
  ready(sessionId: string, resumeUrl: string): unknown;
  /** The GUILD_CREATE payloads sent after READY. */
  guilds(): unknown[];
  /** Called after every frame received and every disconnect, so waiters can re-check. */
  onEvent(): void;
}

interface Session {
  id: string;
  seq: number;
  /** Every dispatch of this session, for RESUME replays. */
  log: Array<{ s: number; t: string; d: unknown }>;
  socket: WebSocket | undefined;
}

/** The gateway endpoint of the fake: attaches to the fake's HTTP server for upgrades. */
export class FakeGateway {
  readonly identifies: RecordedIdentify[] = [];
  readonly resumes: RecordedResume[] = [];
  /** Heartbeats received (op 1). */
  heartbeats = 0;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private sessionCounter = 0;

  constructor(
    private readonly options: FakeGatewayOptions,
    server: Server,
    private readonly url: () => string,
  ) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
  }

  /** How many clients are connected with an identified or resumed session. */
  get connected(): number {
    return [...this.sessions.values()].filter((s) => s.socket !== undefined).length;
  }

  /** Sends one dispatch event to every session (kept for the resume of a dropped one). */
  dispatch(t: string, d: unknown): void {
    if (this.sessions.size === 0) throw new Error(`cannot dispatch ${t}: no client has identified`);
    for (const session of this.sessions.values()) this.dispatchTo(session, t, d);
  }

  /**
   * Drops every connection. Without a code, abruptly, as a network failure would (clients see
   * 1006 and resume; the sessions stay valid, so dispatches made meanwhile are replayed on RESUME).
   * With a close code, as Discord closes (e.g. 4004 when the token was revoked).
   */
  drop(code?: number): void {
    const live = [...this.sessions.values()].filter((s) => s.socket !== undefined);
    if (live.length === 0) throw new Error('no connected client to drop');
    for (const session of live) {
      const socket = session.socket!;
      session.socket = undefined;
      if (code === undefined) socket.terminate();
      else socket.close(code);
    }
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private dispatchTo(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const entry = { s: session.seq, t, d };
    session.log.push(entry);
    session.socket?.send(JSON.stringify({ op: Op.Dispatch, ...entry }));
  }

  private onConnection(ws: WebSocket): void {
    ws.send(JSON.stringify({ op: Op.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs } }));
    ws.on('message', (raw) => {
      let frame: { op: number; d: unknown };
      try {
        frame = JSON.parse((raw as Buffer).toString('utf8')) as { op: number; d: unknown };
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.onFrame(ws, frame);
      this.options.onEvent();
    });
    ws.on('close', (code) => {
      for (const [id, session] of this.sessions) {
        if (session.socket !== ws) continue;
        session.socket = undefined;
        if (code === 1000 || code === 1001) this.sessions.delete(id);
      }
      this.options.onEvent();
    });
  }

  private onFrame(ws: WebSocket, frame: { op: number; d: unknown }): void {
    switch (frame.op) {
      case Op.Heartbeat:
        this.heartbeats += 1;
        ws.send(JSON.stringify({ op: Op.HeartbeatAck }));
        return;
      case Op.Identify: {
        const d = frame.d as { token: string; intents: number; shard?: [number, number] };
        this.identifies.push({ token: d.token, intents: d.intents, shard: d.shard });
        if (d.token !== this.options.token) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        if ((d.intents & ~this.options.allowedIntents) !== 0) {
          ws.close(4014, 'Disallowed intent(s).');
          return;
        }
        this.sessionCounter += 1;
        const id = `fake-session-${this.sessionCounter}`;
        const session: Session = { id, seq: 0, log: [], socket: ws };
        this.sessions.set(id, session);
        this.dispatchTo(session, 'READY', this.options.ready(id, `${this.url()}/resume`));
        for (const guild of this.options.guilds()) this.dispatchTo(session, 'GUILD_CREATE', guild);
        return;
      }
      case Op.Resume: {
        const d = frame.d as RecordedResume;
        this.resumes.push({ token: d.token, session_id: d.session_id, seq: d.seq });
        const session = this.sessions.get(d.session_id);
        if (d.token !== this.options.token || !session) {
          // Not resumable: the client must identify again.
          ws.send(JSON.stringify({ op: Op.InvalidSession, d: false }));
          return;
        }
        session.socket = ws;
        for (const entry of session.log) if (entry.s > (d.seq ?? 0)) ws.send(JSON.stringify({ op: Op.Dispatch, ...entry }));
        this.dispatchTo(session, 'RESUMED', {});
        return;
      }
      default:
        // Presence and voice updates, request guild members: accepted and ignored.
        return;
    }
  }
}
