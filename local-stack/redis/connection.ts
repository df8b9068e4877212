/**
 * TCP connections to the local redis-server. Commands written on one connection are answered
 * in order, so a FIFO of waiters is all the bookkeeping needed for pipelining.
 */
import { createConnection, type Socket } from "node:net";
import { encodeCommand, type Reply, ReplyParser } from "./resp.ts";

interface Waiter {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

/** One pipelining connection; once broken it stays broken and callers open another. */
export class RedisConnection {
  private readonly socket: Socket;
  private readonly parser = new ReplyParser();
  private readonly waiters: Waiter[] = [];
  private brokenBy: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection to redis-server closed")));
  }

  /** Connects to 127.0.0.1:`port`; rejects if nothing accepts the connection. */
  static open(port: number): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        resolve(new RedisConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  get usable(): boolean {
    return this.brokenBy === undefined;
  }

  /**
   * Sends the commands in one write and resolves with their replies, in order. Error replies
   * are values here; only a broken connection rejects.
   */
  send(commands: readonly (readonly Buffer[])[]): Promise<Reply[]> {
    if (this.brokenBy) {
      return Promise.reject(this.brokenBy);
    }
    const replies = commands.map(
      () =>
        new Promise<Reply>((resolve, reject) => {
          this.waiters.push({ resolve, reject });
        }),
    );
    this.socket.write(Buffer.concat(commands.map((args) => encodeCommand(args))));
    return Promise.all(replies);
  }

  close(): void {
    this.fail(new Error("connection to redis-server closed by the gateway"));
  }

  private receive(chunk: Buffer): void {
    let replies: Reply[];
    try {
      replies = this.parser.push(chunk);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    for (const reply of replies) {
      this.waiters.shift()?.resolve(reply);
    }
  }

  private fail(error: Error): void {
    if (this.brokenBy) {
      return;
    }
    this.brokenBy = error;
    this.socket.destroy();
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(error);
    }
  }
}

/**
 * A shared connection for ordinary commands plus idle spares for work that changes connection
 * state (MULTI/EXEC) or blocks (BLPOP...), which must not stall or leak into other requests.
 */
export class ConnectionPool {
  private static readonly MAX_IDLE = 8;
  private readonly port: number;
  private readonly idle: RedisConnection[] = [];
  private shared: Promise<RedisConnection> | undefined;
  private closed = false;

  constructor(port: number) {
    this.port = port;
  }

  /** Runs commands on the shared connection, opening a new one if the last one broke. */
  async send(commands: readonly (readonly Buffer[])[]): Promise<Reply[]> {
    const connection = await this.sharedConnection();
    return connection.send(commands);
  }

  /** Lends a connection of its own to `work`; it is reused only if `work` says it is clean. */
  async withDedicated<T>(
    work: (connection: RedisConnection) => Promise<{ value: T; reusable: boolean }>,
  ): Promise<T> {
    this.assertOpen();
    const connection = this.idle.pop() ?? (await RedisConnection.open(this.port));
    let reusable = false;
    try {
      const outcome = await work(connection);
      reusable = outcome.reusable;
      return outcome.value;
    } finally {
      const keep = reusable && connection.usable && !this.closed;
      if (keep && this.idle.length < ConnectionPool.MAX_IDLE) {
        this.idle.push(connection);
      } else {
        connection.close();
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) {
      connection.close();
    }
    this.shared?.then(
      (connection) => connection.close(),
      () => {},
    );
    this.shared = undefined;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Error("the gateway is shutting down");
    }
  }

  private async sharedConnection(): Promise<RedisConnection> {
    this.assertOpen();
    this.shared ??= RedisConnection.open(this.port);
    const pending = this.shared;
    const connection = await pending.catch(() => undefined);
    if (connection?.usable) {
      return connection;
    }
    // Whoever notices a dead connection first replaces it; later callers share the new one.
    if (this.shared === pending) {
      this.shared = RedisConnection.open(this.port);
    }
    return this.shared ?? Promise.reject(new Error("the gateway is shutting down"));
  }
}
