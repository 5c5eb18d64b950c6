/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Unit tests of lib/flow: the per-lcore connection table, with and without an
 * RCU QSBR variable for its readers. Runs a minimal EAL (no hugepages, no PCI).
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "vs_flow.h"
#include "unit.h"

#define MAX_FLOWS 100
#define RCU_THREAD 0
/* Keys that share one bucket pair, to push the table into its extra buckets. */
#define NCOLLIDE 24

static struct vs_flow *added[MAX_FLOWS];
static unsigned int nadded; /* entries of added[] that fill() set */

static struct vs_flow_key
make_key(uint32_t i)
{
	struct vs_flow_key k;

	memset(&k, 0, sizeof(k));
	k.local_cid = 3 + i % 7;
	k.peer_cid = 1000 + (uint64_t)i * 3;
	k.local_port = 0x10000 + i;
	k.peer_port = i * 31 + 1;
	return k;
}

static bool
key_equal(const struct vs_flow_key *a, const struct vs_flow_key *b)
{
	return a->local_cid == b->local_cid && a->peer_cid == b->peer_cid &&
	       a->local_port == b->local_port && a->peer_port == b->peer_port;
}

static unsigned int scan_calls;

static void
scan_count(struct vs_flow *f, void *arg)
{
	(void)arg;
	if (f->live)
		scan_calls++;
}

static void
scan_delete(struct vs_flow *f, void *arg)
{
	vs_flow_del(arg, f);
}

static bool
flow_zeroed(const struct vs_flow *f)
{
	return f->state == 0 && f->type == 0 && f->outgoing == 0 && f->shutdown == 0 &&
	       f->tx_pkts == 0 && f->tx_bytes == 0;
}

/* Walk the table; return how many flows, and fail if one shows up twice. */
static unsigned int
walk(const struct vs_flow_table *t, bool *dup)
{
	const struct vs_flow *seen[MAX_FLOWS + 1];
	struct vs_flow *f;
	uint32_t next = 0;
	unsigned int n = 0, i;

	*dup = false;
	while ((f = vs_flow_next(t, &next)) != NULL && n <= MAX_FLOWS) {
		for (i = 0; i < n; i++)
			if (seen[i] == f)
				*dup = true;
		seen[n++] = f;
	}
	return n;
}

static void
test_key_reverse(void)
{
	struct vs_flow_key k = make_key(5), r, rr;

	unit_group("key reverse");
	vs_flow_key_reverse(&k, &r);
	UNIT_CHECK_EQ(r.local_cid, k.peer_cid);
	UNIT_CHECK_EQ(r.peer_cid, k.local_cid);
	UNIT_CHECK_EQ(r.local_port, k.peer_port);
	UNIT_CHECK_EQ(r.peer_port, k.local_port);
	vs_flow_key_reverse(&r, &rr);
	UNIT_CHECK(key_equal(&rr, &k));
	UNIT_CHECK(!key_equal(&r, &k));
	UNIT_CHECK_EQ(sizeof(struct vs_flow_key), 24); /* no padding in the hashed bytes */
}

