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

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

export interface HugepageStatus {
  /** Default huge page size in bytes (Hugepagesize in /proc/meminfo). */
  pageSize: number;
  total: number;
  free: number;
  mount: string | undefined;
}

export function hugepageStatus(): HugepageStatus {
  let meminfo = '';
  try {
    meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  } catch {
    /* no /proc */
  }
  const field = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(meminfo)?.[1] ?? 0);
  return { pageSize: field('Hugepagesize') * 1024, total: field('HugePages_Total'), free: field('HugePages_Free'), mount: hugetlbfsMount() };
}

/**
 * Ask the kernel for `pages` default-size huge pages in all (root only);
 * returns how many it reserved (fewer when memory is fragmented or short).
 */
export function reserveHugepages(pages: number): number {
  fs.writeFileSync(NR_HUGEPAGES, `${pages}\n`);
  return Number(fs.readFileSync(NR_HUGEPAGES, 'utf8').trim());
}
