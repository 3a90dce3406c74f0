// Controller registers, NVM Express Base Specification 1.4, section 3.1
// ("Register Definition"). One definition, imported by the Wasm core, the
// host, the simulated controller and the tests.
//
// 64-bit registers (CAP, ASQ, ACQ) are accessed as two 32-bit halves, low
// dword first (3.1: "software may access 64-bit registers as two 32-bit
// accesses"); the field constants below are per half: CAP_LO is dword 00h,
// CAP_HI is dword 04h.
//
//   BAR0
//   0x0000 +-----------+  CAP    Controller Capabilities           (3.1.1)
//   0x0008 |    VS     |         Version                           (3.1.2)
//   0x000C |  INTMS    |         Interrupt Mask Set                (3.1.3)
//   0x0010 |  INTMC    |         Interrupt Mask Clear              (3.1.4)
//   0x0014 |    CC     |         Controller Configuration          (3.1.5)
//   0x001C |   CSTS    |         Controller Status                 (3.1.6)
//   0x0020 |   NSSR    |         NVM Subsystem Reset               (3.1.7)
//   0x0024 |    AQA    |         Admin Queue Attributes            (3.1.8)
//   0x0028 |    ASQ    |         Admin Submission Queue Base       (3.1.9)
//   0x0030 |    ACQ    |         Admin Completion Queue Base       (3.1.10)
//   0x1000 +-----------+  SQ0TDBL, CQ0HDBL, SQ1TDBL, ...  stride 4 << DSTRD
//                                                          (3.1.24, 3.1.25)

export const REG_CAP: u32 = 0x00;
export const REG_CAP_HI: u32 = 0x04;
export const REG_VS: u32 = 0x08;
export const REG_INTMS: u32 = 0x0c;
export const REG_INTMC: u32 = 0x10;
export const REG_CC: u32 = 0x14;
export const REG_CSTS: u32 = 0x1c;
export const REG_NSSR: u32 = 0x20;
export const REG_AQA: u32 = 0x24;
export const REG_ASQ: u32 = 0x28;
export const REG_ASQ_HI: u32 = 0x2c;
export const REG_ACQ: u32 = 0x30;
export const REG_ACQ_HI: u32 = 0x34;
export const REG_DBS: u32 = 0x1000;

// PCI class code of an NVMe controller (2.1.5 CC): mass storage (01h),
// non-volatile memory (08h), NVM Express I/O controller interface (02h).
export const PCI_CLASS_NVME: u32 = 0x010802;

// CAP, low dword (3.1.1)
export const CAP_MQES_SHIFT: u32 = 0; // Maximum Queue Entries Supported, 0's based
export const CAP_MQES_MASK: u32 = 0xffff;
export const CAP_CQR_SHIFT: u32 = 16; // Contiguous Queues Required
export const CAP_CQR_MASK: u32 = 0x1;
export const CAP_AMS_SHIFT: u32 = 17; // Arbitration Mechanism Supported
export const CAP_AMS_MASK: u32 = 0x3;
export const CAP_TO_SHIFT: u32 = 24; // Timeout, in 500 ms units
export const CAP_TO_MASK: u32 = 0xff;
// CAP, high dword (bits 63:32 shifted down by 32)
export const CAP_DSTRD_SHIFT: u32 = 0; // Doorbell Stride: 2 ^ (2 + DSTRD) bytes
export const CAP_DSTRD_MASK: u32 = 0xf;
export const CAP_NSSRS_SHIFT: u32 = 4; // NVM Subsystem Reset Supported
export const CAP_NSSRS_MASK: u32 = 0x1;
export const CAP_CSS_SHIFT: u32 = 5; // Command Sets Supported
export const CAP_CSS_MASK: u32 = 0xff;
export const CAP_CSS_NVM: u32 = 0x1; // bit 0 of CSS: NVM command set
export const CAP_BPS_SHIFT: u32 = 13; // Boot Partition Support
export const CAP_BPS_MASK: u32 = 0x1;
export const CAP_MPSMIN_SHIFT: u32 = 16; // Memory Page Size Minimum: 2 ^ (12 + MPSMIN)
export const CAP_MPSMIN_MASK: u32 = 0xf;
export const CAP_MPSMAX_SHIFT: u32 = 20; // Memory Page Size Maximum
export const CAP_MPSMAX_MASK: u32 = 0xf;
export const CAP_TO_UNIT_MS: u32 = 500;

// VS (3.1.2)
export const VS_MJR_SHIFT: u32 = 16;
export const VS_MJR_MASK: u32 = 0xffff;
export const VS_MNR_SHIFT: u32 = 8;
export const VS_MNR_MASK: u32 = 0xff;
export const VS_TER_SHIFT: u32 = 0;
export const VS_TER_MASK: u32 = 0xff;
export const VS_1_4: u32 = 0x00010400;