/* Add, look up, count, walk, delete and re-add a few flows. */
static void
test_basic(struct vs_flow_table *t, const char *group)
{
	struct vs_flow_key k = make_key(1), r, miss = make_key(99);
	struct vs_flow *f, *fr;
	bool dup;

	unit_group(group);
	vs_flow_key_reverse(&k, &r);
	UNIT_CHECK_EQ(vs_flow_count(t), 0);
	UNIT_CHECK(vs_flow_lookup(t, &k) == NULL);
	UNIT_CHECK_EQ(walk(t, &dup), 0);
	f = vs_flow_add(t, &k);
	UNIT_REQUIRE(f != NULL);
	UNIT_CHECK(key_equal(&f->key, &k));
	UNIT_CHECK(flow_zeroed(f));
	f->state = VS_FLOW_CONNECTED;
	f->tx_pkts = 7;
	UNIT_CHECK_PTR(vs_flow_lookup(t, &k), f);
	UNIT_CHECK(vs_flow_lookup(t, &r) == NULL);
	UNIT_CHECK(vs_flow_lookup(t, &miss) == NULL);
	UNIT_CHECK_EQ(vs_flow_count(t), 1);
	/* The other end is another key. */
	fr = vs_flow_add(t, &r);
	UNIT_REQUIRE(fr != NULL);
	UNIT_CHECK(fr != f);
	UNIT_CHECK(flow_zeroed(fr));
	UNIT_CHECK_PTR(vs_flow_lookup(t, &r), fr);
	UNIT_CHECK_PTR(vs_flow_lookup(t, &k), f);
	UNIT_CHECK_EQ(f->tx_pkts, 7);
	UNIT_CHECK_EQ(vs_flow_count(t), 2);
	UNIT_CHECK_EQ(walk(t, &dup), 2);
	UNIT_CHECK(!dup);
	/* Delete one end. */
	vs_flow_del(t, f);
	UNIT_CHECK(vs_flow_lookup(t, &k) == NULL);
	UNIT_CHECK_PTR(vs_flow_lookup(t, &r), fr);
	UNIT_CHECK_EQ(vs_flow_count(t), 1);
	UNIT_CHECK_EQ(walk(t, &dup), 1);
	/* And add it again: a fresh, zeroed flow. */
	f = vs_flow_add(t, &k);
	UNIT_REQUIRE(f != NULL);
	UNIT_CHECK(flow_zeroed(f));
	UNIT_CHECK(key_equal(&f->key, &k));
	UNIT_CHECK_PTR(vs_flow_lookup(t, &k), f);
	UNIT_CHECK_EQ(vs_flow_count(t), 2);
	vs_flow_del(t, f);
	vs_flow_del(t, fr);
	UNIT_CHECK(vs_flow_lookup(t, &k) == NULL);
	UNIT_CHECK(vs_flow_lookup(t, &r) == NULL);
	UNIT_CHECK_EQ(vs_flow_count(t), 0);
	UNIT_CHECK_EQ(walk(t, &dup), 0);
}

static void
test_bulk(struct vs_flow_table *t, const char *group)
{
	struct vs_flow_key keys[VS_FLOW_BULK_MAX];
	const struct vs_flow_key *kp[VS_FLOW_BULK_MAX];
	struct vs_flow *flows[VS_FLOW_BULK_MAX + 1];
	unsigned int i, bad;

	unit_group(group);
	for (i = 0; i < VS_FLOW_BULK_MAX / 2; i++) {
		struct vs_flow_key k = make_key(i);

		added[i] = vs_flow_add(t, &k);
		UNIT_REQUIRE(added[i] != NULL);
	}
	/* Even slots hit, odd slots miss. */
	for (i = 0; i < VS_FLOW_BULK_MAX; i++) {
		keys[i] = make_key(i % 2 == 0 ? i / 2 : 500 + i);
		kp[i] = &keys[i];
	}
	memset(flows, 0xa5, sizeof(flows));
	vs_flow_lookup_bulk(t, kp, VS_FLOW_BULK_MAX, flows);
	for (bad = 0, i = 0; i < VS_FLOW_BULK_MAX; i++)
		if (flows[i] != (i % 2 == 0 ? added[i / 2] : NULL))
			bad++;
	UNIT_CHECK_EQ(bad, 0);
	UNIT_CHECK(flows[VS_FLOW_BULK_MAX] == (struct vs_flow *)(uintptr_t)0xa5a5a5a5a5a5a5a5ULL);
	/* All hits, all misses, one, none. */
	for (i = 0; i < VS_FLOW_BULK_MAX; i++)
		keys[i] = make_key(i % (VS_FLOW_BULK_MAX / 2));
	vs_flow_lookup_bulk(t, kp, VS_FLOW_BULK_MAX, flows);
	for (bad = 0, i = 0; i < VS_FLOW_BULK_MAX; i++)
		if (flows[i] != added[i % (VS_FLOW_BULK_MAX / 2)])
			bad++;
	UNIT_CHECK_EQ(bad, 0);
	for (i = 0; i < VS_FLOW_BULK_MAX; i++)
		keys[i] = make_key(1000 + i);
	vs_flow_lookup_bulk(t, kp, VS_FLOW_BULK_MAX, flows);
	for (bad = 0, i = 0; i < VS_FLOW_BULK_MAX; i++)
		if (flows[i] != NULL)
			bad++;
	UNIT_CHECK_EQ(bad, 0);
	keys[0] = make_key(3);
	flows[1] = (struct vs_flow *)(uintptr_t)1;
	vs_flow_lookup_bulk(t, kp, 1, flows);
	UNIT_CHECK_PTR(flows[0], added[3]);
	UNIT_CHECK_PTR(flows[1], (uintptr_t)1);
	flows[0] = (struct vs_flow *)(uintptr_t)1;
	vs_flow_lookup_bulk(t, kp, 0, flows);
	UNIT_CHECK_PTR(flows[0], (uintptr_t)1);
	for (i = 0; i < VS_FLOW_BULK_MAX / 2; i++)
		vs_flow_del(t, added[i]);
	vs_flow_lookup_bulk(t, kp, 1, flows);
	UNIT_CHECK(flows[0] == NULL);
}

