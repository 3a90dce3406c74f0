// Management commands: identify, id-ctrl, id-ns, list, smart-log,
// error-log, get-feature. Each attaches to a controller (-r, -i), does its
// admin commands, prints (text; one JSON document with --json; nvme-cli's
// forms with -o normal|json|binary, see nvme-cli/) and detaches.
import { Command } from 'commander';
import type { Controller } from '../controller.js';
import { Cns, LogId } from '../../assembly/nvme/cmd.js';
import { SMART_LOG_SIZE, ERRLOG_ENTRY_SIZE, CSI_ZONED } from '../../assembly/nvme/identify.js';
import {
  parseControllerData, parseNamespaceData, parseSmartLog, parseErrorLogEntry, parseNamespaceDescriptors, commandSetOf, type ErrorLogEntry,
} from '../identify.js';
import { NvmeStatusError, InvalidArgumentError } from '../errors.js';
import { addConnectOptions, openController, intArg, toJson, hex, type ConnectOptions } from './options.js';
import {
  formatController, formatNamespace, formatSmartLog, formatErrorLog, describeStatus, FEATURE_NAMES, decodeFeature, humanBytes,
  type ControllerView,
} from './identify-format.js';
import { outputFormatOption, outputFormat, nvmeCliJson, writeBinary, type OutputFormat } from './nvme-cli/output-format.js';
// nvme-cli's field-by-field forms (nvme-cli/id-ctrl.ts, id-ns.ts, logs.ts) are imported by the commands that print them, when they do.

interface Common extends ConnectOptions {
  json: boolean;
  outputFormat?: string;
  rawBinary?: boolean;
  humanReadable?: boolean;
}

const ALL_FORMATS: readonly OutputFormat[] = ['normal', 'json', 'binary'];

/** -o, --output-format (and -b, --raw-binary where nvme-cli has it). */
function withFormat(c: Command, accepted: readonly OutputFormat[], rawBinary = accepted.includes('binary')): Command {
  c.addOption(outputFormatOption(accepted));
  if (rawBinary) c.option('-b, --raw-binary', 'the raw data structure on stdout (same as -o binary)', false);
  return c;
}

/** Open, run `body`, always close. */
async function withController<T extends Common>(o: T, body: (ctrl: Controller) => Promise<void>): Promise<void> {
  const ctrl = await openController(o);
  try {
    await body(ctrl);
  } finally {
    await ctrl.close();
  }
}

function command(name: string, description: string): Command {
  const c = new Command(name).description(description).option('--json', 'print one JSON document', false);
  return addConnectOptions(c);
}

const print = (s: string): void => void process.stdout.write(`${s}\n`);

function controllerView(ctrl: Controller): ControllerView {
  return {
    transport: ctrl.transport.description, version: ctrl.version, maxTransfer: ctrl.maxTransfer, maxQueuePairs: ctrl.maxQueuePairs,
    maxQueueEntries: ctrl.maxQueueEntries, doorbellStride: ctrl.doorbellStride, data: ctrl.data,
  };
}

/** The namespace's Command Set Identifier from its Identification Descriptor list (CNS 03h); undefined if not reported. */
async function commandSet(ctrl: Controller, nsid: number): Promise<number | undefined> {
  try {
    return commandSetOf(parseNamespaceDescriptors(await ctrl.identifyRaw(Cns.NamespaceIdDescriptors, nsid)));
  } catch (e) {
    if (e instanceof NvmeStatusError) return undefined; // CNS 03h refused (not supported before NVMe 1.3)
    throw e;
  }
}

export function identifyCommand(): Command {
  return command('identify', 'print Identify Controller and Identify Namespace data (like SPDK identify, nvme id-ctrl / id-ns)')
    .option('-n, --namespace-id <nsid>', 'only this namespace (default: every active one)', intArg(1, 0xfffffffe))
    .option('--controller-only', 'skip the namespaces', false)
    .action(async (o: Common & { namespaceId?: number; controllerOnly: boolean }) =>
      withController(o, async (ctrl) => {
        const nsids = o.controllerOnly ? [] : o.namespaceId !== undefined ? [ctrl.namespace(o.namespaceId).id] : [...ctrl.namespaces.keys()];
        const view = controllerView(ctrl);
        const csi = new Map<number, number | undefined>();
        for (const id of nsids) csi.set(id, await commandSet(ctrl, id));
        if (o.json) {
          const { data, ...rest } = view;
          print(toJson({
            controller: { ...rest, ...data },
            namespaces: nsids.map((id) => {
              const ns = ctrl.namespace(id);
              return { nsid: id, blockSize: ns.blockSize, blocks: ns.blocks, commandSet: csi.get(id) ?? null, zoned: csi.get(id) === CSI_ZONED, ...ns.data };
            }),
          }));
          return;
        }
        print(formatController(view));
        if (nsids.length > 0) {
          print('');
          print(['Active Namespaces', '================='].join('\n'));
          for (const id of nsids) {
            print(formatNamespace(id, ctrl.namespace(id).data, csi.get(id)));
            print('');
          }
        }
      }));
}

