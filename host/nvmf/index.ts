// nvme-wasm/nvmf: NVMe over Fabrics on TCP. The target library (export a
// controller's namespaces to remote hosts), the PDU layer it shares with the
// initiator, CRC32C and the typed errors. (A module of its own, not
// re-exported by host/index.ts: it imports the driver's public API from
// there, and the two must not form a cycle.)
export * from './target/index.js';
export { PduFramer, type PduSink, type PduRole, type FramerLimits } from './pdu/framer.js';
export {
  encodeICReq, encodeICResp, encodeTermReq, encodeCapsuleCmd, encodeCapsuleResp, encodeC2HData, encodeH2CData, encodeR2T, finishHeader,
  writeDigest, type PduDigests,
} from './pdu/encode.js';
export { crc32c, crc32cJs, crc32cImpl } from './crc32c.js';
export { NvmfProtocolError, NvmfConfigError } from './errors.js';
export { PduType, Fes } from '../../assembly/nvme/tcp.js';
export { FcType, FabricsSc, DISCOVERY_NQN } from '../../assembly/nvme/fabrics.js';
