// nvme-cli's language on the embedded simulated controller (no VM): id-ctrl,
// id-ns, smart-log, error-log, list and get-feature with -o json print
// nvme-cli 2.3's keys (the key lists below are what nvme-cli 2.3 printed in
// the guest against QEMU's controller) with its value types; -o binary is
// the raw structure; -H decodes; a bad -o fails in nvme-wasm's one error
// style naming the accepted values. test/vm-nvme-cli.test.ts compares the
// values with nvme-cli's own on the same controller.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cli, CLI_MAIN } from './helpers/cli.js';
import { parseNamespaceDescriptors, commandSetOf, commandSetName } from '../host/identify.js';
import { NIDT_CSI, NIDT_EUI64, CSI_ZONED, NID_HEADER_SIZE, IDC_SUBNQN } from '../assembly/nvme/identify.js';

const ID_CTRL_KEYS = ['vid', 'ssvid', 'sn', 'mn', 'fr', 'rab', 'ieee', 'cmic', 'mdts', 'cntlid', 'ver', 'rtd3r', 'rtd3e', 'oaes', 'ctratt', 'rrls', 'cntrltype', 'fguid',
  'crdt1', 'crdt2', 'crdt3', 'nvmsr', 'vwci', 'mec', 'oacs', 'acl', 'aerl', 'frmw', 'lpa', 'elpe', 'npss', 'avscc', 'apsta', 'wctemp', 'cctemp', 'mtfa', 'hmpre', 'hmmin',
  'tnvmcap', 'unvmcap', 'rpmbs', 'edstt', 'dsto', 'fwug', 'kas', 'hctma', 'mntmt', 'mxtmt', 'sanicap', 'hmminds', 'hmmaxd', 'nsetidmax', 'endgidmax', 'anatt', 'anacap',
  'anagrpmax', 'nanagrpid', 'pels', 'domainid', 'megcap', 'sqes', 'cqes', 'maxcmd', 'nn', 'oncs', 'fuses', 'fna', 'vwc', 'awun', 'awupf', 'icsvscc', 'nwpc', 'acwu', 'ocfs',
  'sgls', 'mnan', 'maxdna', 'maxcna', 'subnqn', 'ioccsz', 'iorcsz', 'icdoff', 'fcatt', 'msdbd', 'ofcs', 'psds'];
const ID_CTRL_STRINGS = ['sn', 'mn', 'fr', 'fguid', 'subnqn'];
/** 128-bit fields: decimal strings. */
const ID_CTRL_U128 = ['tnvmcap', 'unvmcap', 'megcap', 'maxdna'];
const PSD_KEYS = ['max_power', 'flags', 'entry_lat', 'exit_lat', 'read_tput', 'read_lat', 'write_tput', 'write_lat', 'idle_power', 'idle_scale', 'active_power',
  'active_power_work', 'active_scale'];
/** Without npwg, npwa, npdg, npda, nows: the simulator does not set NSFEAT bit 4. */
const ID_NS_KEYS = ['nsze', 'ncap', 'nuse', 'nsfeat', 'nlbaf', 'flbas', 'mc', 'dpc', 'dps', 'nmic', 'rescap', 'fpi', 'dlfeat', 'nawun', 'nawupf', 'nacwu', 'nabsn', 'nabo',
  'nabspf', 'noiob', 'nvmcap', 'nsattr', 'nvmsetid', 'mssrl', 'mcl', 'msrc', 'nulbaf', 'anagrpid', 'endgid', 'eui64', 'nguid', 'lbafs'];
const SMART_KEYS = ['critical_warning', 'temperature', 'avail_spare', 'spare_thresh', 'percent_used', 'endurance_grp_critical_warning_summary', 'data_units_read',
  'data_units_written', 'host_read_commands', 'host_write_commands', 'controller_busy_time', 'power_cycles', 'power_on_hours', 'unsafe_shutdowns', 'media_errors',
  'num_err_log_entries', 'warning_temp_time', 'critical_comp_time', 'thm_temp1_trans_count', 'thm_temp2_trans_count', 'thm_temp1_total_time', 'thm_temp2_total_time'];
