// Where hugetlbfs is mounted and how many 2 MiB pages are free.
import fs from 'node:fs';

export function hugetlbfsMount(): string | undefined {
  try {
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'hugetlbfs' && dir) return dir;
    }
  } catch {
    /* no /proc: no hugetlbfs */
  }
  return undefined;
}

export function hugePagesFree(): number {
  try {
    const m = /HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
