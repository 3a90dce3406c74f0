/*
 * nvme-vfio: the native PCIe baseline of nvme-wasm's VM benchmark (bench:vm)
 * and the "other user-space driver" of the VM crash loop
 * (test/vm-driver-loop.test.ts). A minimal polled NVMe driver in C on a
 * controller bound to vfio-pci: one I/O queue pair, QD random 4 KiB reads,
 * nothing else per I/O (a clock read per poll, not per command).
 *
 * Independent of nvme-wasm on purpose: registers, commands and VFIO are
 * written out here from the NVMe 1.4 specification and <linux/vfio.h>.
 *
 *   nvme-vfio BDF QD SECONDS [NSID]
 *
 * Steps (NVMe 1.4 section in brackets):
 *   VFIO container, group, device (opening it resets the function); BAR0
 *   mapped; bus mastering on; 2 MiB of DMA memory mapped at IOVA = its
 *   address; CC.EN = 0, wait CSTS.RDY = 0 [7.6.1 / 3.1.6]; AQA, ASQ, ACQ;
 *   CC (IOSQES 6, IOCQES 4, EN); wait CSTS.RDY = 1 [7.6.1]; Identify
 *   Namespace [5.15.2.1]; Set Features Number of Queues [5.21.1.7];
 *   Create I/O CQ [5.3] then SQ [5.4]; QD reads in flight [6.9], each
 *   completion resubmitted at once, the SQ tail and CQ head doorbells rung
 *   once per poll; then Delete I/O SQ and CQ, CC.EN = 0.
 *
 * Prints one JSON line: ios, wallNs, cpuNs (CLOCK_PROCESS_CPUTIME_ID),
 * iops, meanUs (submission to completion, clock read per poll), p99Us
 * (log2 histogram bucket bound), errors. Exit 0 on success, 1 on any
 * failure (with a line on stderr saying which step).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Controller registers (3.1) */
#define REG_CAP 0x00
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define CC_EN 0x1u
#define CC_IOSQES (6u << 16)
#define CC_IOCQES (4u << 20)
#define CSTS_RDY 0x1u
#define CSTS_CFS 0x2u

#define AQ_DEPTH 32
#define IOQ_DEPTH 256
#define PAGE 4096
#define DMA_SIZE (2u << 20)
#define IOVA_BASE 0x10000000ull