/* Fill the table; check every flow has its own slot and the next add fails. */
static void
fill(struct vs_flow_table *t, uint32_t base)
{
	struct vs_flow_key k;
	unsigned int i, j, n = 0, bad = 0, dup_slot = 0;
	bool dup;

	for (i = 0; i < MAX_FLOWS; i++) {
		k = make_key(base + i);
		added[i] = vs_flow_add(t, &k);
		if (added[i] == NULL)
			break;
		added[i]->tx_pkts = base + i;
		n++;
	}
	nadded = n;
	if (!UNIT_CHECK_EQ(n, MAX_FLOWS))
		return;
	k = make_key(base + MAX_FLOWS);
	UNIT_CHECK(vs_flow_add(t, &k) == NULL);
	UNIT_CHECK_EQ(vs_flow_count(t), MAX_FLOWS);
	for (i = 0; i < MAX_FLOWS; i++) {
		k = make_key(base + i);
		if (vs_flow_lookup(t, &k) != added[i] || added[i]->tx_pkts != base + i ||
		    !key_equal(&added[i]->key, &k))
			bad++;
		for (j = 0; j < i; j++)
			if (added[j] == added[i])
				dup_slot++;
	}
	UNIT_CHECK_EQ(bad, 0);
	UNIT_CHECK_EQ(dup_slot, 0);
	UNIT_CHECK_EQ(walk(t, &dup), MAX_FLOWS);
	UNIT_CHECK(!dup);
}

static void
del_all(struct vs_flow_table *t)
{
	unsigned int i, found = 0;
	bool dup;

	for (i = 0; i < nadded; i++)
		vs_flow_del(t, added[i]);
	for (i = 0; i < nadded; i++) {
		struct vs_flow_key k = added[i]->key;

		if (vs_flow_lookup(t, &k) != NULL)
			found++;
	}
	UNIT_CHECK_EQ(found, 0);
	UNIT_CHECK_EQ(walk(t, &dup), 0);
	UNIT_CHECK_EQ(vs_flow_count(t), 0);
}

static void
test_fill_no_rcu(struct vs_flow_table *t)
{
	unit_group("no RCU: fill, full, delete all, refill");
	fill(t, 0);
	del_all(t);
	/* No readers to wait for: the slots are free again at once. */
	fill(t, 1000);
	del_all(t);
}

