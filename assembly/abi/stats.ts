// Live per-queue-pair statistics in the shared region, so a tool attached to
// the group (`nvme-wasm stats -i N`, `nvme-wasm top -i N`) can read what
// every process is doing without asking it.
//
// Commands submitted and completed are not repeated here: the core already
// counts them in the queue pair descriptor (QP_SUBMITTED, QP_COMPLETED in
// abi/qpair.ts); a stats block records where that descriptor is.
//
// Writers and readers:
// - one process writes a block, the one owning the queue pair, with plain
//   stores (no lock, no atomic read-modify-write on the I/O path); inside it,
//   the Wasm core and the JavaScript write disjoint fields, both from the
//   process's one thread:
//   - the core, at each poll (qpPoll, through the descriptor's QP_STATS):
//     errors, reads, writes and bytes, from the slot's opcode and data length
//     (abi/qpair.ts SLOT_NEXT, SLOT_LEN), one add per field per batch;
//   - the JavaScript (host/latency-sampler.ts): timeouts, and the latency of sampled
//     commands (it owns the clock; the core has none). A timed command
//     stands for the w commands since the previous timed one: it adds w to
//     its histogram bucket, w times its latency to ST_LAT_SUM_US and w to
//     ST_LAT_COUNT, so the histogram estimates every command's latency, not
//     only the timed ones', even while the share changes (it adapts to the
//     rate, so a slow spell would otherwise weigh more than its share of
//     commands). ST_LAT_SAMPLES counts the timed ones;
// - readers (tools) tolerate torn reads: a counter read while it is being
//   stored is off by the batch being counted. Counters are f64 (exact
//   integers up to 2^53, one aligned 8-byte store each).
//
// Directory: one u32 per I/O QID in the controller block (CTRL_STATS_DIR in
// abi/region.ts), the region offset of that queue pair's stats block, 0 for
// none. A reader trusts an entry only while CTRL_QID_OWNER names a process
// for that QID and the block's ST_QID / ST_OWNER agree with it.
//
//   stats block (ST_SIZE bytes, heap memory owned by the queue pair's process)
//   +0    +--------------------------------------+
//         | u32 ST_MAGIC | u32 ST_QID            |
//         | u32 ST_OWNER | u32 ST_DESC           |  owner slot, descriptor offset
//   +16   +--------------------------------------+
//         | f64 ST_ERRORS     f64 ST_TIMEOUTS    |  core | JS
//         | f64 ST_READS      f64 ST_WRITES      |  core
//         | f64 ST_BYTES_READ f64 ST_BYTES_WRITTEN| core
//         | f64 ST_LAT_SUM_US f64 ST_LAT_COUNT   |  JS: for the mean latency
//         | f64 ST_LAT_SAMPLES                   |  JS: commands timed
//   +88   +--------------------------------------+
//         | f64 x ST_HIST_BUCKETS: latency       |  JS. bucket 0: < 1 us;
//         | histogram, log2 of microseconds      |  bucket b: [2^(b-1), 2^b) us;
//         |                                      |  the last is open-ended
//   +344  +--------------------------------------+
//         | f64 ST_RLAT_SUM_US f64 ST_RLAT_COUNT |  JS: the same, Reads only
//         | f64 ST_WLAT_SUM_US f64 ST_WLAT_COUNT |  JS: the same, Writes only
//   +376  +--------------------------------------+
//         | f64 x ST_HIST_BUCKETS: Reads' hist.  |  JS
//   +632  +--------------------------------------+
//         | f64 x ST_HIST_BUCKETS: Writes' hist. |  JS
//   +888  +--------------------------------------+

export const ST_MAGIC_VALUE: u32 = 0x5453574e; // "NWST" little-endian
export const ST_MAGIC: u32 = 0;
export const ST_QID: u32 = 4;
export const ST_OWNER: u32 = 8; // process slot owning the queue pair
export const ST_DESC: u32 = 12; // region offset of the queue pair descriptor
export const ST_ERRORS: u32 = 16; // completions with a non-zero status field
export const ST_TIMEOUTS: u32 = 24; // commands whose timeout expired
export const ST_READS: u32 = 32; // Read commands completed (any status)
export const ST_WRITES: u32 = 40; // Write commands completed (any status)
export const ST_BYTES_READ: u32 = 48; // data bytes of successful Reads
export const ST_BYTES_WRITTEN: u32 = 56; // data bytes of successful Writes
export const ST_LAT_SUM_US: u32 = 64; // sum of the latencies in the histogram, microseconds (weighted)
export const ST_LAT_COUNT: u32 = 72; // commands the histogram stands for (weighted)
export const ST_LAT_SAMPLES: u32 = 80; // commands actually timed
export const ST_HIST: u32 = 88;
export const ST_HIST_BUCKETS: u32 = 32; // 2^31 us (36 min) and above in the last
export const ST_RLAT_SUM_US: u32 = ST_HIST + ST_HIST_BUCKETS * 8; // 344: Reads' share of ST_LAT_SUM_US
export const ST_RLAT_COUNT: u32 = ST_RLAT_SUM_US + 8; // Reads' share of ST_LAT_COUNT
export const ST_WLAT_SUM_US: u32 = ST_RLAT_SUM_US + 16; // Writes' share of ST_LAT_SUM_US
export const ST_WLAT_COUNT: u32 = ST_RLAT_SUM_US + 24; // Writes' share of ST_LAT_COUNT
export const ST_RHIST: u32 = ST_RLAT_SUM_US + 32; // 376: Reads' latency histogram
export const ST_WHIST: u32 = ST_RHIST + ST_HIST_BUCKETS * 8; // 632: Writes' latency histogram
export const ST_SIZE: u32 = ST_WHIST + ST_HIST_BUCKETS * 8; // 888

