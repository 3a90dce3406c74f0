// The completion status fields (4.6.1) the simulated controller posts,
// computed once from status.ts. DNR is set where QEMU's hw/nvme sets it.
import { Sct, GenericSc, CommandSpecificSc, MediaSc, statusField, SF_ABORT_REQUESTED } from '../../assembly/nvme/status.js';

const generic = (sc: GenericSc, dnr: boolean): number => statusField(Sct.Generic, sc, dnr);
const specific = (sc: CommandSpecificSc, dnr: boolean): number => statusField(Sct.CommandSpecific, sc, dnr);
const media = (sc: MediaSc, dnr: boolean): number => statusField(Sct.MediaError, sc, dnr);

export const SF_SUCCESS = 0;
export const SF_INVALID_OPCODE = generic(GenericSc.InvalidOpcode, true);
export const SF_INVALID_FIELD = generic(GenericSc.InvalidField, true);
export const SF_DATA_TRANSFER_ERROR = generic(GenericSc.DataTransferError, false);
export const SF_INTERNAL_ERROR = generic(GenericSc.InternalError, false);
export { SF_ABORT_REQUESTED }; // defined once, with the status field bits
export const SF_ABORTED_SQ_DELETION = generic(GenericSc.AbortedSqDeletion, false);
export const SF_INVALID_NAMESPACE = generic(GenericSc.InvalidNamespaceOrFormat, true);
export const SF_COMMAND_SEQUENCE_ERROR = generic(GenericSc.CommandSequenceError, true);
export const SF_PRP_OFFSET_INVALID = generic(GenericSc.PrpOffsetInvalid, true);
export const SF_LBA_OUT_OF_RANGE = generic(GenericSc.LbaOutOfRange, true);

export const SF_COMPLETION_QUEUE_INVALID = specific(CommandSpecificSc.CompletionQueueInvalid, true);
export const SF_INVALID_QUEUE_ID = specific(CommandSpecificSc.InvalidQueueId, true);
export const SF_INVALID_QUEUE_SIZE = specific(CommandSpecificSc.InvalidQueueSize, true);
export const SF_AER_LIMIT_EXCEEDED = specific(CommandSpecificSc.AsyncEventRequestLimitExceeded, false);
export const SF_INVALID_INTERRUPT_VECTOR = specific(CommandSpecificSc.InvalidInterruptVector, true);
export const SF_INVALID_LOG_PAGE = specific(CommandSpecificSc.InvalidLogPage, true);
export const SF_INVALID_QUEUE_DELETION = specific(CommandSpecificSc.InvalidQueueDeletion, false);
export const SF_FEATURE_NOT_SAVEABLE = specific(CommandSpecificSc.FeatureNotSaveable, true);
export const SF_FEATURE_NOT_NS_SPECIFIC = specific(CommandSpecificSc.FeatureNotNamespaceSpecific, true);

export const SF_WRITE_FAULT = media(MediaSc.WriteFault, false);
export const SF_UNRECOVERED_READ_ERROR = media(MediaSc.UnrecoveredReadError, false);
export const SF_COMPARE_FAILURE = media(MediaSc.CompareFailure, true);
export const SF_DEALLOCATED_BLOCK = media(MediaSc.DeallocatedOrUnwrittenBlock, false);

/** Returned by a handler whose completion is posted later (AER). */
export const NO_COMPLETION = -1;