static void
test_fill_rcu(struct vs_flow_table *t, struct rte_rcu_qsbr *qsv)
{
	struct vs_flow_key k;
	struct vs_flow *old, *f;
	unsigned int i, reused = 0;

	unit_group("RCU: slots come back after quiescence");
	fill(t, 0);
	del_all(t);
	/* Readers may still hold the deleted flows: nothing is reused yet... */
	k = make_key(5000);
	UNIT_CHECK(vs_flow_add(t, &k) == NULL);
	for (i = 0; i < nadded; i++)
		if (added[i]->tx_pkts != i)
			reused++;
	UNIT_CHECK_EQ(reused, 0);
	/* ...until they pass a quiescent state. */
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
	fill(t, 1000);
	del_all(t);
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);

	unit_group("RCU: deleted slot not reused before quiescence");
	k = make_key(1);
	old = vs_flow_add(t, &k);
	UNIT_REQUIRE(old != NULL);
	old->tx_pkts = 77;
	vs_flow_del(t, old);
	UNIT_CHECK(vs_flow_lookup(t, &k) == NULL);
	for (i = 0; i < MAX_FLOWS - 1; i++) {
		struct vs_flow_key k2 = make_key(2000 + i);

		f = vs_flow_add(t, &k2);
		if (f == old)
			reused++;
	}
	f = vs_flow_add(t, &k); /* the deleted key again */
	UNIT_CHECK(f == NULL || f != old);
	UNIT_CHECK_EQ(reused, 0);
	UNIT_CHECK_EQ(old->tx_pkts, 77);
	UNIT_CHECK(key_equal(&old->key, &k));
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
	/* After quiescence the key can come back (into the reclaimed slot if full). */
	if (f == NULL)
		f = vs_flow_add(t, &k);
	UNIT_CHECK(f != NULL);
	if (f != NULL)
		UNIT_CHECK(flow_zeroed(f));
	for (i = 0; i < MAX_FLOWS - 1; i++) {
		struct vs_flow_key k2 = make_key(2000 + i);
		struct vs_flow *g = vs_flow_lookup(t, &k2);

		if (g != NULL)
			vs_flow_del(t, g);
	}
	if (f != NULL)
		vs_flow_del(t, f);
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
	UNIT_CHECK_EQ(vs_flow_count(t), 0);
}

/*
 * Keys whose hashes all fall in bucket pair (0, 1) of a table of MAX_FLOWS:
 * more than two buckets hold, so some live in the extendable buckets.
 */
static unsigned int
colliding_keys(struct vs_flow_key *keys, unsigned int n)
{
	uint32_t nbuckets = rte_align32pow2(MAX_FLOWS) / 8, i, found = 0;

	for (i = 0; i < 10000000 && found < n; i++) {
		struct vs_flow_key k = make_key(i);
		uint32_t sig = rte_hash_crc(&k, sizeof(k), 0);

		if ((sig & (nbuckets - 1)) == 0 && ((sig >> 16) & (nbuckets - 1)) == 1)
			keys[found++] = k;
	}
	return found;
}

/* vs_flow_reset_port() deletes the flows it walks over: every one must go. */
static void
test_delete_while_walking(struct vs_flow_table *t, struct rte_rcu_qsbr *qsv,
			  const char *group)
{
	struct vs_flow_key keys[NCOLLIDE];
	struct vs_flow *f;
	uint32_t next = 0;
	unsigned int i, hits = 0, walked = 0, left = 0;
	bool dup;

	unit_group(group);
	UNIT_REQUIRE(colliding_keys(keys, NCOLLIDE) == NCOLLIDE);
	for (i = 0; i < NCOLLIDE; i++)
		UNIT_REQUIRE(vs_flow_add(t, &keys[i]) != NULL);
	for (i = 0; i < NCOLLIDE; i++)
		if (vs_flow_lookup(t, &keys[i]) != NULL)
			hits++;
	UNIT_CHECK_EQ(hits, NCOLLIDE);
	UNIT_CHECK_EQ(walk(t, &dup), NCOLLIDE);
	UNIT_CHECK(!dup);
	while ((f = vs_flow_next(t, &next)) != NULL && walked < 2 * NCOLLIDE) {
		vs_flow_del(t, f);
		walked++;
	}
	for (i = 0; i < NCOLLIDE; i++) {
		f = vs_flow_lookup(t, &keys[i]);
		if (f != NULL) {
			left++;
			vs_flow_del(t, f);
		}
	}
	if (!UNIT_CHECK_EQ(left, 0))
		fprintf(stderr, "  walked %u of %u flows while deleting them\n", walked,
			NCOLLIDE);
	UNIT_CHECK_EQ(walked, NCOLLIDE);
	if (qsv != NULL)
		rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
}

/* A check with a message for the reader of the source (UNIT_CHECK prints the condition). */
#define CHK(cond, ...) UNIT_CHECK(cond)

