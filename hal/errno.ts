// The Linux errno values the HAL and the simulator branch on (asm-generic/errno-base.h, errno.h), defined once.
export const EINTR = 4;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EINVAL = 22;
/** The same value as EAGAIN on Linux. */
export const EWOULDBLOCK = EAGAIN;
export const ETIMEDOUT = 110;
