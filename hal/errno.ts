// The Linux errno values the HAL branches on (asm-generic/errno-base.h, errno.h), defined once.
export const EINTR = 4;
export const EAGAIN = 11;
/** The same value as EAGAIN on Linux. */
export const EWOULDBLOCK = EAGAIN;
export const ETIMEDOUT = 110;
