/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vs_port_del() and vs_port_move() (lib/switch/vs_port.c), deterministic: no
 * worker thread runs; this thread plays worker lcore 2's rounds (the switch's own
 * lcore_round(): vs_switch.c is included for it) while a helper thread deletes.
 *  - a packet queued for a deleted guest is not delivered to the guest that got
 *    its port slot next (a positive control shows delivery there works);
 *  - a CID added and deleted many more times than the CID table holds entries
 *    (the table's key slots are given back after each grace period);
 *  - a port that does not run moves to another lcore, one that runs does not;
 *  - nothing leaks: every mbuf is back in the pool.
 */

#include <pthread.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>

/* The worker's round, lcore_round(), is static: take the whole file in. */
#include "vs_switch.c"
#include "unit.h"

#define QSIZE 16
#define MEM (64u * 1024)
#define GPA0 0x40000000ULL
#define OFF_DESC(q) ((q) * 0x400u)
#define OFF_AVAIL(q) (0x800u + (q) * 0x200u)
#define OFF_USED(q) (0xc00u + (q) * 0x400u)
#define OFF_RX 0x2000u
#define RX_BUF 2048u
#define W 2 /* the worker lcore every port here belongs to */

struct fake {
	struct vs_port *port;
	uint8_t *mem;
};

static int
op_notify(void *drv __rte_unused, uint16_t qid __rte_unused)
{
	return 0;
}

static void
op_sync(void *drv __rte_unused, const uint16_t a[2] __rte_unused,
	const uint16_t u[2] __rte_unused)
{
}

static const struct vs_port_ops ops = { .notify = op_notify, .sync_bases = op_sync };

static struct vring_used *
rx_used(struct fake *f)
{
	return (struct vring_used *)(f->mem + OFF_USED(VSOCK_VQ_RX));
}

/* Start @f's rings (one memory region) with @nrx rx buffers posted. */
static int
fake_start(struct fake *f, uint16_t nrx)
{
	struct vs_port_rings r;
	struct vring_desc *d;
	struct vring_avail *a;
	uint16_t i;
	int q;

	f->mem = calloc(1, MEM);
	if (f->mem == NULL)
		return -ENOMEM;
	memset(&r, 0, sizeof(r));
	r.mem.nregions = 1;
	r.mem.regions[0] = (struct virtq_region){ GPA0, MEM, (uintptr_t)f->mem };
	for (q = 0; q < 2; q++) {
		r.desc[q] = (struct vring_desc *)(f->mem + OFF_DESC(q));
		r.avail[q] = (struct vring_avail *)(f->mem + OFF_AVAIL(q));
		r.used[q] = (struct vring_used *)(f->mem + OFF_USED(q));
		r.size[q] = QSIZE;
	}
	d = r.desc[VSOCK_VQ_RX];
	a = r.avail[VSOCK_VQ_RX];
	for (i = 0; i < nrx; i++) {
		d[i] = (struct vring_desc){ GPA0 + OFF_RX + i * RX_BUF, RX_BUF, VRING_DESC_F_WRITE,
					    0 };
		a->ring[i] = i;
	}
	__atomic_store_n(&a->idx, nrx, __ATOMIC_RELEASE);
	vs_port_set_connected(f->port, true);
	return vs_port_start(f->port, &r);
}

static void
fake_free(struct fake *f)
{
	free(f->mem);
	f->mem = NULL;
}

/* vs_port_del() on a helper thread while this one plays the owner's rounds. */
struct del_job {
	struct vs_port *port;
	int ret;
	int done;
};

static void *
del_main(void *arg)
{
	struct del_job *j = arg;

	j->ret = vs_port_del(j->port);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int
del_with_rounds(struct vs_port *p)
{
	struct del_job j = { .port = p };
	pthread_t t;
	unsigned int rounds = 0;

	if (pthread_create(&t, NULL, del_main, &j) != 0)
		return -EAGAIN;
	while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE) && rounds++ < 10000000)
		lcore_round(vs_sw.lcores[W]);
	pthread_join(t, NULL);
	return j.ret;
}

/* A packet from CID 3 to @dst_cid, addressed (slot and uid) to port @to. */
static struct rte_mbuf *
pkt_for(struct vs_port *to, uint64_t dst_cid, uint16_t op)
{
	struct vsock_hdr h = {
		.src_cid = 3,
		.dst_cid = dst_cid,
		.src_port = 1000,
		.dst_port = 2000,
		.len = op == VSOCK_OP_RW ? 5 : 0,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
	};
	struct rte_mbuf *m = vs_pkt_alloc(&h, "hello");

	if (m != NULL)
		vs_mbuf_address(m, to, NULL);
	return m;
}