// CC (3.1.5)
export const CC_EN_SHIFT: u32 = 0; // Enable
export const CC_EN_MASK: u32 = 0x1;
export const CC_CSS_SHIFT: u32 = 4; // I/O Command Set Selected
export const CC_CSS_MASK: u32 = 0x7;
export const CC_CSS_NVM: u32 = 0;
export const CC_MPS_SHIFT: u32 = 7; // Memory Page Size: 2 ^ (12 + MPS)
export const CC_MPS_MASK: u32 = 0xf;
export const CC_AMS_SHIFT: u32 = 11; // Arbitration Mechanism Selected
export const CC_AMS_MASK: u32 = 0x7;
export const CC_AMS_RR: u32 = 0;
export const CC_SHN_SHIFT: u32 = 14; // Shutdown Notification
export const CC_SHN_MASK: u32 = 0x3;
export const CC_SHN_NONE: u32 = 0;
export const CC_SHN_NORMAL: u32 = 1;
export const CC_SHN_ABRUPT: u32 = 2;
export const CC_IOSQES_SHIFT: u32 = 16; // I/O SQ Entry Size, 2 ^ n bytes
export const CC_IOSQES_MASK: u32 = 0xf;
export const CC_IOCQES_SHIFT: u32 = 20; // I/O CQ Entry Size, 2 ^ n bytes
export const CC_IOCQES_MASK: u32 = 0xf;

// CSTS (3.1.6)
export const CSTS_RDY_SHIFT: u32 = 0; // Ready
export const CSTS_RDY_MASK: u32 = 0x1;
export const CSTS_CFS_SHIFT: u32 = 1; // Controller Fatal Status
export const CSTS_CFS_MASK: u32 = 0x1;
export const CSTS_SHST_SHIFT: u32 = 2; // Shutdown Status
export const CSTS_SHST_MASK: u32 = 0x3;
export const CSTS_SHST_NORMAL: u32 = 0;
export const CSTS_SHST_OCCURRING: u32 = 1;
export const CSTS_SHST_COMPLETE: u32 = 2;
export const CSTS_NSSRO_SHIFT: u32 = 4; // NVM Subsystem Reset Occurred
export const CSTS_NSSRO_MASK: u32 = 0x1;
export const CSTS_PP_SHIFT: u32 = 5; // Processing Paused
export const CSTS_PP_MASK: u32 = 0x1;

// AQA (3.1.8), sizes are 0's based
export const AQA_ASQS_SHIFT: u32 = 0;
export const AQA_ASQS_MASK: u32 = 0xfff;
export const AQA_ACQS_SHIFT: u32 = 16;
export const AQA_ACQS_MASK: u32 = 0xfff;
export const AQ_MAX_ENTRIES: u32 = 4096; // 12-bit 0's based field

// Memory page size this driver selects (CC.MPS = 0): 4 KiB. 3.1.5 requires
// CAP.MPSMIN <= CC.MPS <= CAP.MPSMAX, so a controller with MPSMIN > 0 is
// refused at init.
export const PAGE_SHIFT: u32 = 12;
export const PAGE_SIZE: u32 = 4096;

// Entry sizes this driver uses: 2^6 = 64-byte SQ entries, 2^4 = 16-byte CQ
// entries (the only sizes the NVM command set defines, 4.2 and 4.6).
export const SQES_LOG2: u32 = 6;
export const CQES_LOG2: u32 = 4;

/** Extract a register field: (value >> SHIFT) & MASK. */
export function regField(value: u32, shift: u32, mask: u32): u32 {
  return (value >>> shift) & mask;
}

/** `value` with one field replaced: the field is cleared, then (field & MASK) << SHIFT is set. */
export function regFieldSet(value: u32, shift: u32, mask: u32, field: u32): u32 {
  return ((value & ~(mask << shift)) | ((field & mask) << shift)) >>> 0;
}

/**
 * What a 32-bit register read returns when the device is gone (a PCIe read
 * that no function answers completes with all ones): no valid CSTS or CAP
 * half has every bit set.
 */
export const REG_ALL_ONES: u32 = 0xffffffff;

/**
 * Byte offset in BAR0 of a queue's doorbell (3.1.24, 3.1.25): the SQ y Tail
 * Doorbell is at 1000h + (2y) * (4 << CAP.DSTRD), the CQ y Head Doorbell at
 * 1000h + (2y + 1) * (4 << CAP.DSTRD). The only place this is computed.
 */
export function doorbellOffset(qid: u32, isCq: bool, dstrd: u32): u32 {
  return REG_DBS + (qid * 2 + (isCq ? 1 : 0)) * (4 << dstrd);
}
