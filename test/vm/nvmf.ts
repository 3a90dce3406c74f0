// Guest side: everything the NVMe over Fabrics (TCP) tests and bench:nvmf
// use, in one import (see docs/vm-nvmf.md):
//   nvmet.ts      the kernel target through configfs
//   initiator.ts  the kernel initiator through nvme-cli, its sysfs view
//   fio.ts        verified writes, timed jobs
//   ext4.ts       mkfs, mount, checksums, e2fsck
//   nvmf-tgt.ts   the project's target (nvme-wasm nvmf-tgt)
export * from './nvmet.js';
export * from './initiator.js';
export * from './fio.js';
export * from './ext4.js';
export * from './nvmf-tgt.js';
export { run, start, sleep, type CommandResult } from './exec.js';
