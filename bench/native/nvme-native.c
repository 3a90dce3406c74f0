/*
 * nvme-native: the native baseline of nvme-wasm's benchmark. A minimal
 * polled NVMe driver in C against nvme-wasm's simulated controller (a
 * separate process): it maps the sim's BAR0 file and ctl page, creates a
 * DMA region file in /dev/shm and registers it through the ctl page (the
 * sim plays the IOMMU), runs the NVMe 1.4 initialisation (CC.EN = 0 and
 * wait RDY = 0, AQA/ASQ/ACQ, CC, wait RDY = 1, Identify Namespace, Set
 * Features Number of Queues, Create I/O CQ/SQ), then keeps QD random 4 KiB
 * reads in flight on each of NQ queue pairs, ringing each doorbell once
 * per poll (as nvme-wasm's processCompletions does).
 *
 * Register, command and ctl-page offsets are hard-coded from the NVMe 1.4
 * specification and host/sim/ctl.ts on purpose: this is the independent
 * baseline, so it shares no code with the driver it is compared with.
 *
 *   nvme-native NAME DIR QD SECONDS [NQ [WARMUP_S [loopback]]]
 *
 * With `loopback` (npm run bench -- --device loopback), the simulator only
 * creates the queues and is then stopped (SIGSTOP, its pid from the ctl
 * page) while loopback_step(), the in-process null device of
 * bench/loopback.ts, completes every command rung for, at once, before the
 * clock read that starts each poll (so its work is not busy time); the
 * simulator resumes (SIGCONT) before the queues are deleted.
 *
 * Prints one JSON line: ios, wallNs, cpuNs (CLOCK_PROCESS_CPUTIME_ID over
 * the measured interval), polls, emptyPolls, emptyPollNs (CPU ns of one
 * poll that finds nothing, measured afterwards with nothing in flight),
 * busyNs (time in polls that reaped, see below) and clockNs (one clock read).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* NVMe 1.4 controller registers (3.1) */
#define REG_CAP 0x00
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define DOORBELL_BASE 0x1000
/* ctl page of the simulated controller (host/sim/ctl.ts) */
#define CTL_MAGIC 0x00
#define CTL_MAGIC_VALUE 0x4d53564eu
#define CTL_SIM_PID 0x04
#define CTL_DMA_SEQ 0x14
#define CTL_DMA_ACK 0x18
#define CTL_DMA_RESULT 0x1c
#define CTL_DMA_IOVA_LO 0x20
#define CTL_DMA_IOVA_HI 0x24
#define CTL_DMA_LEN 0x28
#define CTL_BAR_SIZE 0x30
#define CTL_DMA_PATH 0x40
#define CTL_SIZE 0x1000

#define IOVA_BASE 0x100000000ull
#define AQ_DEPTH 64
#define IOQ_ENTRIES 1024
#define MAX_NQ 8
#define PAGE 4096

static volatile uint32_t *bar, *ctl;
static uint8_t *dma;
static uint32_t dstrd;

static void die(const char *m) {
  fprintf(stderr, "nvme-native: %s (errno %d: %s)\n", m, errno, strerror(errno));
  exit(1);
}
static uint32_t rd(uint32_t off) { return __atomic_load_n(&bar[off / 4], __ATOMIC_ACQUIRE); }
static void wr(uint32_t off, uint32_t v) { __atomic_store_n(&bar[off / 4], v, __ATOMIC_RELEASE); }
static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
static uint32_t sq_db(int q) { return DOORBELL_BASE + (2 * q) * (4u << dstrd); }
static uint32_t cq_db(int q) { return DOORBELL_BASE + (2 * q + 1) * (4u << dstrd); }

struct queue {
  int qid;
  uint32_t *sq; /* 16 dwords per entry */
  volatile uint32_t *cq; /* 4 dwords per entry */
  uint64_t sq_iova, cq_iova, data_iova;
  uint32_t size, tail, head, phase, inflight;
  uint32_t tail_db; /* SQ tail as last rung */
  /* the loopback device's side: next SQ entry to take, next CQ entry to write, its phase */
  uint32_t dev_head, dev_cq_tail, dev_phase;
};

static void *map_file(const char *path, size_t len) {
  int fd = open(path, O_RDWR);
  if (fd < 0) die(path);
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  close(fd);
  return p;
}