static void
test_stale_slot(void)
{
	struct fake a = { 0 }, b = { 0 };
	struct rte_mbuf *stale, *good;
	uint16_t slot;

	unit_group("a packet for a deleted guest never reaches its slot's next guest");
	a.port = vs_port_add(10, W, &ops, &a);
	UNIT_REQUIRE(a.port != NULL);
	UNIT_CHECK_EQ(fake_start(&a, 4), 0);
	lcore_round(vs_sw.lcores[W]);
	slot = a.port->index;
	/* Queued for guest 10, still in a ring when 10 goes (a REQUEST: the new
	 * guest would have to answer it). */
	stale = pkt_for(a.port, 10, VSOCK_OP_REQUEST);
	UNIT_REQUIRE(stale != NULL);
	UNIT_CHECK_EQ(del_with_rounds(a.port), 0);
	fake_free(&a);
	UNIT_CHECK(vs_port_lookup(10) == NULL);

	b.port = vs_port_add(11, W, &ops, &b);
	UNIT_REQUIRE(b.port != NULL);
	UNIT_CHECK_EQ(b.port->index, slot); /* the slot is reused */
	UNIT_CHECK_EQ(fake_start(&b, 4), 0);
	lcore_round(vs_sw.lcores[W]);
	UNIT_CHECK(vs_port_live(b.port));
	UNIT_CHECK_EQ(rte_ring_enqueue(vs_sw.lcores[W]->in, stale), 0);
	lcore_round(vs_sw.lcores[W]);
	UNIT_CHECK_EQ(__atomic_load_n(&rx_used(&b)->idx, __ATOMIC_ACQUIRE), 0);
	UNIT_CHECK_EQ(b.port->stats.rx_pkts, 0);

	/* Positive control: the same path delivers a packet that is B's. */
	good = pkt_for(b.port, 11, VSOCK_OP_RST);
	UNIT_REQUIRE(good != NULL);
	UNIT_CHECK_EQ(rte_ring_enqueue(vs_sw.lcores[W]->in, good), 0);
	lcore_round(vs_sw.lcores[W]);
	UNIT_CHECK_EQ(__atomic_load_n(&rx_used(&b)->idx, __ATOMIC_ACQUIRE), 1);
	UNIT_CHECK_EQ(b.port->stats.rx_pkts, 1);

	UNIT_CHECK_EQ(del_with_rounds(b.port), 0);
	fake_free(&b);
}

static void
test_cid_reuse(void)
{
	unsigned int i, n = 4 * VS_MAX_GUESTS + 8, fails = 0;

	unit_group("a CID added and deleted again and again");
	for (i = 0; i < n; i++) {
		struct vs_port *p = vs_port_add(20, W, &ops, NULL);

		if (p == NULL || del_with_rounds(p) != 0) {
			fails++;
			break;
		}
	}
	UNIT_CHECK_EQ(fails, 0);
	UNIT_CHECK_EQ(i, n);
	UNIT_CHECK_EQ(vs_sw.lcores[W]->nports, 0);
}

static void
test_move(void)
{
	struct fake c = { 0 };

	unit_group("a port that does not run moves");
	c.port = vs_port_add(30, 1, &ops, &c);
	UNIT_REQUIRE(c.port != NULL);
	UNIT_CHECK_EQ(vs_port_lcore(c.port), 1u);
	UNIT_CHECK_EQ(vs_port_move(c.port, W), 0);
	UNIT_CHECK_EQ(vs_port_lcore(c.port), (unsigned int)W);
	UNIT_CHECK_EQ(vs_sw.lcores[1]->nports, 0);
	UNIT_CHECK_EQ(vs_sw.lcores[W]->nports, 1);
	UNIT_CHECK(vs_sw.lcores[W]->ports[0] == c.port);
	UNIT_CHECK_EQ(vs_port_move(c.port, 77), -EINVAL);
	UNIT_CHECK_EQ(fake_start(&c, 2), 0);
	UNIT_CHECK_EQ(vs_port_move(c.port, 1), -EBUSY);
	lcore_round(vs_sw.lcores[W]);
	UNIT_CHECK(vs_port_live(c.port));
	UNIT_CHECK_EQ(del_with_rounds(c.port), 0);
	fake_free(&c);
	UNIT_CHECK_EQ(vs_port_del(NULL), -EINVAL);
}

int
main(int argc __rte_unused, char **argv)
{
	char prefix[64];
	char *eal[] = {
		argv[0], (char *)"--no-huge", (char *)"-m", (char *)"128", (char *)"--no-pci",
		(char *)"--no-telemetry", (char *)"--lcores", (char *)"(0-2)@0",
		(char *)"--file-prefix", prefix, (char *)"--log-level=lib.*:error",
		(char *)"--log-level=vsock.*:warning",
	};
	struct vs_switch_conf conf = {
		.max_flows_per_lcore = 64,
		.backlog_pkts = 16,
		.backlog_bytes = 65536,
		.nb_mbufs = 1024,
		.ring_size = 64,
	};

	unit_start(argv[0]);
	snprintf(prefix, sizeof(prefix), "unit_port_del_%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		printf("EAL init failed\n");
		return 1;
	}
	if (vs_switch_init(&conf) != 0) {
		printf("switch init failed\n");
		return 1;
	}
	test_stale_slot();
	test_cid_reuse();
	test_move();
	unit_group("nothing leaks");
	UNIT_CHECK_EQ(rte_mempool_in_use_count(vs_sw.pool), 0);
	vs_switch_fini();
	rte_eal_cleanup();
	return unit_done();
}
