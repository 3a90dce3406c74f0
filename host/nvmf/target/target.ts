// The NVMe/TCP target (in the model of SPDK's nvmf library): subsystems,
// listeners, a discovery subsystem, and no threading model of its own.
// The application adds subsystems and listeners, calls accept() to take
// the connections that arrived and hands them to poll groups, and polls
// the groups (PollGroup.poll) to reap the device's completions.
//
//   const tgt = new NvmfTarget();
//   const sub = tgt.addSubsystem({ nqn, allowAnyHost: true });
//   sub.addNamespace(ctrl, 1);
//   await tgt.listen('127.0.0.1', 4420);
//   const pg = tgt.createPollGroup();
//   tgt.onConnection = () => { for (const c of tgt.accept()) pg.add(c); };
//   pg.start(); // or call pg.poll() from a loop of your own
import net from 'node:net';
import { InvalidArgumentError } from '../../index.js';
import { MAXH2CDATA_MIN } from '../../../assembly/nvme/tcp.js';
import { ADMIN_INCAPSULE_SIZE } from '../../../assembly/nvme/fabrics.js';
import { CAP_CSS_SHIFT, CAP_CSS_NVM, CAP_TO_SHIFT, CAP_CQR_SHIFT } from '../../../assembly/nvme/regs.js';
import { NvmfConfigError } from '../errors.js';
import { Subsystem as SubsystemOf, type SubsystemOptions } from './subsystem.js';
import type { Subsystem, FabricsController } from './association.js';
import { TcpConnection } from './connection.js';
import { PollGroup } from './poll-group.js';
import { discoveryLogPage, type DiscoveryPort } from './identify.js';
import type { TargetServices, TargetSettings } from './types.js';
import { checkCompletionMode, type CompletionMode } from '../../interrupts.js';

export interface NvmfTargetOptions {
  /** MAXH2CDATA announced in ICResp: most data per H2CData PDU, in bytes, a multiple of 4 from 4 KiB to 16 MiB. Default 128 KiB. */
  maxH2CData?: number;
  /** A PDU begun and not finished within this many milliseconds (1 to 3,600,000) ends its connection. Default 10000. */
  stallTimeoutMs?: number;
  /** A connection that sends no ICReq within this many milliseconds (1 to 3,600,000) is closed. Default 10000. */
  icTimeoutMs?: number;
  /** Timeout of the commands of the device's I/O queue pairs, in milliseconds (0 = none). Default: the controller's commandTimeoutMs. */
  deviceQueueTimeoutMs?: number;
  /**
   * completionMode of the device's I/O queue pairs (host/interrupts.ts).
   * 'adaptive': where the device has interrupt vectors (VFIO MSI-X, the
   * simulator) a poll group spins briefly after the last completion, then
   * sleeps on the interrupt of a busy connection's device queue, so a target
   * waiting on a slow device does not hold a CPU; elsewhere it polls.
   * 'interrupt': the same, and no vector is an error. Default 'poll': spin
   * 1 ms, then PollGroup's 1 ms timer. bench:nvmf in a TCG guest
   * (2026-12-02): adaptive / poll IOPS 0.77 at 4 KiB QD1, 1.10 at QD32, 0.70
   * at 128 KiB (docs/nvmf-target.md), so 'poll' stays the default.
   */
  deviceCompletionMode?: CompletionMode;
  /**
   * I/O queue sockets read by the poll group (recv, MSG_DONTWAIT, through the
   * HAL) while it spins, and by Node when it does not; answers written
   * straight to the socket while Node holds none of its bytes
   * (host/nvmf/target/socket-io.ts). false: Node reads and writes every
   * socket. Default true.
   */
  pollSockets?: boolean;
  /**
   * With pollSockets: once two polls in a row have found nothing, the poll
   * group blocks its thread in poll(2) on its hot sockets and on the
   * interrupt eventfds of busy device queues (VFIO MSI-X: deviceCompletionMode
   * 'adaptive' or 'interrupt'), for the rest of its 1 ms spin, instead of
   * spinning; a busy device queue without an eventfd keeps the spin.
   * Node's other work, a host in the same process included, waits at most
   * that long. bench:nvmf in a TCG guest (2026-12-02): with 'adaptive',
   * QD32 IOPS 1.17 times and target CPU per I/O 0.82 times the spinning
   * default's; QD1 IOPS 0.82 times. Default false.
   */
  pollWait?: boolean;
  /**
   * While the poll group spins, sched_yield(2) after each poll that found
   * nothing: a runnable thread on the same CPU (the hosts' side of a
   * loopback, a kernel work item, the device's emulation in a guest) runs
   * at once instead of after the spinner's time slice. bench:nvmf in a TCG
   * guest (2026-12-02 evening, two boots): QD1 IOPS 1.11 and 0.98 times
   * the plain spin's, QD32 0.98 and 0.83: within the guest's spread, so
   * off by default. Default false.
   */
  spinYield?: boolean;
  /** Where messages go (connections, refusals, ends of associations). Default: nowhere. */
  log?: (message: string) => void;
}

