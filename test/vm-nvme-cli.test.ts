// Inside the VM (npm run test:vm): nvme-wasm's id-ctrl, id-ns, smart-log,
// error-log, list and get-feature against nvme-cli 2.3 (Debian 12) on the
// same QEMU controller. nvme-cli runs first, through the kernel's nvme
// driver; then the controller is bound to the route's driver (vfio-pci on
// the vfio boot) and nvme-wasm runs the same commands; the outputs are
// compared field by field: equal keys, equal values, except the fields in
// MAY_DIFFER (each with its reason). Skips itself outside a guest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { vmConfig, MAIN, tridOf, bindForRoute, resetToKernel } from './helpers/pcie-vm.js';
import { kernelReady } from './vm/kernel.js';
import type { Command } from 'commander';
import { IDNS_NUSE } from '../assembly/nvme/identify.js';
import { identifyCommand, idCtrlCommand, idNsCommand, smartLogCommand, errorLogCommand, listCommand, getFeatureCommand } from '../host/cli/manage.js';

const vm = vmConfig();
const t = vm ? test : test.skip;
const main = vm?.devices[0];

/** Fields allowed to differ between the two runs, and why. Everything else must be equal. */
const MAY_DIFFER: Record<string, Record<string, string>> = {
  'id-ns': { nuse: 'Namespace Utilization is the device\'s live figure (QEMU reports NSZE; a thin-provisioned device would change between the runs)' },
  'smart-log': {
    data_units_read: 'the kernel reads the partition table when it binds (again after nvme-cli\'s run): I/O counters move between the runs',
    data_units_written: 'I/O counter (as data_units_read)',
    host_read_commands: 'I/O counter (as data_units_read)',
    host_write_commands: 'I/O counter (as data_units_read)',
    controller_busy_time: 'grows with the I/O above (minutes)',
    power_on_hours: 'QEMU counts it from the controller\'s start: may tick between the runs',
    temperature: 'a live reading (QEMU\'s is constant, but a device\'s is not)',
  },
  list: { DevicePath: 'nvme-cli names the kernel\'s block device (/dev/nvme0n1); nvme-wasm has none: the transport ID and NSID' },
  'get-feature': { '0x0b': 'Asynchronous Event Configuration: each driver enables the events it handles' },
};

/** Differences seen, per command, with both values: reported at the end. */
const seen: string[] = [];

/** Each command's limit: a hung command fails the test instead of the boot's timeout. */
const COMMAND_TIMEOUT_MS = 120_000;

/** Progress on stdout (synchronous on a pipe): a hang shows where it is. */
const t0 = Date.now();
const step = (s: string): void => void process.stdout.write(`vm-nvme-cli: ${((Date.now() - t0) / 1000).toFixed(1)} s: ${s}\n`);

function nvmeCli(...args: string[]): Buffer {
  step(`nvme ${args.join(' ')}`);
  return execFileSync('nvme', args, { maxBuffer: 1 << 22, timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' });
}

/** Keys and values of two JSON documents, recursively; differences only where MAY_DIFFER allows. */
function compare(what: string, ours: unknown, theirs: unknown, path = ''): void {
  const allowed = MAY_DIFFER[what] ?? {};
  if (typeof theirs === 'object' && theirs !== null) {
    assert.type(ours, 'object', `${what} ${path}: an object or array`);
    assert.is(Array.isArray(ours), Array.isArray(theirs), `${what} ${path}: array or not`);
    const a = ours as Record<string, unknown>;
    const b = theirs as Record<string, unknown>;
    assert.equal(Object.keys(a), Object.keys(b), `${what} ${path}: the same keys in the same order`);
    for (const k of Object.keys(b)) compare(what, a[k], b[k], path ? `${path}.${k}` : k);
    return;
  }
  const key = path.split('.').pop()!;
  assert.is(typeof ours, typeof theirs, `${what} ${path}: the same JSON type (${typeof theirs})`);
  if (ours !== theirs) {
    seen.push(`${what} ${path}: nvme-cli ${JSON.stringify(theirs)}, nvme-wasm ${JSON.stringify(ours)}`);
    assert.ok(key in allowed, `${what} ${path}: nvme-cli says ${JSON.stringify(theirs)}, nvme-wasm ${JSON.stringify(ours)}`);
  }
}

/** -H output as key -> its block of decoded lines. */
function blocks(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-z][a-z0-9]*)\s*:/.exec(line);
    if (m) {
      cur = [line];
      out.set(m[1]!, cur);
    } else if (line.startsWith('ps ') || line.startsWith('lbaf') || line.startsWith('LBA Format')) {
      cur = undefined;
    } else if (cur && line.trim() !== '') cur.push(line);
  }
  return out;
}