static void wait_csts_rdy(uint32_t want) {
  uint64_t end = now_ns(CLOCK_MONOTONIC) + 10000000000ull;
  while ((rd(REG_CSTS) & 1) != want) {
    if (now_ns(CLOCK_MONOTONIC) > end) { fprintf(stderr, "nvme-native: CSTS.RDY never became %u\n", want); exit(1); }
    usleep(100);
  }
}

static uint16_t admin_cid;
/* Submit one admin command and wait for its completion; returns dw0. */
static uint32_t admin(struct queue *aq, uint32_t opc, uint32_t nsid, uint64_t prp1, uint32_t c10, uint32_t c11) {
  uint32_t *e = aq->sq + aq->tail * 16;
  memset(e, 0, 64);
  e[0] = opc | ((uint32_t)admin_cid << 16);
  e[1] = nsid;
  e[6] = (uint32_t)prp1;
  e[7] = (uint32_t)(prp1 >> 32);
  e[10] = c10;
  e[11] = c11;
  aq->tail = (aq->tail + 1) % aq->size;
  wr(sq_db(0), aq->tail);
  uint64_t end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
  for (;;) {
    volatile uint32_t *c = aq->cq + aq->head * 4;
    uint32_t dw3 = __atomic_load_n(&c[3], __ATOMIC_ACQUIRE);
    if (((dw3 >> 16) & 1) == aq->phase) {
      uint32_t dw0 = c[0];
      if (++aq->head == aq->size) { aq->head = 0; aq->phase ^= 1; }
      wr(cq_db(0), aq->head);
      if ((dw3 >> 17) != 0) { fprintf(stderr, "nvme-native: admin opcode 0x%x failed, status 0x%x\n", opc, dw3 >> 17); exit(1); }
      admin_cid++;
      return dw0;
    }
    if (now_ns(CLOCK_MONOTONIC) > end) { fprintf(stderr, "nvme-native: admin opcode 0x%x timed out\n", opc); exit(1); }
  }
}