const SMART_U128 = SMART_KEYS.slice(6, 16);
const ERROR_KEYS = ['error_count', 'sqid', 'cmdid', 'status_field', 'phase_tag', 'parm_error_location', 'lba', 'nsid', 'vs', 'trtype', 'cs', 'trtype_spec_info'];
const LIST_KEYS = ['NameSpace', 'DevicePath', 'Firmware', 'ModelNumber', 'SerialNumber', 'UsedBytes', 'MaximumLBA', 'PhysicalSize', 'SectorSize'];

/** The CLI's stdout as bytes (binary output). */
function cliBytes(...args: string[]): Promise<{ code: number; out: Buffer }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => parts.push(d));
    c.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(parts) }));
  });
}

function json(r: { code: number; out: string; err: string }): Record<string, unknown> {
  assert.is(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, unknown>;
}

function types(o: Record<string, unknown>, strings: string[], u128: string[], what: string): void {
  for (const [k, v] of Object.entries(o)) {
    if (u128.includes(k)) assert.match(v as string, /^\d+$/, `${what}.${k}: a decimal string`);
    else if (strings.includes(k)) assert.type(v, 'string', `${what}.${k}`);
    else if (!Array.isArray(v) && typeof v !== 'object') assert.ok(Number.isInteger(v), `${what}.${k}: an integer (${JSON.stringify(v)})`);
  }
}

test('id-ctrl -o json: nvme-cli\'s keys in its order, its types, the raw 0\'s based counts and ver as the integer', async () => {
  const [j, t] = await Promise.all([cli('id-ctrl', '-o', 'json'), cli('identify', '--json')]);
  const d = json(j);
  assert.equal(Object.keys(d), ID_CTRL_KEYS);
  types(d, ID_CTRL_STRINGS, ID_CTRL_U128, 'id-ctrl');
  const psds = d.psds as Array<Record<string, unknown>>;
  assert.is(psds.length, (d.npss as number) + 1, 'NPSS + 1 power states');
  for (const p of psds) assert.equal(Object.keys(p), PSD_KEYS);
  const c = (json(t).controller as Record<string, number>);
  assert.is(d.ver, 0x10400, 'VER 1.4.0 as the integer');
  assert.is(d.elpe, c.errorLogPageEntries! - 1, 'elpe 0\'s based');
  assert.is(d.acl, c.abortCommandLimit! - 1);
  assert.is(d.aerl, c.asyncEventRequestLimit! - 1);
  assert.is(d.npss, c.numberOfPowerStates! - 1);
  assert.is(d.vwc, 0x7, 'vwc: the whole byte (present, Flush broadcast supported)');
  assert.is((d.sn as string).length, 20, 'sn padded as the device reports it');
  assert.match(j.out, /^\{\n {2}"vid":\d+,\n/, 'nvme-cli\'s layout: "key":value, two-space indent');
});

test('id-ns -o json: nvme-cli\'s keys and types; flbas raw; lbafs 0 to NLBAF with ms/ds/rp', async () => {
  const cfg = JSON.stringify({ namespaces: [{ lbaSize: 512, blocks: 2048 }, { lbaSize: 4096, blocks: 1024 }] });
  const [a, b] = await Promise.all([cli('id-ns', '-o', 'json', '--sim-config', cfg), cli('id-ns', '-n', '2', '-o', 'json', '--sim-config', cfg)]);
  const n1 = json(a);
  const n2 = json(b);
  assert.equal(Object.keys(n1), ID_NS_KEYS);
  types(n1, ['eui64', 'nguid'], ['nvmcap'], 'id-ns');
  assert.is((n1.lbafs as unknown[]).length, (n1.nlbaf as number) + 1);
  assert.equal(Object.keys((n1.lbafs as object[])[0]!), ['ms', 'ds', 'rp']);
  assert.is(n1.nsze, 2048);
  assert.is(n1.flbas, 0);
  assert.is(n2.nsze, 1024);
  assert.is(n2.flbas, 1, 'NSID 2 formatted with LBA format 1 (4096)');
  assert.is(((n2.lbafs as Array<{ ds: number }>)[1]!).ds, 12);
});

test('smart-log, error-log, list, get-feature -o json: nvme-cli\'s keys and types', async () => {
  const [s, h, e, l, f] = await Promise.all([cli('smart-log', '-o', 'json'), cli('smart-log', '-o', 'json', '-H'), cli('error-log', '-o', 'json'), cli('list', '-o', 'json'),
    cli('get-feature', '-f', '7', '-o', 'json', '-H')]);
  const sm = json(s);
  assert.equal(Object.keys(sm), SMART_KEYS);
  types(sm, [], SMART_U128, 'smart-log');
  assert.is(sm.temperature, 300, 'Kelvin');
  const cw = json(h).critical_warning as Record<string, number>;
  assert.equal(Object.keys(cw), ['value', 'available_spare', 'temp_threshold', 'reliability_degraded', 'ro', 'vmbu_failed', 'pmr_ro']);
  const errors = json(e).errors as Array<Record<string, unknown>>;
  assert.is(errors.length, 64, 'min(64, ELPE + 1) entries, unused ones too');
  for (const x of errors) {
    assert.equal(Object.keys(x), ERROR_KEYS);
    types(x, [], [], 'error-log');
  }
  const devs = json(l).Devices as Array<Record<string, unknown>>;
  assert.is(devs.length, 1);
  assert.equal(Object.keys(devs[0]!), LIST_KEYS);
  assert.is(devs[0]!.SerialNumber, 'NVMW00000001', 'trimmed, as nvme-cli\'s list');
  assert.is(devs[0]!.PhysicalSize, (devs[0]!.MaximumLBA as number) * (devs[0]!.SectorSize as number));
  const fj = json(f);
  assert.equal(Object.keys(fj), ['feature_id', 'name', 'sel', 'value', 'fields']);
  assert.is(fj.feature_id, 7);
  assert.is(fj.name, 'Number of Queues');
});

test('-o binary (and -b): the raw structures, 4096 / 4096 / 512 / 64 per entry / 4 bytes', async () => {
  const [c, n, s, e, f, b] = await Promise.all([cliBytes('id-ctrl', '-o', 'binary'), cliBytes('id-ns', '-b'), cliBytes('smart-log', '-o', 'binary'),
    cliBytes('error-log', '-o', 'binary', '-e', '3'), cliBytes('get-feature', '-f', '7', '-o', 'binary'), cliBytes('id-ctrl', '-b')]);
  for (const r of [c, n, s, e, f, b]) assert.is(r.code, 0);
  assert.is(c.out.length, 4096);
  assert.is(c.out.readUInt16LE(0), 0x1b36, 'VID at byte 0');
  // Two embedded simulators: all alike but the SUBNQN, which names each instance.
  assert.ok(c.out.subarray(0, IDC_SUBNQN).equals(b.out.subarray(0, IDC_SUBNQN)), '-b is -o binary');
  assert.is(n.out.length, 4096);
  assert.is(s.out.length, 512);
  assert.is(e.out.length, 3 * 64);
  assert.is(f.out.length, 4);
});

test('normal and -H: nvme-cli\'s lines, bit fields decoded, the power state and LBA format tables', async () => {
  const [c, h, n, nh] = await Promise.all([cli('id-ctrl'), cli('id-ctrl', '-H'), cli('id-ns'), cli('id-ns', '-H')]);
  for (const r of [c, h, n, nh]) assert.is(r.code, 0, r.err);
  assert.match(c.out, /^NVME Identify Controller:\nvid {7}: 0x1b36\n/);
  assert.match(c.out, /^ver {7}: 0x10400$/m);
  assert.match(c.out, /^ps {6}0 : mp:\S+W operational enlat:\d+ exlat:\d+/m);
  assert.match(h.out, /^oncs {6}: 0x[0-9a-f]+\n {2}\[8:8\] : 0\tCopy Not Supported\n/m);
  assert.match(h.out, /^ {2}\[0:0\] : 0x1\tVolatile Write Cache Present$/m);
  assert.match(h.out, /^ {2}\[7:0\] : 63 \(0's based\)\tError Log Page Entries \(ELPE\)$/m);
  assert.match(n.out, /^lbaf {2}0 : ms:0 {3}lbads:9  rp:0 \(in use\)$/m);
  assert.match(nh.out, /^LBA Format {2}0 : Metadata Size: 0 {3}bytes - Data Size: 512 bytes - Relative Performance: 0 Best \(in use\)$/m);
  assert.match(nh.out, /^ {2}\[0:0\] : 0x1\tThin Provisioning Supported$/m);
});

test('a bad -o is refused in nvme-wasm\'s error style, naming the accepted values, before any device is touched', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['id-ctrl', '-o', 'xml'], /^nvme-wasm: error: invalid -o, --output-format: expected one of normal, json, binary, got "xml"$/m],
    [['id-ns', '--output-format', ''], /^nvme-wasm: error: invalid -o, --output-format: expected one of normal, json, binary, got ""$/m],
    [['smart-log', '-o', 'JSONX'], /expected one of normal, json, binary, got "JSONX"/],
    [['error-log', '-o', '1'], /expected one of normal, json, binary/],
    [['list', '-o', 'binary'], /^nvme-wasm: error: invalid -o, --output-format: expected one of normal, json, got "binary"$/m],
    [['get-feature', '-f', '7', '-o', 'yaml'], /expected one of normal, json, binary, got "yaml"/],
    [['id-ctrl', '-o', 'json', '-b'], /^nvme-wasm: error: invalid -b, --raw-binary/m],
    [['smart-log', '-o', 'json', '--json'], /^nvme-wasm: error: invalid --json/m],
    [['id-ctrl', '-o', 'json', '-r', 'trtype:sim name:no-such-sim-here'], /^$/], // the format is fine: the failure is the device's (below)
  ];
  const rs = await Promise.all(cases.map(([a]) => cli(...a)));
  rs.forEach((r, i) => {
    const [args, re] = cases[i]!;
    assert.is(r.code, 1, `${args.join(' ')} exits 1`);
    if (i < cases.length - 1) {
      assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
      assert.is(r.out, '', 'nothing on stdout');
    } else assert.match(r.err, /no simulated controller named no-such-sim-here/);
  });
  const nsid = await cli('id-ns', '-n', '0');
  assert.is(nsid.code, 1);
  assert.match(nsid.err, /-n, --namespace-id/);
});

test('identify (the SPDK-style overview) says each namespace\'s command set and whether it is zoned', async () => {
  const [t, j] = await Promise.all([cli('identify'), cli('identify', '--json')]);
  assert.is(t.code, 0, t.err);
  // The simulator reports EUI-64 and NGUID descriptors but no CSI one (it is NVMe 1.4): the NVM command set.
  assert.match(t.out, /^Command Set Identifier: +Not Reported \(NVM\)$/m);
  assert.match(t.out, /^Zoned Namespace: +No$/m);
  const ns = (json(j).namespaces as Array<{ commandSet: number | null; zoned: boolean }>)[0]!;
  assert.is(ns.commandSet, null);
  assert.is(ns.zoned, false);
});

test('the Namespace Identification Descriptor list: a CSI descriptor of 02h is a zoned namespace', () => {
  const b = Buffer.alloc(4096);
  b.writeUInt8(NIDT_EUI64, 0);
  b.writeUInt8(8, 1);
  b.fill(0xab, NID_HEADER_SIZE, NID_HEADER_SIZE + 8);
  const off = NID_HEADER_SIZE + 8;
  b.writeUInt8(NIDT_CSI, off);
  b.writeUInt8(1, off + 1);
  b.writeUInt8(CSI_ZONED, off + NID_HEADER_SIZE);
  const d = parseNamespaceDescriptors(b);
  assert.equal(d, [{ type: NIDT_EUI64, value: 'ab'.repeat(8) }, { type: NIDT_CSI, value: '02' }]);
  assert.is(commandSetOf(d), CSI_ZONED);
  assert.is(commandSetName(CSI_ZONED), 'Zoned Namespace');
  assert.is(commandSetOf(d.slice(0, 1)), undefined, 'no CSI descriptor: not reported');
  // A length running past the buffer ends the list.
  const bad = Buffer.from([NIDT_CSI, 200, 0, 0, 2]);
  assert.equal(parseNamespaceDescriptors(bad), []);
});

test.run();