interface Captured {
  idCtrl: string;
  /** nvme-wasm only: the SPDK-style overview. */
  identify?: string;
  idCtrlText: string;
  idCtrlHuman: string;
  idCtrlBin: Buffer;
  idNs: Map<number, { json: string; text: string; human: string; bin: Buffer }>;
  smart: string;
  smartHuman: string;
  errors: string;
  list: string;
  features: Map<number, string>;
}

/** Features compared; Error Recovery is per namespace on QEMU (DULBE): NSID 1. */
const FIDS = [0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0b];
const nsArgs = (f: number): string[] => (f === 0x05 ? ['-n', '1'] : []);
let kernel: Captured | undefined;
let wasm: Captured | undefined;

/**
 * `nvme-wasm <args> -r <the controller>` as its own process (the real entry
 * point): its stdout; throws with its stderr on failure or timeout. Under
 * TCG one run costs 40 to 60 s (node, compiling the WebAssembly core,
 * bring-up), so the test spawns one and runs the rest in-process (below).
 */
function spawned(...args: string[]): Buffer {
  step(`nvme-wasm ${args.join(' ')} (process)`);
  const r = spawnSync(process.execPath, [MAIN, ...args, '-r', tridOf(main!)], { maxBuffer: 1 << 22, timeout: COMMAND_TIMEOUT_MS * 2, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`nvme-wasm ${args.join(' ')}: exit ${r.status} ${r.signal ?? ''} ${r.error?.message ?? ''}: ${r.stderr?.toString()}`);
  return r.stdout;
}

const COMMANDS: Record<string, () => Command> = {
  identify: identifyCommand, 'id-ctrl': idCtrlCommand, 'id-ns': idNsCommand, 'smart-log': smartLogCommand, 'error-log': errorLogCommand, list: listCommand, 'get-feature': getFeatureCommand,
};

/** The same command line run in this process (the CLI's own commander commands, stdout captured): each attaches and detaches as the CLI does. */
async function oursBinary(...args: string[]): Promise<Buffer> {
  step(`nvme-wasm ${args.join(' ')}`);
  const [name, ...rest] = args;
  const cmd = COMMANDS[name!]!().exitOverride();
  const chunks: Buffer[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => chunks.push(Buffer.from(c)) > 0) as typeof process.stdout.write;
  try {
    await cmd.parseAsync([...rest, '-r', tridOf(main!)], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return Buffer.concat(chunks);
}

const ours = async (...args: string[]): Promise<string> => (await oursBinary(...args)).toString('utf8');

test.before(async () => {
  if (!vm) return;
  step('waiting for the kernel');
  const { ctrl, ns } = await kernelReady(main!);
  const dev = `/dev/${ctrl}`;
  const s = (...a: string[]) => nvmeCli(...a).toString('utf8');
  kernel = {
    idCtrl: s('id-ctrl', dev, '-o', 'json'),
    idCtrlText: s('id-ctrl', dev),
    idCtrlHuman: s('id-ctrl', dev, '-H'),
    idCtrlBin: nvmeCli('id-ctrl', dev, '-b'),
    idNs: new Map(main!.namespaces.map((n) => {
      const blk = `/dev/${ns.get(n.nsid)!}`;
      return [n.nsid, { json: s('id-ns', blk, '-o', 'json'), text: s('id-ns', blk), human: s('id-ns', blk, '-H'), bin: nvmeCli('id-ns', blk, '-b') }];
    })),
    smart: s('smart-log', dev, '-o', 'json'),
    smartHuman: s('smart-log', dev, '-o', 'json', '-H'),
    errors: s('error-log', dev, '-o', 'json'),
    list: s('list', '-o', 'json'),
    features: new Map(FIDS.map((f) => [f, s('get-feature', dev, '-f', String(f), ...nsArgs(f))])),
  };
  step(`binding ${main!.bdf} to the route's driver`);
  bindForRoute(vm, [main!]);
  const idCtrl = spawned('id-ctrl', '-o', 'json').toString('utf8');
  const idNs = new Map<number, { json: string; text: string; human: string; bin: Buffer }>();
  for (const n of main!.namespaces) {
    const id = String(n.nsid);
    idNs.set(n.nsid, {
      json: await ours('id-ns', '-n', id, '-o', 'json'), text: await ours('id-ns', '-n', id), human: await ours('id-ns', '-n', id, '-H'),
      bin: await oursBinary('id-ns', '-n', id, '-b'),
    });
  }
  const features = new Map<number, string>();
  for (const f of FIDS) features.set(f, await ours('get-feature', '-f', String(f), ...nsArgs(f)));
  wasm = {
    idCtrl,
    idCtrlText: await ours('id-ctrl'),
    idCtrlHuman: await ours('id-ctrl', '-H'),
    idCtrlBin: await oursBinary('id-ctrl', '-o', 'binary'),
    idNs,
    smart: await ours('smart-log', '-o', 'json'),
    smartHuman: await ours('smart-log', '-o', 'json', '-H'),
    errors: await ours('error-log', '-o', 'json'),
    list: await ours('list', '-o', 'json'),
    features,
    identify: await ours('identify'),
  };
  step('done');
});

test.after(async () => {
  if (!vm) return;
  await resetToKernel([main!]);
  process.stdout.write(`\nvm-nvme-cli: differences seen (all in MAY_DIFFER): ${seen.length ? `\n  ${seen.join('\n  ')}` : 'none'}\n`);
});

t('id-ctrl -o json: every key and value as nvme-cli, the power state table too; -o binary: the same 4096 bytes', () => {
  compare('id-ctrl', JSON.parse(wasm!.idCtrl), JSON.parse(kernel!.idCtrl));
  assert.ok((JSON.parse(wasm!.idCtrl) as { psds: unknown[] }).psds.length >= 1, 'psds');
  assert.is(wasm!.idCtrl, kernel!.idCtrl, 'the same JSON text, byte for byte');
  assert.is(wasm!.idCtrlBin.length, 4096);
  assert.ok(wasm!.idCtrlBin.equals(kernel!.idCtrlBin), 'the raw Identify Controller data');
});

t('id-ctrl normal: nvme-cli\'s lines; -H: each block nvme-wasm decodes is nvme-cli\'s', () => {
  assert.is(wasm!.idCtrlText, kernel!.idCtrlText);
  const a = blocks(wasm!.idCtrlHuman);
  const b = blocks(kernel!.idCtrlHuman);
  let decoded = 0;
  for (const [k, lines] of a) {
    if (lines.length === 1) continue; // not decoded by nvme-wasm
    decoded++;
    assert.equal(lines, b.get(k), `id-ctrl -H ${k}`);
  }
  assert.ok(decoded >= 20, `${decoded} fields decoded`);
});

t('id-ns -o json on every namespace: keys and values as nvme-cli (nuse may differ); normal, -H and binary too', () => {
  for (const n of main!.namespaces) {
    const a = wasm!.idNs.get(n.nsid)!;
    const b = kernel!.idNs.get(n.nsid)!;
    compare('id-ns', JSON.parse(a.json), JSON.parse(b.json));
    const nuse = (s: string) => s.replace(/^nuse\s*:.*$/m, 'nuse');
    assert.is(nuse(a.text), nuse(b.text), `id-ns ${n.nsid} normal`);
    assert.is(a.bin.length, 4096);
    const cut = (x: Buffer) => Buffer.concat([x.subarray(0, IDNS_NUSE), x.subarray(IDNS_NUSE + 8)]);
    assert.ok(cut(a.bin).equals(cut(b.bin)), `id-ns ${n.nsid} raw data (NUSE aside)`);
    const ha = blocks(a.human);
    const hb = blocks(b.human);
    for (const [k, lines] of ha) if (lines.length > 1) assert.equal(lines, hb.get(k), `id-ns ${n.nsid} -H ${k}`);
    const lbaf = (s: string) => s.split('\n').filter((l) => l.startsWith('LBA Format'));
    assert.equal(lbaf(a.human), lbaf(b.human), `id-ns ${n.nsid} -H LBA formats`);
  }
});

t('smart-log -o json (and -H): keys and types as nvme-cli; values equal but for the live counters', () => {
  compare('smart-log', JSON.parse(wasm!.smart), JSON.parse(kernel!.smart));
  compare('smart-log', JSON.parse(wasm!.smartHuman), JSON.parse(kernel!.smartHuman));
});

t('error-log -o json: every entry read (unused ones too), as nvme-cli', () => {
  compare('error-log', JSON.parse(wasm!.errors), JSON.parse(kernel!.errors));
});

t('list -o json: this controller\'s namespaces with nvme-cli\'s keys and values (DevicePath aside)', () => {
  const a = (JSON.parse(wasm!.list) as { Devices: Array<Record<string, unknown>> }).Devices;
  const b = (JSON.parse(kernel!.list) as { Devices: Array<Record<string, unknown>> }).Devices.filter((d) => d.SerialNumber === main!.serial);
  assert.is(a.length, main!.namespaces.length);
  assert.is(b.length, main!.namespaces.length);
  for (const d of a) compare('list', d, b.find((x) => x.NameSpace === d.NameSpace));
});

t('get-feature: nvme-cli\'s line and the same value for each feature (nvme-cli 2.3 has no -o on get-feature)', () => {
  // nvme-cli prints the value with printf's %#010x: a zero value has no 0x ("00000000").
  const line = /^get-feature:(0x[0-9a-f]+) \(([^)]*)\), Current value:\s*((?:0x)?[0-9a-f]+)$/m;
  for (const f of FIDS) {
    const a = line.exec(wasm!.features.get(f)!);
    const b = line.exec(kernel!.features.get(f)!);
    assert.ok(a && b, `get-feature ${f}: ${wasm!.features.get(f)} / ${kernel!.features.get(f)}`);
    assert.is(Number(a![1]), Number(b![1]));
    assert.is(a![2], b![2], `feature ${f}'s name`);
    compare('get-feature', { [`0x${f.toString(16).padStart(2, '0')}`]: Number.parseInt(a![3]!, 16) }, { [`0x${f.toString(16).padStart(2, '0')}`]: Number.parseInt(b![3]!, 16) });
  }
});

t('identify (the SPDK-style overview): QEMU reports each namespace\'s command set, NVM, not zoned', () => {
  const id = wasm!.identify!;
  for (const n of main!.namespaces) assert.match(id, new RegExp(`^Namespace ID: +${n.nsid}$`, 'm'));
  assert.is(id.match(/^Command Set Identifier: +NVM \(00h\)$/gm)?.length, main!.namespaces.length, id);
  assert.is(id.match(/^Zoned Namespace: +No$/gm)?.length, main!.namespaces.length);
});

test.run();
