// The compare-and-swap half of the cross-process locks. A lock word is 0 when
// free and holder + 1 when held, so a survivor can tell who held a lock when
// its holder died. Waiting (futex) and recovery belong to the host, which
// calls back here.
import { rAddr } from './mem';

/** Try to take the lock at region offset `off` for process slot `who`: 0 if taken, else the holder + 1. */
export function lockTry(off: u32, who: u32): u32 {
  return atomic.cmpxchg<u32>(rAddr(off), 0, who + 1);
}

/** Release a lock this process holds; returns the word's previous value. */
export function lockRelease(off: u32): u32 {
  // Sequentially consistent exchange: every store made under the lock is
  // visible before the lock reads free.
  return atomic.xchg<u32>(rAddr(off), 0);
}

/** Take over a lock whose holder died: CAS from the dead holder's value. */
export function lockSteal(off: u32, deadWord: u32, who: u32): bool {
  return atomic.cmpxchg<u32>(rAddr(off), deadWord, who + 1) == deadWord;
}