/* Credit arithmetic (vs_credit_* in vs_flow.h): what a receiver's headers allow. */
static void
test_credit(void)
{
	struct vs_credit c = { 0 };

	unit_group("credit arithmetic");

	CHK(vs_credit_allows(&c, 0, 0), "no grant yet: an empty RW may go");
	CHK(!vs_credit_allows(&c, 0, 1), "no grant yet: no data");
	vs_credit_grant(&c, 1000, 0);
	CHK(vs_credit_allows(&c, 0, 1000), "buf_alloc 1000: 1000 bytes fit");
	CHK(!vs_credit_allows(&c, 0, 1001), "but not 1001");
	CHK(!vs_credit_allows(&c, 600, 401), "600 in flight: 401 more do not fit");
	CHK(vs_credit_allows(&c, 600, 400), "400 more do");
	CHK(vs_credit_in_flight(&c, 600) == 600, "600 in flight");
	vs_credit_grant(&c, 1000, 500);
	CHK(vs_credit_in_flight(&c, 1000) == 500, "fwd_cnt 500: 500 of 1000 in flight");
	CHK(vs_credit_allows(&c, 1000, 500) && !vs_credit_allows(&c, 1000, 501),
		   "fwd_cnt 500: the edge is at 1500");
	/* Shrinking: the old edge (1500) holds until fwd_cnt passes it. */
	vs_credit_grant(&c, 100, 600);
	CHK(c.limit == 900, "buf_alloc 100 at fwd_cnt 600: the old edge stays (limit %u)",
		   c.limit);
	CHK(vs_credit_allows(&c, 1000, 500) && !vs_credit_allows(&c, 1000, 501),
		   "after a shrink the sender may still fill the old grant");
	vs_credit_grant(&c, 100, 1500);
	CHK(c.limit == 100, "once fwd_cnt reaches the old edge the new size counts (%u)",
		   c.limit);
	/* Growing takes effect at once. */
	vs_credit_grant(&c, 5000, 1500);
	CHK(vs_credit_allows(&c, 1500, 5000) && !vs_credit_allows(&c, 1500, 5001),
		   "a larger buf_alloc counts at once");
	/* Wrap-around of the 32-bit counters. */
	c = (struct vs_credit){ 0 };
	vs_credit_grant(&c, 65536, UINT32_MAX - 100);
	CHK(vs_credit_in_flight(&c, (uint64_t)UINT32_MAX + 1000) == 1100,
		   "in flight across the 2^32 wrap (%u)",
		   vs_credit_in_flight(&c, (uint64_t)UINT32_MAX + 1000));
	CHK(vs_credit_allows(&c, (uint64_t)UINT32_MAX + 1000, 65536 - 1100) &&
		   !vs_credit_allows(&c, (uint64_t)UINT32_MAX + 1000, 65536 - 1099),
		   "credit across the wrap");
	vs_credit_grant(&c, 65536, 2000);
	CHK(c.limit == 65536 && c.fwd_cnt == 2000, "fwd_cnt moving across the wrap");
	/* A fwd_cnt that goes backwards: the receiver's own loss. */
	vs_credit_grant(&c, 65536, 1000);
	CHK(c.limit == 65536 && vs_credit_in_flight(&c, (uint64_t)UINT32_MAX + 2001) == 1000,
		   "fwd_cnt backwards: restarts from the header's values");
	/* The largest buf_alloc. */
	c = (struct vs_credit){ 0 };
	vs_credit_grant(&c, UINT32_MAX, 0);
	CHK(vs_credit_allows(&c, 0, 65536) && vs_credit_allows(&c, UINT32_MAX - 65536, 65536),
		   "buf_alloc 2^32-1: everything up to it fits");
}

/* vs_flow_scan visits every live flow once per pass, and none that was deleted. */
static void
test_scan(struct vs_flow_table *t)
{
	struct vs_flow_key k;
	struct vs_flow *f[10];
	uint32_t cursor = 0, n = vs_flow_slots(t), i, seen = 0;

	unit_group("scan: the owner's sweep over slots");

	for (i = 0; i < 10; i++) {
		k = make_key(500 + i);
		f[i] = vs_flow_add(t, &k);
		CHK(f[i] != NULL && f[i]->live, "scan: flow %u added and live", i);
	}
	vs_flow_del(t, f[3]);
	CHK(!f[3]->live, "scan: a deleted flow is not live");
	seen = vs_flow_scan(t, &cursor, n, scan_count, NULL);
	CHK(seen == 9 && scan_calls == 9, "scan: one pass sees the 9 live flows (%u)", seen);
	scan_calls = 0;
	seen = 0;
	for (i = 0; i < n; i += 7)
		seen += vs_flow_scan(t, &cursor, RTE_MIN(7u, n - i), scan_count, NULL);
	CHK(seen == 9, "scan: a pass in steps of 7 slots sees them too (%u)", seen);
	scan_calls = 0;
	cursor = 0;
	vs_flow_scan(t, &cursor, n, scan_delete, t);
	CHK(vs_flow_count(t) == 0, "scan: the callback may delete (%u left)",
		   vs_flow_count(t));
}