/** A TCP listener of the target. */
export class Listener {
  constructor(
    readonly server: net.Server,
    readonly address: string,
    readonly port: number,
    readonly portId: number,
  ) {}

  /** 'ADDR:PORT' ('[ADDR]:PORT' for IPv6). */
  get name(): string {
    return this.address.includes(':') ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
  }
}

export class NvmfTarget implements TargetServices {
  readonly settings: TargetSettings;
  readonly subsystems = new Map<string, Subsystem>();
  readonly listeners: Listener[] = [];
  /** Connections open now (accepted or waiting to be). */
  readonly connections = new Set<TcpConnection>();
  /** Called when a connection arrived for accept() to take. */
  onConnection: (() => void) | undefined;
  private readonly pending: TcpConnection[] = [];
  private readonly pollGroups: PollGroup[] = [];
  private genctr = 0;
  private discoveryCntlid = 0;
  private readonly logFn: (m: string) => void;
  private closing: Promise<void> | undefined;
  private sweep: NodeJS.Timeout | undefined;

  constructor(opts: NvmfTargetOptions = {}) {
    const int = (k: string, v: number, min: number, max: number) => {
      if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(k, `an integer from ${min} to ${max}`, v);
      return v;
    };
    const maxH2CData = int('maxH2CData', opts.maxH2CData ?? 128 * 1024, MAXH2CDATA_MIN, 16 * 1024 * 1024);
    if (maxH2CData % 4 !== 0) throw new InvalidArgumentError('maxH2CData', 'a multiple of 4', maxH2CData);
    this.settings = {
      maxH2CData,
      stallTimeoutMs: int('stallTimeoutMs', opts.stallTimeoutMs ?? 10_000, 1, 3_600_000),
      icTimeoutMs: int('icTimeoutMs', opts.icTimeoutMs ?? 10_000, 1, 3_600_000),
      adminInCapsuleSize: ADMIN_INCAPSULE_SIZE,
      deviceQueueTimeoutMs: opts.deviceQueueTimeoutMs ?? 30_000,
      deviceCompletionMode: checkCompletionMode('deviceCompletionMode', opts.deviceCompletionMode ?? 'poll'),
      pollSockets: opts.pollSockets ?? true,
      pollWait: opts.pollWait ?? false,
      spinYield: opts.spinYield ?? false,
    };
    if (typeof this.settings.spinYield !== 'boolean') throw new InvalidArgumentError('spinYield', 'true or false', this.settings.spinYield);
    if (typeof this.settings.pollSockets !== 'boolean') throw new InvalidArgumentError('pollSockets', 'true or false', this.settings.pollSockets);
    if (typeof this.settings.pollWait !== 'boolean') throw new InvalidArgumentError('pollWait', 'true or false', this.settings.pollWait);
    this.logFn = opts.log ?? (() => {});
  }

  log(message: string): void {
    this.logFn(message);
  }

  /** Create a subsystem (nvmf_create_subsystem). */
  addSubsystem(o: SubsystemOptions): Subsystem {
    const s = new SubsystemOf<FabricsController>(o);
    if (this.subsystems.has(s.nqn)) throw new NvmfConfigError(`subsystem ${s.nqn} exists`, s.nqn);
    this.subsystems.set(s.nqn, s);
    this.genctr++;
    return s;
  }

  findSubsystem(nqn: string): Subsystem | undefined {
    return this.subsystems.get(nqn);
  }