static uint64_t rng = 88172645463325252ull;
static inline uint64_t xorshift64(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static uint64_t units; /* 4 KiB units in namespace 1 */
static uint32_t blocks_per_io;

static inline void submit_read(struct queue *q, uint32_t slot) {
  uint32_t *e = q->sq + q->tail * 16;
  uint64_t lba = (xorshift64() % units) * blocks_per_io;
  uint64_t prp = q->data_iova + (uint64_t)slot * PAGE;
  e[0] = 0x02 /* Read */ | ((uint32_t)slot << 16); /* cid = slot: each slot owns its 4 KiB buffer */
  e[1] = 1;
  e[2] = e[3] = e[4] = e[5] = 0;
  e[6] = (uint32_t)prp; e[7] = (uint32_t)(prp >> 32);
  e[8] = e[9] = 0;
  e[10] = (uint32_t)lba; e[11] = (uint32_t)(lba >> 32);
  e[12] = blocks_per_io - 1; /* NLB, 0's based */
  e[13] = e[14] = e[15] = 0;
  if (++q->tail == q->size) q->tail = 0;
}

/* One poll of one queue: reap, ring CQ head once, resubmit, ring SQ tail once. Returns completions reaped. */
static int stopping;
static uint64_t errors;
static inline uint32_t poll_queue(struct queue *q) {
  uint32_t n = 0;
  for (;;) {
    volatile uint32_t *c = q->cq + q->head * 4;
    uint32_t dw3 = __atomic_load_n(&c[3], __ATOMIC_ACQUIRE);
    if (((dw3 >> 16) & 1) != q->phase) break;
    if ((dw3 >> 17) != 0) errors++;
    if (++q->head == q->size) { q->head = 0; q->phase ^= 1; }
    n++;
    if (!stopping) submit_read(q, dw3 & 0xffff);
    else q->inflight--;
  }
  if (n) {
    wr(cq_db(q->qid), q->head);
    if (!stopping) { wr(sq_db(q->qid), q->tail); q->tail_db = q->tail; }
  }
  return n;
}

/* The loopback device (bench/loopback.ts in C): complete, successfully and
 * without data, every command rung for since the last step, while the CQ
 * has room (the host's head as it last rang it). */
static inline void loopback_step(struct queue *q) {
  while (q->dev_head != q->tail_db) {
    uint32_t next = q->dev_cq_tail + 1 == q->size ? 0 : q->dev_cq_tail + 1;
    if (next == q->head) break;
    uint32_t cid = q->sq[q->dev_head * 16] >> 16;
    q->dev_head = q->dev_head + 1 == q->size ? 0 : q->dev_head + 1;
    volatile uint32_t *c = q->cq + q->dev_cq_tail * 4;
    c[0] = 0;
    c[1] = 0;
    c[2] = ((uint32_t)q->qid << 16) | q->dev_head;
    __atomic_store_n(&c[3], cid | (q->dev_phase << 16), __ATOMIC_RELEASE);
    q->dev_cq_tail = next;
    if (next == 0) q->dev_phase ^= 1;
  }
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: nvme-native NAME DIR QD SECONDS [NQ [WARMUP_S]]\n"); return 2; }
  const char *name = argv[1], *dir = argv[2];
  uint32_t qd = (uint32_t)atoi(argv[3]);
  double seconds = atof(argv[4]);
  int nq = argc > 5 ? atoi(argv[5]) : 1;
  double warmup = argc > 6 ? atof(argv[6]) : 0.5;
  int loopback = argc > 7 && strcmp(argv[7], "loopback") == 0;
  if (qd < 1 || qd >= IOQ_ENTRIES || nq < 1 || nq > MAX_NQ || seconds <= 0) { fprintf(stderr, "nvme-native: bad arguments\n"); return 2; }

  char path[512];
  snprintf(path, sizeof path, "%s/nvme-wasm-sim-%s.ctl", dir, name);
  ctl = map_file(path, CTL_SIZE);
  if (ctl[CTL_MAGIC / 4] != CTL_MAGIC_VALUE) { fprintf(stderr, "nvme-native: %s: bad magic\n", path); return 1; }
  uint32_t bar_size = ctl[CTL_BAR_SIZE / 4];
  snprintf(path, sizeof path, "%s/nvme-wasm-sim-%s.bar", dir, name);
  bar = map_file(path, bar_size);

  /* DMA region: admin queues and identify buffer, then per queue SQ, CQ and QD data pages. */
  size_t per_q = (size_t)IOQ_ENTRIES * 64 + (size_t)IOQ_ENTRIES * 16 + (size_t)qd * PAGE;
  per_q = (per_q + PAGE - 1) & ~(size_t)(PAGE - 1);
  size_t dma_len = 0x10000 + per_q * nq;
  dma_len = (dma_len + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
  char dma_path[256];
  snprintf(dma_path, sizeof dma_path, "/dev/shm/nvme-native-%d.dma", getpid());
  int fd = open(dma_path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ftruncate(fd, (off_t)dma_len) != 0) die(dma_path);
  dma = mmap(NULL, dma_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (dma == MAP_FAILED) die("mmap dma");
  close(fd);
  memset(dma, 0, dma_len);
  /* Register it with the sim (its IOMMU): path, IOVA, length, then bump SEQ and wait for ACK. */
  memset((void *)((uint8_t *)ctl + CTL_DMA_PATH), 0, 256);
  memcpy((void *)((uint8_t *)ctl + CTL_DMA_PATH), dma_path, strlen(dma_path));
  ctl[CTL_DMA_IOVA_LO / 4] = (uint32_t)IOVA_BASE;
  ctl[CTL_DMA_IOVA_HI / 4] = (uint32_t)(IOVA_BASE >> 32);
  ctl[CTL_DMA_LEN / 4] = (uint32_t)dma_len;
  uint32_t seq = __atomic_add_fetch(&ctl[CTL_DMA_SEQ / 4], 1, __ATOMIC_SEQ_CST);
  uint64_t end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
  while (__atomic_load_n(&ctl[CTL_DMA_ACK / 4], __ATOMIC_ACQUIRE) != seq) {
    if (now_ns(CLOCK_MONOTONIC) > end) { fprintf(stderr, "nvme-native: the sim did not map the DMA region\n"); return 1; }
    usleep(100);
  }
  if (ctl[CTL_DMA_RESULT / 4] != 0) { fprintf(stderr, "nvme-native: DMA map failed, errno %u\n", ctl[CTL_DMA_RESULT / 4]); return 1; }
  unlink(dma_path); /* both mappings hold it now */

  /* 7.6.1: reset, admin queue, enable. */
  dstrd = (rd(REG_CAP + 4) >> 0) & 0xf; /* CAP.DSTRD, bits 35:32 */
  uint32_t mqes = (rd(REG_CAP) & 0xffff) + 1;
  if (mqes < IOQ_ENTRIES) { fprintf(stderr, "nvme-native: CAP.MQES too small\n"); return 1; }
  if (rd(REG_CC) & 1) wr(REG_CC, rd(REG_CC) & ~1u);
  wait_csts_rdy(0);
  struct queue aq = { .qid = 0, .sq = (uint32_t *)dma, .cq = (uint32_t *)(dma + 0x1000), .size = AQ_DEPTH, .phase = 1 };
  wr(REG_AQA, ((AQ_DEPTH - 1) << 16) | (AQ_DEPTH - 1));
  wr(REG_ASQ, (uint32_t)IOVA_BASE); wr(REG_ASQ + 4, (uint32_t)(IOVA_BASE >> 32));
  wr(REG_ACQ, (uint32_t)(IOVA_BASE + 0x1000)); wr(REG_ACQ + 4, (uint32_t)((IOVA_BASE + 0x1000) >> 32));
  wr(REG_CC, (4u << 20) | (6u << 16) | 1u); /* IOCQES 16 B, IOSQES 64 B, MPS 4 KiB, CSS NVM, EN */
  wait_csts_rdy(1);

  /* Identify Namespace 1 (CNS 0): NSZE at byte 0, FLBAS at 26, LBA formats from 128. */
  admin(&aq, 0x06, 1, IOVA_BASE + 0x2000, 0, 0);
  uint64_t nsze; memcpy(&nsze, dma + 0x2000, 8);
  uint32_t lbaf; memcpy(&lbaf, dma + 0x2000 + 128 + 4 * (dma[0x2000 + 26] & 0xf), 4);
  uint32_t lba_size = 1u << ((lbaf >> 16) & 0xff);
  blocks_per_io = PAGE / lba_size;
  units = nsze / blocks_per_io;
  /* Set Features, Number of Queues (FID 07h), 0's based. */
  uint32_t nqa = admin(&aq, 0x09, 0, 0, 0x07, ((uint32_t)(nq - 1) << 16) | (uint32_t)(nq - 1));
  if ((int)(nqa & 0xffff) + 1 < nq) { fprintf(stderr, "nvme-native: only %u queues granted\n", (nqa & 0xffff) + 1); return 1; }

  struct queue qs[MAX_NQ];
  pid_t sim_pid = (pid_t)ctl[CTL_SIM_PID / 4];
  for (int i = 0; i < nq; i++) {
    struct queue *q = &qs[i];
    size_t base = 0x10000 + per_q * (size_t)i;
    q->qid = i + 1; q->size = IOQ_ENTRIES; q->tail = q->head = 0; q->phase = 1; q->inflight = 0;
    q->tail_db = 0; q->dev_head = 0; q->dev_cq_tail = 0; q->dev_phase = 1;
    q->sq = (uint32_t *)(dma + base); q->sq_iova = IOVA_BASE + base;
    q->cq = (uint32_t *)(dma + base + IOQ_ENTRIES * 64); q->cq_iova = q->sq_iova + IOQ_ENTRIES * 64;
    q->data_iova = q->cq_iova + IOQ_ENTRIES * 16;
    admin(&aq, 0x05, 0, q->cq_iova, ((uint32_t)(IOQ_ENTRIES - 1) << 16) | (uint32_t)q->qid, 1 /* PC */);
    admin(&aq, 0x01, 0, q->sq_iova, ((uint32_t)(IOQ_ENTRIES - 1) << 16) | (uint32_t)q->qid, ((uint32_t)q->qid << 16) | 1);
  }
  /* Loopback: the simulator created the queues; from here on only the in-process device answers. */
  if (loopback) {
    if (kill(sim_pid, SIGSTOP) != 0) die("SIGSTOP the simulator");
    /* Stopped for real (state T) before the first doorbell: a simulator
     * still polling would take commands the loopback device takes too. */
    char st[64], buf[512];
    snprintf(st, sizeof st, "/proc/%d/stat", (int)sim_pid);
    for (;;) {
      FILE *f = fopen(st, "r");
      if (!f) die(st);
      size_t m = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[m] = 0;
      char *p = strrchr(buf, ')');
      if (p && p[1] == ' ' && p[2] == 'T') break;
      usleep(100);
    }
  }
  for (int i = 0; i < nq; i++) {
    struct queue *q = &qs[i];
    for (uint32_t s = 0; s < qd; s++) submit_read(q, s);
    q->inflight = qd;
    wr(sq_db(q->qid), q->tail);
    q->tail_db = q->tail;
  }

  /* Warm up, then measure. */
  uint64_t t_warm = now_ns(CLOCK_MONOTONIC) + (uint64_t)(warmup * 1e9);
  while (now_ns(CLOCK_MONOTONIC) < t_warm)
    for (int k = 0; k < 256; k++) for (int i = 0; i < nq; i++) {
      if (loopback) loopback_step(&qs[i]);
      poll_queue(&qs[i]);
    }
  /* Busy time: one clock read per poll; a poll that reaps adds the time
   * since the previous read (the poll, its doorbells, its resubmissions
   * and one clock read) to busyNs. The JS driver does exactly the same. */
  uint64_t ios = 0, polls = 0, empty = 0, busy = 0;
  uint64_t w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t w_end = w0 + (uint64_t)(seconds * 1e9), w1, t = w0;
  for (;;) {
    for (int k = 0; k < 256; k++) {
      for (int i = 0; i < nq; i++) {
        if (loopback) {
          /* The device's work before the read that starts the poll: not busy time. */
          loopback_step(&qs[i]);
          t = now_ns(CLOCK_MONOTONIC);
        }
        uint32_t n = poll_queue(&qs[i]);
        uint64_t t2 = now_ns(CLOCK_MONOTONIC);
        ios += n;
        /* A poll longer than 100 us was preempted (the machine is shared): not driver work. */
        if (n && t2 - t < 100000) busy += t2 - t;
        else empty++;
        t = t2;
      }
    }
    polls += 256 * (uint64_t)nq;
    if ((w1 = t) >= w_end) break;
  }
  uint64_t c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  /* The cost of one clock read, to take out of busyNs: the least over 20
   * batches of 50,000 (a batch the machine preempted costs more, not less). */
  uint64_t sink = 0;
  double clock_ns = 1e9;
  for (int b = 0; b < 20; b++) {
    uint64_t k0 = now_ns(CLOCK_MONOTONIC);
    for (int k = 0; k < 50000; k++) sink += now_ns(CLOCK_MONOTONIC) & 1;
    double x = (double)(now_ns(CLOCK_MONOTONIC) - k0) / 50000;
    if (x < clock_ns) clock_ns = x;
  }

  /* Drain, then the cost of a poll that finds nothing. */
  stopping = 1;
  end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
  for (int i = 0; i < nq; i++) while (qs[i].inflight > 0 && now_ns(CLOCK_MONOTONIC) < end) {
    if (loopback) loopback_step(&qs[i]);
    poll_queue(&qs[i]);
  }
  const uint64_t cal = 4000000;
  uint64_t e0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), found = 0;
  for (uint64_t k = 0; k < cal; k++) found += poll_queue(&qs[k % nq]);
  uint64_t e1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);

  if (loopback) kill(sim_pid, SIGCONT);
  for (int i = 0; i < nq; i++) {
    admin(&aq, 0x00, 0, 0, (uint32_t)qs[i].qid, 0); /* Delete I/O SQ */
    admin(&aq, 0x04, 0, 0, (uint32_t)qs[i].qid, 0); /* Delete I/O CQ */
  }
  wr(REG_CC, rd(REG_CC) & ~1u);
  wait_csts_rdy(0);
  /* Unregister the DMA region. */
  memset((void *)((uint8_t *)ctl + CTL_DMA_PATH), 0, 256);
  ctl[CTL_DMA_LEN / 4] = 0;
  seq = __atomic_add_fetch(&ctl[CTL_DMA_SEQ / 4], 1, __ATOMIC_SEQ_CST);
  end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
  while (__atomic_load_n(&ctl[CTL_DMA_ACK / 4], __ATOMIC_ACQUIRE) != seq && now_ns(CLOCK_MONOTONIC) < end) usleep(100);

  printf("{\"driver\":\"native\",\"qd\":%u,\"queues\":%d,\"ios\":%llu,\"wallNs\":%llu,\"cpuNs\":%llu,\"polls\":%llu,\"emptyPolls\":%llu,\"emptyPollNs\":%.2f,\"busyNs\":%llu,\"clockNs\":%.2f,\"errors\":%llu}\n",
         qd, nq, (unsigned long long)ios, (unsigned long long)(w1 - w0), (unsigned long long)(c1 - c0), (unsigned long long)polls,
         (unsigned long long)empty, (double)(e1 - e0) / (double)cal, (unsigned long long)busy, clock_ns + (double)(sink & 0), (unsigned long long)(errors + found));
  return errors ? 1 : 0;
}
