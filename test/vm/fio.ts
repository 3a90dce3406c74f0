// Guest side: fio jobs on a block device the kernel initiator gave:
// verified random writes (the data-integrity check of the NVMe/TCP tests)
// and the timed jobs of bench:nvmf, parsed from fio's JSON output.
import { run, start, type Background, type CommandResult } from './exec.js';
import { GuestCommandError } from './errors.js';

/** A verified random-write job: every block written is read back and checked. */
export interface VerifyJob {
  /** /dev/nvmeXnY */
  filename: string;
  /** Bytes of the device covered, from offset 0; default 64 MiB. */
  size?: number;
  /** Block sizes; default 4k-256k. */
  bsrange?: string;
  /** Default 32. */
  iodepth?: number;
  /** Default libaio. */
  ioengine?: string;
  /** Random seed (the same seed replays the same offsets and sizes); default 0x6e766d65. */
  seed?: number;
  /** Write only (a later verifyOnly job checks); default false: write, then verify. */
  writeOnly?: boolean;
  /** Verify only, as if the job had written (fio --verify_only): after a writeOnly job with the same seed. */
  verifyOnly?: boolean;
  /** Stop after this many bytes of I/O (fio --io_size): to verify what an interrupted job wrote. */
  ioSize?: number;
  /** Liveness cap: fio is killed after this long (default 10 min); a hung job then fails instead of hanging the boot. */
  capMs?: number;
}

/** What a verify job did. */
export interface VerifyResult {
  /** fio's exit status: 0 when every write completed and every block verified. */
  status: number;
  /** Bytes written and read back (fio's io_bytes). */
  written: number;
  read: number;
  /** I/O errors fio counted (total_err). */
  errors: number;
  /** fio's stderr and the tail of its output, for messages. */
  output: string;
}

const DEFAULT_SEED = 0x6e766d65;

/** fio's arguments for a VerifyJob (verify=crc32c, verify_fatal=1, no verify state file). */
export function verifyArgs(j: VerifyJob): string[] {
  return [
    '--name=nvmf-verify',
    `--filename=${j.filename}`,
    `--ioengine=${j.ioengine ?? 'libaio'}`,
    '--direct=1',
    '--rw=randwrite',
    `--bsrange=${j.bsrange ?? '4k-256k'}`,
    `--iodepth=${j.iodepth ?? 32}`,
    `--size=${j.size ?? 64 << 20}`,
    ...(j.ioSize !== undefined ? [`--io_size=${j.ioSize}`] : []),
    `--randseed=${j.seed ?? DEFAULT_SEED}`,
    '--verify=crc32c',
    '--verify_fatal=1',
    '--verify_state_save=0',
    ...(j.writeOnly ? ['--do_verify=0'] : []),
    ...(j.verifyOnly ? ['--verify_only=1'] : []),
    '--output-format=json',
  ];
}

interface FioJson {
  jobs: Array<{ error: number; total_err?: number; read: { io_bytes: number }; write: { io_bytes: number } }>;
}

/** fio's JSON document (after whatever fio printed before it). */
export function parseFio(stdout: string): FioJson | undefined {
  const at = stdout.indexOf('{');
  if (at < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(at)) as FioJson;
  } catch {
    return undefined;
  }
}

function verifyResult(r: CommandResult): VerifyResult {
  const job = parseFio(r.stdout)?.jobs[0];
  const output = `${r.stderr.trim()}\n${r.stdout.split('\n').filter((l) => /verify|error|bad|fail/i.test(l)).slice(0, 10).join('\n')}`.trim();
  return { status: r.status, written: job?.write.io_bytes ?? 0, read: job?.read.io_bytes ?? 0, errors: job?.total_err ?? (job ? job.error : -1), output };
}

/** Runs a verify job to its end. */
export function fioVerify(j: VerifyJob): VerifyResult {
  return verifyResult(run('fio', verifyArgs(j), { allowFail: true, timeoutMs: j.capMs ?? 600_000 }));
}

/** Starts a verify job in the background (the target is killed under it). */
export function fioVerifyStart(j: VerifyJob): { bg: Background; result: Promise<VerifyResult> } {
  const bg = start('fio', verifyArgs(j));
  return { bg, result: bg.done.then(verifyResult) };
}

/** One timed fio job's figures: IOPS and latency from submission to completion (lat_ns). */
export interface PerfFigures {
  iops: number;
  meanUs: number;
  p99Us: number;
  /** I/Os completed (read + write total_ios). */
  ios: number;
}

/** A timed job of bench:nvmf. */
export interface PerfJob {
  filename: string;
  rw: 'randread' | 'write' | 'read' | 'randwrite';
  bs: string;
  iodepth: number;
  seconds: number;
  /** Default io_uring. */
  ioengine?: string;
}

/** fio's arguments for a timed job (O_DIRECT, time based, lat percentiles). */
export function perfArgs(j: PerfJob): string[] {
  return [
    '--name=nvmf-bench',
    `--filename=${j.filename}`,
    `--ioengine=${j.ioengine ?? 'io_uring'}`,
    '--direct=1',
    `--rw=${j.rw}`,
    `--bs=${j.bs}`,
    `--iodepth=${j.iodepth}`,
    '--time_based',
    `--runtime=${j.seconds}`,
    '--norandommap',
    '--randrepeat=0',
    '--lat_percentiles=1',
    '--output-format=json',
  ];
}

interface FioLat {
  mean: number;
  percentile?: Record<string, number>;
}
interface FioDir {
  iops: number;
  total_ios: number;
  lat_ns: FioLat;
  clat_ns: FioLat;
}

/** Figures of a finished timed job; throws GuestCommandError when fio failed. */
export function perfFigures(j: PerfJob, r: CommandResult): PerfFigures {
  const doc = r.status === 0 ? (parseFio(r.stdout) as unknown as { jobs: Array<{ read: FioDir; write: FioDir }> } | undefined) : undefined;
  const job = doc?.jobs[0];
  if (!job) throw new GuestCommandError('fio', perfArgs(j), r.status, `${r.stderr.trim()} ${r.stdout.slice(-500)}`);
  const d = j.rw.includes('read') ? job.read : job.write;
  const lat = d.lat_ns.percentile ? d.lat_ns : d.clat_ns;
  return { iops: d.iops, meanUs: d.lat_ns.mean / 1000, p99Us: (lat.percentile?.['99.000000'] ?? NaN) / 1000, ios: job.read.total_ios + job.write.total_ios };
}