struct sqe {
  uint8_t opc, flags;
  uint16_t cid;
  uint32_t nsid, cdw2, cdw3;
  uint64_t mptr, prp1, prp2;
  uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
struct cqe {
  uint32_t dw0, dw1;
  uint16_t sqhd, sqid, cid, status;
};

static volatile uint8_t *bar;
static uint32_t dstrd;
static uint8_t *dma;

static void die(const char *step, const char *why) {
  fprintf(stderr, "nvme-vfio: %s: %s\n", step, why);
  exit(1);
}
static void die_errno(const char *step) { die(step, strerror(errno)); }

static uint32_t rd32(uint32_t off) { return *(volatile uint32_t *)(bar + off); }
static uint64_t rd64(uint32_t off) { return (uint64_t)rd32(off) | ((uint64_t)rd32(off + 4) << 32); }
static void wr32(uint32_t off, uint32_t v) { *(volatile uint32_t *)(bar + off) = v; }
static void wr64(uint32_t off, uint64_t v) { wr32(off, (uint32_t)v); wr32(off + 4, (uint32_t)(v >> 32)); }
static uint64_t iova(const void *p) { return IOVA_BASE + (uint64_t)((const uint8_t *)p - dma); }
static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct queue {
  struct sqe *sq;
  volatile struct cqe *cq;
  uint16_t depth, tail, head, phase, qid;
};

static uint32_t sq_db(uint16_t qid) { return 0x1000 + (2u * qid) * (4u << dstrd); }
static uint32_t cq_db(uint16_t qid) { return 0x1000 + (2u * qid + 1) * (4u << dstrd); }

static void wait_rdy(uint32_t want, uint64_t cap) {
  uint64_t limit_ms = ((cap >> 24) & 0xff) * 500 + 1000; /* CAP.TO in 500 ms units */
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  for (;;) {
    uint32_t csts = rd32(REG_CSTS);
    if (csts == 0xffffffffu) die("CSTS", "reads all ones (device gone)");
    if ((csts & CSTS_RDY) == want) return;
    if (want && (csts & CSTS_CFS)) die("enable", "CSTS.CFS set");
    if ((now_ns(CLOCK_MONOTONIC) - t0) / 1000000 > limit_ms) die(want ? "enable" : "disable", "CSTS.RDY did not change within CAP.TO");
    usleep(1000);
  }
}

/* One admin command, waited for (the admin queue is used one command at a time). */
static uint32_t admin(struct queue *q, struct sqe *c, const char *what) {
  c->cid = q->tail;
  q->sq[q->tail] = *c;
  q->tail = (uint16_t)((q->tail + 1) % q->depth);
  wr32(sq_db(0), q->tail);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  for (;;) {
    volatile struct cqe *e = &q->cq[q->head];
    if ((e->status & 1) == q->phase) {
      uint16_t st = e->status >> 1;
      uint32_t dw0 = e->dw0;
      if (++q->head == q->depth) q->head = 0, q->phase ^= 1;
      wr32(cq_db(0), q->head);
      if (st != 0) {
        char m[64];
        snprintf(m, sizeof m, "status sct %u sc 0x%02x", (st >> 8) & 7, st & 0xff);
        die(what, m);
      }
      return dw0;
    }
    if (now_ns(CLOCK_MONOTONIC) - t0 > 5000000000ull) die(what, "no completion in 5 s");
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: nvme-vfio BDF QD SECONDS [NSID]\n");
    return 2;
  }
  const char *bdf = argv[1];
  int qd = atoi(argv[2]);
  double seconds = atof(argv[3]);
  uint32_t nsid = argc > 4 ? (uint32_t)atoi(argv[4]) : 1;
  if (qd < 1 || qd > IOQ_DEPTH - 1) die("arguments", "QD must be 1 to 255");
  if (!(seconds > 0)) die("arguments", "SECONDS must be positive");

  /* ---- VFIO: container, group, device ---- */
  char link[256], target[256];
  snprintf(link, sizeof link, "/sys/bus/pci/devices/%s/iommu_group", bdf);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) die_errno("iommu group (bind the device to vfio-pci)");
  target[n] = 0;
  char gpath[64];
  snprintf(gpath, sizeof gpath, "/dev/vfio/%s", basename(target));
  int container = open("/dev/vfio/vfio", O_RDWR);
  if (container < 0) die_errno("/dev/vfio/vfio");
  if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) die("VFIO", "API version");
  int group = open(gpath, O_RDWR);
  if (group < 0) die_errno(gpath);
  struct vfio_group_status gs = {.argsz = sizeof gs};
  if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0) die_errno("VFIO_GROUP_GET_STATUS");
  if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) die("VFIO", "group not viable (every device of the group must be bound to vfio-pci)");
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) die_errno("VFIO_GROUP_SET_CONTAINER");
  if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) die_errno("VFIO_SET_IOMMU");
  int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
  if (dev < 0) die_errno("VFIO_GROUP_GET_DEVICE_FD");

  struct vfio_region_info ri = {.argsz = sizeof ri, .index = VFIO_PCI_BAR0_REGION_INDEX};
  if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0) die_errno("BAR0 region info");
  bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)ri.offset);
  if (bar == MAP_FAILED) die_errno("mmap BAR0");
  /* Memory space and bus mastering on (PCI command register, config offset 4). */
  struct vfio_region_info ci = {.argsz = sizeof ci, .index = VFIO_PCI_CONFIG_REGION_INDEX};
  if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ci) < 0) die_errno("config region info");
  uint16_t cmd;
  if (pread(dev, &cmd, 2, (off_t)ci.offset + 4) != 2) die_errno("read PCI command");
  cmd |= 0x6;
  if (pwrite(dev, &cmd, 2, (off_t)ci.offset + 4) != 2) die_errno("write PCI command");

  /* ---- DMA memory: one 2 MiB mapping at IOVA_BASE ---- */
  dma = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  if (dma == MAP_FAILED) dma = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (dma == MAP_FAILED) die_errno("mmap DMA memory");
  memset(dma, 0, DMA_SIZE);
  struct vfio_iommu_type1_dma_map dm = {.argsz = sizeof dm, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, .vaddr = (uint64_t)(uintptr_t)dma, .iova = IOVA_BASE, .size = DMA_SIZE};
  if (ioctl(container, VFIO_IOMMU_MAP_DMA, &dm) < 0) die_errno("VFIO_IOMMU_MAP_DMA");
  /* Layout: admin SQ | admin CQ | I/O SQ (16 KiB) | I/O CQ | identify | data buffers (QD pages) */
  struct queue aq = {.sq = (struct sqe *)dma, .cq = (struct cqe *)(dma + PAGE), .depth = AQ_DEPTH, .phase = 1, .qid = 0};
  struct queue io = {.sq = (struct sqe *)(dma + 2 * PAGE), .cq = (struct cqe *)(dma + 6 * PAGE), .depth = IOQ_DEPTH, .phase = 1, .qid = 1};
  uint8_t *ident = dma + 8 * PAGE;
  uint8_t *bufs = dma + 9 * PAGE;

  /* ---- controller initialisation (7.6.1) ---- */
  uint64_t cap = rd64(REG_CAP);
  if (cap == ~0ull) die("CAP", "reads all ones (device gone)");
  dstrd = (uint32_t)(cap >> 32) & 0xf;
  if (((cap >> 48) & 0xf) > 0) die("CAP", "MPSMIN above 4 KiB");
  wr32(REG_CC, rd32(REG_CC) & ~CC_EN); /* reset: a controller left enabled by a previous driver */
  wait_rdy(0, cap);
  wr32(REG_AQA, ((AQ_DEPTH - 1u) << 16) | (AQ_DEPTH - 1u));
  wr64(REG_ASQ, iova(aq.sq));
  wr64(REG_ACQ, iova((const void *)aq.cq));
  wr32(REG_CC, CC_IOSQES | CC_IOCQES | CC_EN); /* NVM command set, 4 KiB pages, round robin */
  wait_rdy(1, cap);

  struct sqe c;
  memset(&c, 0, sizeof c); /* Identify Namespace (CNS 0) */
  c.opc = 0x06, c.nsid = nsid, c.prp1 = iova(ident), c.cdw10 = 0;
  admin(&aq, &c, "Identify Namespace");
  uint64_t nsze;
  memcpy(&nsze, ident, 8);
  uint8_t flbas = ident[26] & 0xf;
  uint32_t lbaf;
  memcpy(&lbaf, ident + 128 + 4 * flbas, 4);
  uint32_t lba_size = 1u << ((lbaf >> 16) & 0xff);
  if (nsze == 0) die("Identify Namespace", "namespace is not active");
  if (lba_size > PAGE) die("Identify Namespace", "blocks larger than 4 KiB");
  uint32_t nlb = PAGE / lba_size;
  uint64_t units = nsze / nlb;

  memset(&c, 0, sizeof c); /* Set Features, Number of Queues: one SQ, one CQ (0's based) */
  c.opc = 0x09, c.cdw10 = 0x07, c.cdw11 = 0;
  admin(&aq, &c, "Set Features Number of Queues");
  memset(&c, 0, sizeof c); /* Create I/O CQ 1: physically contiguous, no interrupts */
  c.opc = 0x05, c.prp1 = iova((const void *)io.cq), c.cdw10 = ((IOQ_DEPTH - 1u) << 16) | 1u, c.cdw11 = 0x1;
  admin(&aq, &c, "Create I/O CQ");
  memset(&c, 0, sizeof c); /* Create I/O SQ 1 on CQ 1 */
  c.opc = 0x01, c.prp1 = iova(io.sq), c.cdw10 = ((IOQ_DEPTH - 1u) << 16) | 1u, c.cdw11 = (1u << 16) | 0x1;
  admin(&aq, &c, "Create I/O SQ");

  /* ---- the measured loop ---- */
  uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  uint64_t stamp[IOQ_DEPTH];
  uint64_t hist[64] = {0};
  uint64_t ios = 0, errors = 0, lat_sum = 0;
  uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t end = t0 + (uint64_t)(seconds * 1e9);
