// Management commands: identify, list, smart-log, error-log, get-feature.
// Each attaches to a controller (-r, -i), does its admin commands, prints
// (text, or one JSON document with --json) and detaches.
import { Command } from 'commander';
import type { Controller } from '../controller.js';
import { addConnectOptions, openController, intArg, toJson, hex, type ConnectOptions } from './options.js';
import {
  formatController, formatNamespace, formatSmartLog, formatErrorLog, describeStatus, FEATURE_NAMES, decodeFeature, humanBytes,
  type ControllerView,
} from './identify-format.js';

interface Common extends ConnectOptions {
  json: boolean;
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

export function identifyCommand(): Command {
  return command('identify', 'print Identify Controller and Identify Namespace data (like SPDK identify, nvme id-ctrl / id-ns)')
    .option('-n, --namespace-id <nsid>', 'only this namespace (default: every active one)', intArg(1, 0xfffffffe))
    .option('--controller-only', 'skip the namespaces', false)
    .action(async (o: Common & { namespaceId?: number; controllerOnly: boolean }) =>
      withController(o, async (ctrl) => {
        const nsids = o.controllerOnly ? [] : o.namespaceId !== undefined ? [ctrl.namespace(o.namespaceId).id] : [...ctrl.namespaces.keys()];
        const view = controllerView(ctrl);
        if (o.json) {
          const { data, ...rest } = view;
          print(toJson({
            controller: { ...rest, ...data },
            namespaces: nsids.map((id) => {
              const ns = ctrl.namespace(id);
              return { nsid: id, blockSize: ns.blockSize, blocks: ns.blocks, ...ns.data };
            }),
          }));
          return;
        }
        print(formatController(view));
        if (nsids.length > 0) {
          print('');
          print(['Active Namespaces', '================='].join('\n'));
          for (const id of nsids) {
            print(formatNamespace(id, ctrl.namespace(id).data));
            print('');
          }
        }
      }));
}

export function listCommand(): Command {
  return command('list', 'list the controller\'s namespaces (like nvme list)').action(async (o: Common) =>
    withController(o, async (ctrl) => {
      const d = ctrl.data;
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
    }));
}

export function smartLogCommand(): Command {
  return command('smart-log', 'print the SMART / Health Information log page (like nvme smart-log)')
    .option('-n, --namespace-id <nsid>', 'namespace (default: the controller, 0xffffffff)', intArg(1, 0xffffffff), 0xffffffff)
    .action(async (o: Common & { namespaceId: number }) =>
      withController(o, async (ctrl) => {
        const log = await ctrl.smartLog(o.namespaceId);
        if (o.json) print(toJson({ device: ctrl.transport.description, nsid: o.namespaceId, ...log }));
        else print(formatSmartLog(ctrl.transport.description, o.namespaceId, log));
      }));
}

export function errorLogCommand(): Command {
  return command('error-log', 'print the Error Information log page (like nvme error-log)')
    .option('-e, --log-entries <n>', 'entries to read (default: all the controller keeps, ELPE + 1)', intArg(1, 256))
    .action(async (o: Common & { logEntries?: number }) =>
      withController(o, async (ctrl) => {
        const n = o.logEntries ?? ctrl.data.errorLogPageEntries;
        const entries = await ctrl.errorLog(n);
        if (o.json) print(toJson({ device: ctrl.transport.description, entries: entries.map((e) => ({ ...e, status: describeStatus(e.statusField) })) }));
        else print(formatErrorLog(ctrl.transport.description, n, entries));
      }));
}

export function getFeatureCommand(): Command {
  const sels = ['current', 'default', 'saved', 'supported'];
  return command('get-feature', 'read a feature with Get Features (like nvme get-feature)')
    .requiredOption('-f, --feature-id <fid>', 'feature identifier (decimal or 0x hex), e.g. 7 for Number of Queues', intArg(1, 255, 'a feature id'))
    .option('-n, --namespace-id <nsid>', 'namespace, for namespace-specific features', intArg(0, 0xffffffff), 0)
    .option('-s, --sel <sel>', 'which value: 0 current, 1 default, 2 saved, 3 supported capabilities', intArg(0, 3), 0)
    .option('--cdw11 <value>', 'command dword 11 (some features take an argument there)', intArg(0, 0xffffffff), 0)
    .option('-H, --human-readable', 'decode the value\'s fields', false)
    .action(async (o: Common & { featureId: number; namespaceId: number; sel: number; cdw11: number; humanReadable: boolean }) =>
      withController(o, async (ctrl) => {
        const v = await ctrl.getFeature(o.featureId, { sel: o.sel, nsid: o.namespaceId, cdw11: o.cdw11 });
        const name = FEATURE_NAMES[o.featureId] ?? 'Unknown';
        const fields = decodeFeature(o.featureId, v);
        if (o.json) {
          print(toJson({ device: ctrl.transport.description, featureId: o.featureId, name, sel: sels[o.sel], value: v >>> 0, fields }));
          return;
        }
        print(`get-feature:${hex(o.featureId, 2)} (${name}), ${sels[o.sel]![0]!.toUpperCase()}${sels[o.sel]!.slice(1)} value:${hex(v, 8)}`);
        if (o.humanReadable) for (const f of fields) print(`\t${f}`);
      }));
}