static void
test_create(void)
{
	struct vs_flow_table *t, *t2;

	unit_group("create / free");
	t = vs_flow_table_create("unit_flow_dup", 16, SOCKET_ID_ANY, NULL);
	UNIT_CHECK(t != NULL);
	fprintf(stderr, "(the RING/HASH errors next are expected: a duplicate name)\n");
	t2 = vs_flow_table_create("unit_flow_dup", 16, SOCKET_ID_ANY, NULL);
	UNIT_CHECK(t2 == NULL);
	vs_flow_table_free(t2);
	vs_flow_table_free(t);
	vs_flow_table_free(NULL);
	/* The name is free again. */
	t = vs_flow_table_create("unit_flow_dup", 16, SOCKET_ID_ANY, NULL);
	UNIT_CHECK(t != NULL);
	vs_flow_table_free(t);
}

int
main(int argc, char **argv)
{
	char *eal_args[] = {
		argc > 0 ? argv[0] : (char *)"unit-flow",
		(char *)"--no-huge", (char *)"-m", (char *)"128", (char *)"--no-pci",
		(char *)"--file-prefix", (char *)"unit_flow",
		(char *)"--no-telemetry", (char *)"-l", (char *)"0",
		(char *)"--log-level=lib.*:error",
	};
	struct vs_flow_table *t_plain, *t_rcu, *t_scan;
	struct rte_rcu_qsbr *qsv;
	size_t sz;
	int rc;

	unit_start("unit-flow");
	unit_group("EAL and tables");
	rc = rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args);
	UNIT_REQUIRE(rc >= 0);
	sz = rte_rcu_qsbr_get_memsize(1);
	qsv = rte_zmalloc("unit_flow_qsv", sz, RTE_CACHE_LINE_SIZE);
	UNIT_REQUIRE(qsv != NULL);
	UNIT_REQUIRE(rte_rcu_qsbr_init(qsv, 1) == 0);
	UNIT_REQUIRE(rte_rcu_qsbr_thread_register(qsv, RCU_THREAD) == 0);
	rte_rcu_qsbr_thread_online(qsv, RCU_THREAD);
	t_plain = vs_flow_table_create("unit_flow_plain", MAX_FLOWS, SOCKET_ID_ANY, NULL);
	UNIT_REQUIRE(t_plain != NULL);
	t_rcu = vs_flow_table_create("unit_flow_rcu", MAX_FLOWS, SOCKET_ID_ANY, qsv);
	UNIT_REQUIRE(t_rcu != NULL);

	test_key_reverse();
	test_create();
	test_basic(t_plain, "no RCU: add, lookup, count, walk, delete, re-add");
	test_basic(t_rcu, "RCU: add, lookup, count, walk, delete, re-add");
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
	test_bulk(t_plain, "no RCU: bulk lookup");
	test_bulk(t_rcu, "RCU: bulk lookup");
	rte_rcu_qsbr_quiescent(qsv, RCU_THREAD);
	test_fill_no_rcu(t_plain);
	test_fill_rcu(t_rcu, qsv);
	test_delete_while_walking(t_rcu, qsv, "RCU: delete every flow while walking");
	test_credit();
	t_scan = vs_flow_table_create("unit_flow_scan", MAX_FLOWS, SOCKET_ID_ANY, NULL);
	UNIT_REQUIRE(t_scan != NULL);
	test_scan(t_scan);
	vs_flow_table_free(t_scan);

	vs_flow_table_free(t_plain);
	vs_flow_table_free(t_rcu);
	rte_rcu_qsbr_thread_offline(qsv, RCU_THREAD);
	rte_rcu_qsbr_thread_unregister(qsv, RCU_THREAD);
	rte_free(qsv);
	rte_eal_cleanup();
	return unit_done();
}