#define SUBMIT(slot, now)                                                              \
  do {                                                                                 \
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;                               \
    uint64_t lba = (rng % units) * nlb;                                                \
    struct sqe *s = &io.sq[io.tail];                                                   \
    memset(s, 0, sizeof *s);                                                           \
    s->opc = 0x02, s->cid = (uint16_t)(slot), s->nsid = nsid;                          \
    s->prp1 = iova(bufs + (size_t)(slot) * PAGE);                                      \
    s->cdw10 = (uint32_t)lba, s->cdw11 = (uint32_t)(lba >> 32), s->cdw12 = nlb - 1;    \
    stamp[slot] = (now);                                                               \
    io.tail = (uint16_t)((io.tail + 1) % io.depth);                                    \
  } while (0)
  for (int i = 0; i < qd; i++) SUBMIT(i, t0);
  wr32(sq_db(1), io.tail);
  int inflight = qd;
  uint64_t now = t0;
  while (inflight > 0) {
    int reaped = 0, resubmitted = 0;
    volatile struct cqe *e = &io.cq[io.head];
    if ((e->status & 1) == io.phase) now = now_ns(CLOCK_MONOTONIC); /* one clock read per poll that reaps */
    while ((e->status & 1) == io.phase) {
      uint16_t cid = e->cid;
      if (e->status >> 1) errors++;
      if (cid >= qd) die("completion", "cid out of range");
      uint64_t lat = now - stamp[cid];
      lat_sum += lat;
      hist[63 - __builtin_clzll((lat / 1000) | 1)]++;
      ios++;
      reaped++;
      if (++io.head == io.depth) io.head = 0, io.phase ^= 1;
      e = &io.cq[io.head];
      if (now < end) {
        SUBMIT(cid, now);
        resubmitted++;
      } else {
        inflight--;
      }
    }
    if (reaped) {
      wr32(cq_db(1), io.head);
      if (resubmitted) wr32(sq_db(1), io.tail);
    }
  }
  uint64_t wall = now_ns(CLOCK_MONOTONIC) - t0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;

  /* ---- teardown: delete the queues, disable ---- */
  memset(&c, 0, sizeof c);
  c.opc = 0x00, c.cdw10 = 1; /* Delete I/O SQ 1 */
  admin(&aq, &c, "Delete I/O SQ");
  memset(&c, 0, sizeof c);
  c.opc = 0x04, c.cdw10 = 1; /* Delete I/O CQ 1 */
  admin(&aq, &c, "Delete I/O CQ");
  wr32(REG_CC, rd32(REG_CC) & ~CC_EN);
  wait_rdy(0, cap);

  uint64_t want = (ios * 99 + 99) / 100, seen = 0;
  double p99 = 0;
  for (int b = 0; b < 64; b++) {
    seen += hist[b];
    if (seen >= want) {
      p99 = (double)(2ull << b); /* bucket b holds [2^b, 2^(b+1)) us */
      break;
    }
  }
  printf("{\"ios\":%llu,\"errors\":%llu,\"wallNs\":%llu,\"cpuNs\":%llu,\"iops\":%.1f,\"meanUs\":%.2f,\"p99Us\":%.0f,\"lbaSize\":%u}\n", (unsigned long long)ios, (unsigned long long)errors,
         (unsigned long long)wall, (unsigned long long)cpu, ios / (wall / 1e9), ios ? lat_sum / 1000.0 / ios : 0.0, p99, lba_size);
  return errors ? 1 : 0;
}