export function listCommand(): Command {
  const formats: readonly OutputFormat[] = ['normal', 'json'];
  return withFormat(command('list', 'list the controller\'s namespaces (like nvme list)'), formats).action(async (o: Common) => {
    const fmt = outputFormat(o, formats);
    return withController(o, async (ctrl) => {
      const d = ctrl.data;
      if (fmt === 'json') {
        const { listJson } = await import('./nvme-cli/logs.js');
        print(nvmeCliJson(listJson([...ctrl.namespaces.values()].map((ns) => ({
          nsid: ns.id, devicePath: `${ctrl.transport.description} nsid:${ns.id}`, firmware: d.firmwareRevision, model: d.modelNumber, serial: d.serialNumber,
          usedBytes: ns.data.utilization * BigInt(ns.blockSize), maximumLba: ns.data.size, physicalSize: ns.data.size * BigInt(ns.blockSize), sectorSize: ns.blockSize,
        })))));
        return;
      }
      const rows = [...ctrl.namespaces.values()].map((ns) => ({
        transport: ctrl.transport.description, serialNumber: d.serialNumber, modelNumber: d.modelNumber, nsid: ns.id,
        usedBytes: Number(ns.data.utilization) * ns.blockSize, capacityBytes: ns.capacityBytes, blockSize: ns.blockSize,
        metadataSize: ns.data.lbaFormats[ns.data.formattedLbaIndex]?.metadataSize ?? 0, firmwareRevision: d.firmwareRevision,
      }));
      if (o.json) {
        print(toJson({ devices: rows }));
        return;
      }
      const cols: Array<[string, number, (r: (typeof rows)[number]) => string]> = [
        ['Device', Math.max(6, ...rows.map((r) => r.transport.length)), (r) => r.transport],
        ['SN', 20, (r) => r.serialNumber],
        ['Model', 40, (r) => r.modelNumber],
        ['Namespace', 9, (r) => String(r.nsid)],
        ['Usage', 24, (r) => `${humanBytes(r.usedBytes)} / ${humanBytes(r.capacityBytes)}`],
        ['Format', 16, (r) => `${r.blockSize} B + ${r.metadataSize} B`],
        ['FW Rev', 8, (r) => r.firmwareRevision],
      ];
      print(cols.map(([h, w]) => h.padEnd(w)).join(' ').trimEnd());
      print(cols.map(([, w]) => '-'.repeat(w)).join(' '));
      for (const r of rows) print(cols.map(([, w, f]) => f(r).padEnd(w)).join(' ').trimEnd());
    });
  });
}

export function smartLogCommand(): Command {
  return withFormat(command('smart-log', 'print the SMART / Health Information log page (like nvme smart-log)'), ALL_FORMATS)
    .option('-n, --namespace-id <nsid>', 'namespace (default: the controller, 0xffffffff)', intArg(1, 0xffffffff), 0xffffffff)
    .option('-H, --human-readable', 'with -o json: critical_warning as its bits', false)
    .action(async (o: Common & { namespaceId: number }) => {
      const fmt = outputFormat(o, ALL_FORMATS);
      return withController(o, async (ctrl) => {
        const raw = await ctrl.getLogPage(LogId.SmartHealth, SMART_LOG_SIZE, { nsid: o.namespaceId });
        const log = parseSmartLog(raw);
        if (fmt === 'binary') writeBinary(raw);
        else if (fmt === 'json') print(nvmeCliJson((await import('./nvme-cli/logs.js')).smartLogJson(log, o.humanReadable)));
        else if (o.json) print(toJson({ device: ctrl.transport.description, nsid: o.namespaceId, ...log }));
        else print(formatSmartLog(ctrl.transport.description, o.namespaceId, log));
      });
    });
}

export function errorLogCommand(): Command {
  return withFormat(command('error-log', 'print the Error Information log page (like nvme error-log)'), ALL_FORMATS)
    .option('-e, --log-entries <n>', 'entries to read (default 64; at most what the controller keeps, ELPE + 1, as nvme-cli)', intArg(1, 256))
    .action(async (o: Common & { logEntries?: number }) => {
      const fmt = outputFormat(o, ALL_FORMATS);
      return withController(o, async (ctrl) => {
        const n = Math.min(o.logEntries ?? 64, ctrl.data.errorLogPageEntries);
        const raw = await ctrl.getLogPage(LogId.ErrorInformation, n * ERRLOG_ENTRY_SIZE);
        const all: ErrorLogEntry[] = [];
        for (let i = 0; i < n; i++) all.push(parseErrorLogEntry(raw, i * ERRLOG_ENTRY_SIZE));
        const entries = all.filter((e) => e.errorCount !== 0n);
        if (fmt === 'binary') writeBinary(raw);
        else if (fmt === 'json') print(nvmeCliJson((await import('./nvme-cli/logs.js')).errorLogJson(all)));
        else if (o.json) print(toJson({ device: ctrl.transport.description, entries: entries.map((e) => ({ ...e, status: describeStatus(e.statusField) })) }));
        else print(formatErrorLog(ctrl.transport.description, n, entries));
      });
    });
}