  /** Listen on `address`:`port` (nvmf_subsystem_add_listener: every subsystem is reachable on every listener). Resolves once it accepts connections. */
  listen(address: string, port: number): Promise<Listener> {
    if (net.isIP(address) === 0) return Promise.reject(new InvalidArgumentError('address', 'an IPv4 or IPv6 address', address));
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Promise.reject(new InvalidArgumentError('port', 'a TCP port (0 to 65535)', port));
    // Paused: the connection adopts the socket's descriptor before anything is read (socket-io.ts).
    const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (sock) => this.arrived(sock));
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new NvmfConfigError(`cannot listen on ${address}:${port}: ${e.code ?? e.message}`, `${address}:${port}`)));
      server.listen({ host: address, port, backlog: 1024 }, () => {
        const a = server.address() as net.AddressInfo;
        const l = new Listener(server, address, a.port, this.listeners.length + 1);
        this.listeners.push(l);
        this.genctr++;
        server.on('error', (e) => this.log(`listener ${l.name}: ${e.message}`));
        resolve(l);
      });
    });
  }

  private arrived(sock: net.Socket): void {
    if (this.closing) {
      sock.destroy();
      return;
    }
    const c = new TcpConnection(sock, this);
    this.connections.add(c);
    if (!this.sweep) {
      const every = Math.max(10, Math.min(500, Math.floor(Math.min(this.settings.stallTimeoutMs, this.settings.icTimeoutMs) / 4)));
      this.sweep = setInterval(() => {
        const now = performance.now();
        for (const x of this.connections) x.checkTimers(now);
      }, every);
      this.sweep.unref();
    }
    c.onClosed = () => this.connections.delete(c);
    this.pending.push(c);
    this.onConnection?.();
  }

  /** The accept step: the connections that arrived since the last call, for the application's poll groups. */
  accept(): TcpConnection[] {
    return this.pending.splice(0, this.pending.length).filter((c) => !c.isClosed);
  }

  /** A poll group connections can be handed to. */
  createPollGroup(): PollGroup {
    const g = new PollGroup();
    g.pollSockets = this.settings.pollSockets;
    g.pollWait = this.settings.pollWait;
    g.spinYield = this.settings.spinYield;
    this.pollGroups.push(g);
    return g;
  }

  discoveryLog(hostNqn: string): Buffer {
    const ports: DiscoveryPort[] = this.listeners.map((l) => ({ portId: l.portId, address: l.address, port: l.port }));
    return discoveryLogPage(this.genctr, [...this.subsystems.values()], ports, hostNqn);
  }

  capFor(sub: Subsystem | undefined): bigint {
    let mqes = 31;
    let to = 30; // 15 s
    if (sub?.device) {
      mqes = Math.min(sub.maxQueueDepth, sub.device.maxQueueEntries - 1) - 1;
      const cap = sub.device.readRegisters().cap;
      to = Number((cap >> BigInt(CAP_TO_SHIFT)) & 0xffn) || to;
    }
    return BigInt(mqes) | (1n << BigInt(CAP_CQR_SHIFT)) | (BigInt(to) << BigInt(CAP_TO_SHIFT)) | (BigInt(CAP_CSS_NVM) << BigInt(32 + CAP_CSS_SHIFT));
  }

  allocDiscoveryCntlid(): number {
    this.discoveryCntlid = (this.discoveryCntlid % 0xffef) + 1;
    return this.discoveryCntlid;
  }

  /**
   * Stop: close the listeners, end every association (hosts see their
   * connections close) and wait until every device queue pair the target
   * made is given back. The controllers themselves stay open (the caller's).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // (server.close calls back only once every connection has ended: wait for it last)
      const listenersClosed = Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
      const all = [...this.connections];
      const gone = all.map((c) => new Promise<void>((r) => {
        if (!this.connections.has(c)) return r();
        const prev = c.onClosed;
        c.onClosed = (x) => {
          prev?.(x);
          r();
        };
      }));
      if (this.sweep) clearInterval(this.sweep);
      for (const c of all) c.close('the target is shutting down');
      for (const g of this.pollGroups) g.stop();
      const t0 = Date.now();
      // Device completions of in-flight commands come through polling: keep reaping until all are back.
      while (this.connections.size > 0 && Date.now() - t0 < 10_000) {
        for (const g of this.pollGroups) g.poll();
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.race([Promise.all(gone), new Promise((r) => setTimeout(r, 1000))]);
      await Promise.race([listenersClosed, new Promise((r) => setTimeout(r, 1000))]);
    })();
    return this.closing;
  }
}
