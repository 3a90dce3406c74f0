// Completion status, NVM Express Base Specification 1.4, 4.6.1
// ("Status Field Definition"). The simulated controller posts these, the
// host turns them into NvmeStatusError, the tests compare against them.

// The 15-bit Status Field (4.6.1), as it stands in CQE bits 31:17 shifted
// down by 17 (so bit 0 here is SC bit 0).
export const SF_SC_SHIFT: u32 = 0; // Status Code
export const SF_SC_MASK: u32 = 0xff;
export const SF_SCT_SHIFT: u32 = 8; // Status Code Type
export const SF_SCT_MASK: u32 = 0x7;
export const SF_CRD_SHIFT: u32 = 11; // Command Retry Delay
export const SF_CRD_MASK: u32 = 0x3;
export const SF_M_SHIFT: u32 = 13; // More
export const SF_M_MASK: u32 = 0x1;
export const SF_DNR_SHIFT: u32 = 14; // Do Not Retry
export const SF_DNR_MASK: u32 = 0x1;

/**
 * The status field without its retry hints (CRD, M, DNR): Status Code Type
 * and Status Code alone, to compare against a known status.
 */
export function sfCode(sf: u32): u32 {
  return sf & ((SF_SCT_MASK << SF_SCT_SHIFT) | (SF_SC_MASK << SF_SC_SHIFT));
}

// Status Code Type (4.6.1.1)
export enum Sct {
  Generic = 0x0,
  CommandSpecific = 0x1,
  MediaError = 0x2,
  PathRelated = 0x3,
  VendorSpecific = 0x7,
}

// Generic Command Status (4.6.1.2.1, NVM command set values from 0x80)
export enum GenericSc {
  Success = 0x00,
  InvalidOpcode = 0x01,
  InvalidField = 0x02,
  CommandIdConflict = 0x03,
  DataTransferError = 0x04,
  AbortedPowerLoss = 0x05,
  InternalError = 0x06,
  AbortRequested = 0x07,
  AbortedSqDeletion = 0x08,
  AbortedFailedFused = 0x09,
  AbortedMissingFused = 0x0a,
  InvalidNamespaceOrFormat = 0x0b,
  CommandSequenceError = 0x0c,
  InvalidSglSegmentDescriptor = 0x0d,
  InvalidSglDescriptorCount = 0x0e,
  DataSglLengthInvalid = 0x0f,
  MetadataSglLengthInvalid = 0x10,
  SglDescriptorTypeInvalid = 0x11,
  InvalidUseOfCmb = 0x12,
  PrpOffsetInvalid = 0x13,
  AtomicWriteUnitExceeded = 0x14,
  OperationDenied = 0x15,
  SglOffsetInvalid = 0x16,
  HostIdInconsistentFormat = 0x18,
  KeepAliveExpired = 0x19,
  KeepAliveTimeoutInvalid = 0x1a,
  AbortedPreemptAbort = 0x1b,
  SanitizeFailed = 0x1c,
  SanitizeInProgress = 0x1d,
  SglDataBlockGranularityInvalid = 0x1e,
  CommandNotSupportedForQueueInCmb = 0x1f,
  NamespaceWriteProtected = 0x20,
  CommandInterrupted = 0x21,
  TransientTransportError = 0x22,
  LbaOutOfRange = 0x80,
  CapacityExceeded = 0x81,
  NamespaceNotReady = 0x82,
  ReservationConflict = 0x83,
  FormatInProgress = 0x84,
}

// Path Related Status (4.6.1.2.4): what a host transport reports for a
// command that never reached, or never came back from, the controller
// (Linux's NVME_SC_HOST_PATH_ERROR is SCT 3h SC 70h).
export enum PathSc {
  InternalPathError = 0x00,
  ControllerPathingError = 0x60,
  HostPathingError = 0x70,
  CommandAbortedByHost = 0x71,
}

// Command Specific Status (4.6.1.2.2)
export enum CommandSpecificSc {
  CompletionQueueInvalid = 0x00,
  InvalidQueueId = 0x01,
  InvalidQueueSize = 0x02,
  AbortCommandLimitExceeded = 0x03,
  AsyncEventRequestLimitExceeded = 0x05,
  InvalidFirmwareSlot = 0x06,
  InvalidFirmwareImage = 0x07,
  InvalidInterruptVector = 0x08,
  InvalidLogPage = 0x09,
  InvalidFormat = 0x0a,
  FirmwareActivationRequiresReset = 0x0b,
  InvalidQueueDeletion = 0x0c,
  FeatureNotSaveable = 0x0d,
  FeatureNotChangeable = 0x0e,
  FeatureNotNamespaceSpecific = 0x0f,
  ConflictingAttributes = 0x80,
  InvalidProtectionInformation = 0x81,
  WriteToReadOnlyRange = 0x82,
  CommandSizeLimitExceeded = 0x83,
  // Zoned Namespace Command Set 1.1, 3.4.1 (Figure 8)
  ZoneBoundaryError = 0xb8,
  ZoneIsFull = 0xb9,
  ZoneIsReadOnly = 0xba,
  ZoneIsOffline = 0xbb,
  ZoneInvalidWrite = 0xbc,
  TooManyActiveZones = 0xbd,
  TooManyOpenZones = 0xbe,
  InvalidZoneStateTransition = 0xbf,
}

// Media and Data Integrity Errors (4.6.1.2.3)
export enum MediaSc {
  WriteFault = 0x80,
  UnrecoveredReadError = 0x81,
  GuardCheckError = 0x82,
  ApplicationTagCheckError = 0x83,
  ReferenceTagCheckError = 0x84,
  CompareFailure = 0x85,
  AccessDenied = 0x86,
  DeallocatedOrUnwrittenBlock = 0x87,
}

/** A status field value (as in cmd.ts SF_*) from its parts. */
export function statusField(sct: u32, sc: u32, dnr: bool): u32 {
  return ((dnr ? 1 : 0) << SF_DNR_SHIFT) | ((sct & SF_SCT_MASK) << SF_SCT_SHIFT) | ((sc & SF_SC_MASK) << SF_SC_SHIFT);
}

/** Command Abort Requested (generic 07h, 4.6.1.2.1), without retry hints: what an aborted command completes with. */
export const SF_ABORT_REQUESTED: u32 = (Sct.Generic << SF_SCT_SHIFT) | (GenericSc.AbortRequested << SF_SC_SHIFT);
