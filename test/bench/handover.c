/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vs-handover-bench: two ways to hand a packet's payload from the sender's lcore
 * to a receiver's lcore (a micro-benchmark of the mechanism, not of the switch).
 *
 *   copy   what the switch does: the sender's lcore copies the payload out of
 *          the guest's tx buffer into pool mbufs (4 KiB data rooms), the tx
 *          descriptor is completed at once, the mbufs go through an rte_ring,
 *          the receiver's lcore copies them into the rx buffer and frees them.
 *          Two copies per byte.
 *   zc     zero-copy: the sender's lcore attaches mbufs to the guest's tx buffer
 *          itself (rte_pktmbuf_attach_extbuf(), one per 4 KiB: buf_len is 16
 *          bits), the ring, the receiver copies into the rx buffer and frees
 *          them; the last free calls back and puts a completion on a second
 *          ring; the sender's lcore completes the tx descriptor when it reads
 *          it. One copy per byte, a completion per packet, and the tx buffer is
 *          held until the receiver is done: at most as many packets in flight
 *          as the tx ring has buffers (128 here).
 *
 * The sender runs on lcore 0, the receiver on lcore 1 (the machine's two CPUs):
 * every payload line crosses cores once either way. Baseline in the same run:
 * the receiver's copy alone (slot -> rx buffer on one core). Sizes 64 B,
 * 4 KiB, 64 KiB; MB/s of payload delivered, median of --runs.
 *
 * Usage: vs-handover-bench [--runs N] [--duration S] [--smoke]
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#define SLOTS 128 /* tx buffers of the "guest": the tx ring */
#define SLOT_SIZE 65536
#define RX_BUFS 128
#define SEG 4096
#define BURST 32
#define MAX_RUNS 15

enum mode { M_COPY, M_ZC, M_BASE };

struct bench {
	enum mode mode;
	uint32_t size;
	uint64_t cycles; /* measurement window */
	uint8_t *slots; /* the sender guest's tx buffers */
	uint8_t *rx; /* the receiver guest's rx buffers */
	struct rte_mempool *pool;
	struct rte_ring *to_rx; /* mbufs, sender -> receiver */
	struct rte_ring *done; /* zero-copy completions (slot ids), receiver -> sender */
	struct rte_mbuf_ext_shared_info shinfo[SLOTS];
	volatile int go;
	volatile int stop;
	uint64_t delivered; /* bytes the receiver copied */
	uint64_t completed; /* tx descriptors completed */
	uint64_t check; /* a byte of every packet, so no copy is optimised away */
};

static struct bench b;

static void
zc_free(void *addr, void *opaque)
{
	uintptr_t slot = (uintptr_t)opaque;

	RTE_SET_USED(addr);
	/* Freed by the receiver, or by the sender when the ring was full: two
	 * producers. The ring holds every slot: it never fills. */
	rte_ring_mp_enqueue(b.done, (void *)slot);
}

/* One packet of slot @s as an mbuf chain, copied or attached. */
static struct rte_mbuf *
make_pkt(unsigned int s)
{
	struct rte_mbuf *segs[SLOT_SIZE / SEG];
	uint8_t *src = b.slots + (size_t)s * SLOT_SIZE;
	unsigned int n = (b.size + SEG - 1) / SEG, i;

	if (rte_pktmbuf_alloc_bulk(b.pool, segs, n) != 0)
		return NULL;
	if (b.mode == M_ZC)
		rte_mbuf_ext_refcnt_set(&b.shinfo[s], (uint16_t)n);
	for (i = 0; i < n; i++) {
		uint32_t len = RTE_MIN((uint32_t)SEG, b.size - i * SEG);

		if (b.mode == M_ZC) {
			rte_pktmbuf_attach_extbuf(segs[i], src + i * SEG, 0, (uint16_t)SEG,
						  &b.shinfo[s]);
			segs[i]->data_off = 0;
		} else {
			memcpy(rte_pktmbuf_mtod(segs[i], void *), src + i * SEG, len);
		}
		segs[i]->data_len = (uint16_t)len;
		if (i > 0)
			segs[i - 1]->next = segs[i];
	}
	segs[0]->nb_segs = (uint16_t)n;
	segs[0]->pkt_len = b.size;
	return segs[0];
}

static int
sender(void *arg)
{
	unsigned int next = 0, inflight = 0, i, n;
	struct rte_mbuf *m[BURST];
	void *c[BURST];

	RTE_SET_USED(arg);
	while (!b.go)
		rte_pause();
	while (!b.stop) {
		if (b.mode == M_ZC) {
			n = rte_ring_sc_dequeue_burst(b.done, c, BURST, NULL);
			inflight -= n;
			b.completed += n;
		}
		for (i = 0; i < BURST; i++) {
			if (b.mode == M_ZC && inflight == SLOTS)
				break;
			m[i] = make_pkt(next);
			if (m[i] == NULL)
				break;
			next = (next + 1) % SLOTS;
			inflight += b.mode == M_ZC;
		}
		n = rte_ring_sp_enqueue_burst(b.to_rx, (void **)m, i, NULL);
		if (b.mode == M_COPY)
			b.completed += n;
		/* What the ring did not take goes back (zero-copy: completes). */
		for (; n < i; n++)
			rte_pktmbuf_free(m[n]);
	}
	return 0;
}

static int
receiver(void *arg)
{
	struct rte_mbuf *m[BURST];
	unsigned int n, i, rxi = 0;
	uint64_t t0, bytes = 0, check = 0;

	RTE_SET_USED(arg);
	b.go = 1;
	t0 = rte_rdtsc();
	while (rte_rdtsc() - t0 < b.cycles) {
		n = rte_ring_sc_dequeue_burst(b.to_rx, (void **)m, BURST, NULL);
		for (i = 0; i < n; i++) {
			uint8_t *dst = b.rx + (size_t)(rxi++ % RX_BUFS) * SLOT_SIZE;
			struct rte_mbuf *s;
			uint32_t off = 0;

			for (s = m[i]; s != NULL; s = s->next) {
				memcpy(dst + off, rte_pktmbuf_mtod(s, void *), s->data_len);
				off += s->data_len;
			}
			check += dst[off - 1];
			bytes += off;
			rte_pktmbuf_free(m[i]);
		}
	}
	b.stop = 1;
	b.delivered = bytes;
	b.check += check;
	return 0;
}

/* Baseline: the receiver's copy alone, slot -> rx buffer, on one core. */
static double
baseline(uint32_t size, uint64_t cycles)
{
	uint64_t t0 = rte_rdtsc(), bytes = 0, k = 0;

	while (rte_rdtsc() - t0 < cycles) {
		memcpy(b.rx + (k % RX_BUFS) * SLOT_SIZE, b.slots + (k % SLOTS) * SLOT_SIZE, size);
		b.check += b.rx[(k % RX_BUFS) * SLOT_SIZE + size - 1];
		bytes += size;
		k++;
	}
	return (double)bytes / ((double)(rte_rdtsc() - t0) / rte_get_tsc_hz()) / 1e6;
}

static double
run(enum mode mode, uint32_t size, uint64_t cycles)
{
	unsigned int rx_lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
	struct rte_mbuf *m;
	void *c;

	b.mode = mode;
	b.size = size;
	b.cycles = cycles;
	b.go = 0;
	b.stop = 0;
	b.delivered = 0;
	b.completed = 0;
	rte_eal_remote_launch(receiver, NULL, rx_lcore);
	sender(NULL);
	rte_eal_wait_lcore(rx_lcore);
	while (rte_ring_dequeue(b.to_rx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(b.done, &c) == 0)
		;
	return (double)b.delivered / ((double)cycles / rte_get_tsc_hz()) / 1e6;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

int
main(int argc, char **argv)
{
	char prefix[64], *eal[] = { argv[0], "--no-huge", "-m", "256", "-l", "0-1", "--no-pci",
				    "--log-level=lib.*:warning", "--file-prefix", prefix };
	static const uint32_t sizes[] = { 64, 4096, 65536 };
	static const struct option lo[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "smoke", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int runs = 5, r, z, md;
	double duration = 0.5;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runs = (unsigned int)strtoul(optarg, NULL, 0);
			if (runs < 1 || runs > MAX_RUNS)
				runs = 5;
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			if (duration <= 0 || duration > 10)
				duration = 0.5;
			break;
		case 's':
			runs = 1;
			duration = 0.05;
			break;
		default:
			printf("Usage: %s [--runs N] [--duration S] [--smoke]\n", argv[0]);
			return opt == 'h' ? 0 : 1;
		}
	}
	snprintf(prefix, sizeof(prefix), "vs-handover-bench-%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0 || rte_lcore_count() < 2) {
		fprintf(stderr, "EAL initialisation failed (needs two CPUs: -l 0-1)\n");
		return 1;
	}
	b.slots = rte_malloc(NULL, (size_t)SLOTS * SLOT_SIZE, 64);
	b.rx = rte_malloc(NULL, (size_t)RX_BUFS * SLOT_SIZE, 64);
	b.pool = rte_pktmbuf_pool_create("hb_pool", 16383, 256, 0, RTE_PKTMBUF_HEADROOM + SEG,
					 0);
	b.to_rx = rte_ring_create("hb_to_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	b.done = rte_ring_create("hb_done", SLOTS * 2, 0, RING_F_SC_DEQ);
	if (b.slots == NULL || b.rx == NULL || b.pool == NULL || b.to_rx == NULL ||
	    b.done == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	memset(b.slots, 0x5a, (size_t)SLOTS * SLOT_SIZE);
	memset(b.rx, 0, (size_t)RX_BUFS * SLOT_SIZE);
	for (r = 0; r < SLOTS; r++) {
		b.shinfo[r].free_cb = zc_free;
		b.shinfo[r].fcb_opaque = (void *)(uintptr_t)r;
	}
	printf("%-8s %-10s %28s %18s\n", "size", "handover", "MB/s: median [min-max]",
	       "x receiver copy");
	for (z = 0; z < RTE_DIM(sizes); z++) {
		uint64_t cycles = (uint64_t)(duration * rte_get_tsc_hz());
		double v[3][MAX_RUNS], ratio[3][MAX_RUNS];

		for (r = 0; r < runs; r++) {
			double base = baseline(sizes[z], cycles);

			v[M_BASE][r] = base;
			v[M_COPY][r] = run(M_COPY, sizes[z], cycles);
			v[M_ZC][r] = run(M_ZC, sizes[z], cycles);
			for (md = 0; md < 3; md++)
				ratio[md][r] = v[md][r] / base;
			if (v[M_COPY][r] <= 0 || v[M_ZC][r] <= 0) {
				fprintf(stderr, "%u B: nothing delivered\n", sizes[z]);
				return 1;
			}
		}
		for (md = 0; md < 3; md++) {
			static const char *const names[] = { "copy", "zero-copy", "rx copy" };

			qsort(v[md], runs, sizeof(double), cmp_double);
			qsort(ratio[md], runs, sizeof(double), cmp_double);
			printf("%-8u %-10s %12.1f [%.1f-%.1f] %10.3f [%.3f-%.3f]\n", sizes[z],
			       names[md], v[md][runs / 2], v[md][0], v[md][runs - 1],
			       ratio[md][runs / 2], ratio[md][0], ratio[md][runs - 1]);
		}
	}
	printf("(check %" PRIu64 ")\n", b.check & 1);
	rte_ring_free(b.to_rx);
	rte_ring_free(b.done);
	rte_mempool_free(b.pool);
	rte_free(b.slots);
	rte_free(b.rx);
	rte_eal_cleanup();
	return 0;
}