export function getFeatureCommand(): Command {
  const sels = ['current', 'default', 'saved', 'supported'];
  return withFormat(command('get-feature', 'read a feature with Get Features (like nvme get-feature)'), ALL_FORMATS, false)
    .requiredOption('-f, --feature-id <fid>', 'feature identifier (decimal or 0x hex), e.g. 7 for Number of Queues', intArg(1, 255, 'a feature id'))
    .option('-n, --namespace-id <nsid>', 'namespace, for namespace-specific features', intArg(0, 0xffffffff), 0)
    .option('-s, --sel <sel>', 'which value: 0 current, 1 default, 2 saved, 3 supported capabilities', intArg(0, 3), 0)
    .option('--cdw11 <value>', 'command dword 11 (some features take an argument there)', intArg(0, 0xffffffff), 0)
    .option('-H, --human-readable', 'decode the value\'s fields', false)
    .action(async (o: Common & { featureId: number; namespaceId: number; sel: number; cdw11: number; humanReadable: boolean }) => {
      const fmt = outputFormat(o, ALL_FORMATS);
      return withController(o, async (ctrl) => {
        const v = await ctrl.getFeature(o.featureId, { sel: o.sel, nsid: o.namespaceId, cdw11: o.cdw11 });
        const name = FEATURE_NAMES[o.featureId] ?? 'Unknown';
        const fields = decodeFeature(o.featureId, v);
        if (fmt === 'binary') {
          const b = Buffer.alloc(4);
          b.writeUInt32LE(v >>> 0);
          writeBinary(b);
          return;
        }
        if (fmt === 'json') {
          const { featureJson } = await import('./nvme-cli/logs.js');
          print(nvmeCliJson(featureJson(o.featureId, name, sels[o.sel]!, v, o.humanReadable ? fields : [])));
          return;
        }
        if (o.json) {
          print(toJson({ device: ctrl.transport.description, featureId: o.featureId, name, sel: sels[o.sel], value: v >>> 0, fields }));
          return;
        }
        print(`get-feature:${hex(o.featureId, 2)} (${name}), ${sels[o.sel]![0]!.toUpperCase()}${sels[o.sel]!.slice(1)} value:${hex(v, 8)}`);
        if (o.humanReadable) for (const f of fields) print(`\t${f}`);
      });
    });
}

export function idCtrlCommand(): Command {
  return withFormat(command('id-ctrl', 'print Identify Controller as nvme id-ctrl does (every field, the power states; -o json: nvme-cli\'s keys)'), ALL_FORMATS)
    .option('-H, --human-readable', 'decode the bit fields (cmic, oaes, oacs, frmw, lpa, sqes, cqes, oncs, fna, vwc, sgls ...)', false)
    .action(async (o: Common) => {
      const fmt = outputFormat(o, ALL_FORMATS);
      return withController(o, async (ctrl) => {
        const raw = await ctrl.identifyRaw(Cns.Controller, 0);
        const d = parseControllerData(raw);
        if (fmt === 'binary') return writeBinary(raw);
        const { idCtrlJson, idCtrlText } = await import('./nvme-cli/id-ctrl.js');
        if (fmt === 'json' || o.json) print(nvmeCliJson(idCtrlJson(d)));
        else print(idCtrlText(d, o.humanReadable));
      });
    });
}

export function idNsCommand(): Command {
  return withFormat(command('id-ns', 'print Identify Namespace as nvme id-ns does (every field, the LBA formats; -o json: nvme-cli\'s keys)'), ALL_FORMATS)
    .option('-n, --namespace-id <nsid>', 'namespace (default: the first active one)', intArg(1, 0xfffffffe))
    .option('-H, --human-readable', 'decode the bit fields (nsfeat, flbas, mc, dpc, dps, nmic, rescap, fpi, dlfeat) and the LBA formats', false)
    .action(async (o: Common & { namespaceId?: number }) => {
      const fmt = outputFormat(o, ALL_FORMATS);
      return withController(o, async (ctrl) => {
        const nsid = o.namespaceId ?? [...ctrl.namespaces.keys()][0];
        if (nsid === undefined) throw new InvalidArgumentError('-n, --namespace-id', 'a namespace: the controller has no active namespace');
        const raw = await ctrl.identifyRaw(Cns.Namespace, nsid);
        const n = parseNamespaceData(raw);
        if (fmt === 'binary') return writeBinary(raw);
        const { idNsJson, idNsText } = await import('./nvme-cli/id-ns.js');
        if (fmt === 'json' || o.json) print(nvmeCliJson(idNsJson(n)));
        else print(idNsText(nsid, n, o.humanReadable));
      });
    });
}
