/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vs-flow-bench: what a flow lookup costs per packet (a micro-benchmark, not a
 * test). Fills lib/flow's table, as a worker lcore's, with N connection ends and
 * times, in nanoseconds per key:
 *
 *   bulk hit     vs_flow_lookup_bulk() of bursts of 32 keys that are in the
 *                table, in random order (what vs_tx_poll() does per burst)
 *   bulk miss    the same with keys that are not (new connections, strays)
 *   single hit   vs_flow_lookup() of one key at a time (ingress, resets)
 *   cid          rte_hash_lookup_data() on a 1000-guest CID table (the
 *                per-packet destination lookup of vs_port_by_cid())
 *
 * and, in the same run, two baselines: "line" reads one random 64-byte line of
 * an array as large as the table's entries (what touching one flow entry costs
 * at that size: cache or memory), and "hdr" copies a 44-byte vsock header out of
 * a small array (what reading a packet's header costs once it is in cache).
 * Lookups are reported against "line": a lookup costs a hash, a bucket and a key
 * compare, so a few lines.
 *
 * Usage: vs-flow-bench [--runs N] [--sizes a,b,c] [--smoke]
 * (EAL: --no-huge, 512 MiB, one lcore; nothing else needed.)
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
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "vs_flow.h"

#define BURST 32
#define MAX_RUNS 15
#define CID_GUESTS 1000

enum { M_BULK_HIT, M_BULK_MISS, M_SINGLE_HIT, M_CID, M_LINE, M_HDR, M_MAX };

static const char *const m_names[M_MAX] = {
	[M_BULK_HIT] = "bulk hit", [M_BULK_MISS] = "bulk miss",
	[M_SINGLE_HIT] = "single hit", [M_CID] = "cid (1000)",
	[M_LINE] = "line (baseline)", [M_HDR] = "hdr copy (baseline)",
};

static volatile uint64_t sink;

static uint64_t
rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct vs_flow_key
key_of(uint64_t i, uint64_t salt)
{
	struct vs_flow_key k = {
		.local_cid = 3 + i % 997,
		.peer_cid = 3 + (i * 7 + salt) % 1000003,
		.local_port = (uint32_t)(0x10000 + i),
		.peer_port = (uint32_t)(i * 31 + 1 + salt),
	};

	return k;
}

static double
ns_per(uint64_t cycles, uint64_t n)
{
	return (double)cycles * 1e9 / (double)rte_get_tsc_hz() / (double)n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One measurement of every metric at table size @n; @ops lookups each. */
static int
measure(uint32_t n, uint64_t ops, double out[M_MAX])
{
	struct vs_flow_table *t;
	struct vs_flow_key *keys, *miss;
	const struct vs_flow_key *kp[BURST];
	struct vs_flow *res[BURST];
	struct rte_hash *cids;
	uint8_t *lines, hdr_dst[64];
	uint32_t *order;
	uint64_t s = 88172645463325252ull, i, j, t0, found = 0, acc = 0;
	char name[32];
	int ret = -ENOMEM;
	struct rte_hash_parameters hp = {
		.name = "bench_cids",
		.entries = CID_GUESTS * 2,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = 0,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	snprintf(name, sizeof(name), "bench_%u", n);
	/* Room as the switch leaves it: the table sized for twice its fill. */
	t = vs_flow_table_create(name, n * 2, 0, NULL);
	keys = malloc(sizeof(*keys) * n);
	miss = malloc(sizeof(*miss) * n);
	order = malloc(sizeof(*order) * n);
	lines = malloc((size_t)n * 64 * 2);
	cids = rte_hash_create(&hp);
	if (t == NULL || keys == NULL || miss == NULL || order == NULL || lines == NULL ||
	    cids == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		keys[i] = key_of(i, 0);
		miss[i] = key_of(i, 500009);
		order[i] = (uint32_t)i;
		if (vs_flow_add(t, &keys[i]) == NULL) {
			fprintf(stderr, "table full at %" PRIu64 " of %u\n", i, n);
			ret = -ENOSPC;
			goto out;
		}
	}
	for (i = n - 1; i > 0; i--) { /* random order */
		uint32_t r = (uint32_t)(rng(&s) % (i + 1)), x = order[i];

		order[i] = order[r];
		order[r] = x;
	}
	memset(lines, 1, (size_t)n * 64 * 2);
	for (i = 0; i < CID_GUESTS; i++) {
		uint64_t cid = 3 + i * 17;

		if (rte_hash_add_key_data(cids, &cid, (void *)(uintptr_t)(i + 1)) < 0)
			goto out;
	}

	/* bulk hit */
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i += BURST) {
		for (j = 0; j < BURST; j++)
			kp[j] = &keys[order[(i + j) % n]];
		vs_flow_lookup_bulk(t, kp, BURST, res);
		for (j = 0; j < BURST; j++)
			found += res[j] != NULL;
	}
	out[M_BULK_HIT] = ns_per(rte_rdtsc_precise() - t0, i);
	if (found != i) {
		fprintf(stderr, "bulk lookup found %" PRIu64 " of %" PRIu64 "\n", found, i);
		ret = -EIO;
		goto out;
	}
	/* bulk miss */
	found = 0;
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i += BURST) {
		for (j = 0; j < BURST; j++)
			kp[j] = &miss[order[(i + j) % n]];
		vs_flow_lookup_bulk(t, kp, BURST, res);
		for (j = 0; j < BURST; j++)
			found += res[j] != NULL;
	}
	out[M_BULK_MISS] = ns_per(rte_rdtsc_precise() - t0, i);
	if (found != 0) {
		fprintf(stderr, "bulk lookup found %" PRIu64 " keys never added\n", found);
		ret = -EIO;
		goto out;
	}
	/* single hit */
	found = 0;
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i++)
		found += vs_flow_lookup(t, &keys[order[i % n]]) != NULL;
	out[M_SINGLE_HIT] = ns_per(rte_rdtsc_precise() - t0, ops);
	if (found != ops) {
		ret = -EIO;
		goto out;
	}
	/* CID table */
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i++) {
		uint64_t cid = 3 + (order[i % n] % CID_GUESTS) * 17;
		void *data;

		acc += rte_hash_lookup_data(cids, &cid, &data) >= 0 ? (uintptr_t)data : 0;
	}
	out[M_CID] = ns_per(rte_rdtsc_precise() - t0, ops);
	/* baseline: one random line of an array as large as the table's entries */
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i++)
		acc += lines[(size_t)order[i % n] * 128];
	out[M_LINE] = ns_per(rte_rdtsc_precise() - t0, ops);
	/* baseline: a header copy, from one of 1024 headers (L1/L2, as a burst's) */
	t0 = rte_rdtsc_precise();
	for (i = 0; i < ops; i++) {
		memcpy(hdr_dst, lines + (i * 7 % 1024) * 64, 44);
		__asm__ volatile("" : : "r"(hdr_dst) : "memory");
		acc += hdr_dst[i & 31];
	}
	out[M_HDR] = ns_per(rte_rdtsc_precise() - t0, ops);
	sink = acc;
	ret = 0;
out:
	rte_hash_free(cids);
	vs_flow_table_free(t);
	free(keys);
	free(miss);
	free(order);
	free(lines);
	return ret;
}

static void
usage(const char *prog)
{
	printf("Usage: %s [--runs N] [--sizes N,N,...] [--smoke]\n"
	       "  Nanoseconds per key of the flow table's lookups at each fill (default\n"
	       "  1024,65536,524288 connection ends; 5 runs, median [min-max]), against a\n"
	       "  random cache-line read of an array as large and a 44-byte copy.\n"
	       "  --smoke: one run, small table, for the test suite.\n", prog);
}

int
main(int argc, char **argv)
{
	char prefix[64], *eal[] = { argv[0], "--no-huge", "-m", "512", "-l", "0", "--no-pci",
				    "--log-level=lib.*:warning", "--file-prefix", prefix };
	uint32_t sizes[8] = { 1024, 65536, 524288 };
	unsigned int nsizes = 3, runs = 5, r, z, m;
	uint64_t ops = 4u << 20;
	int opt;
	static const struct option lo[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "sizes", required_argument, NULL, 's' },
		{ "smoke", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runs = (unsigned int)strtoul(optarg, NULL, 0);
			if (runs < 1 || runs > MAX_RUNS) {
				fprintf(stderr, "--runs: 1 .. %d\n", MAX_RUNS);
				return 1;
			}
			break;
		case 's': {
			char *p = optarg, *end;

			for (nsizes = 0; *p != '\0' && nsizes < RTE_DIM(sizes); nsizes++) {
				unsigned long v = strtoul(p, &end, 0);

				if (end == p || v < BURST || v > (4u << 20)) {
					fprintf(stderr, "--sizes: numbers from %d to %u\n", BURST,
						4u << 20);
					return 1;
				}
				sizes[nsizes] = (uint32_t)v;
				p = *end == ',' ? end + 1 : end;
			}
			break;
		}
		case 'k':
			runs = 1;
			sizes[0] = 4096;
			nsizes = 1;
			ops = 1u << 16;
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 1;
		}
	}
	snprintf(prefix, sizeof(prefix), "vs-flow-bench-%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "EAL initialisation failed\n");
		return 1;
	}
	printf("%-12s %-22s %24s %22s\n", "ends", "lookup", "ns per key: median [min-max]",
	       "ratio to line");
	for (z = 0; z < nsizes; z++) {
		double v[M_MAX][MAX_RUNS], ratio[M_MAX][MAX_RUNS];

		for (r = 0; r < runs; r++) {
			double one[M_MAX];
			int ret = measure(sizes[z], ops, one);

			if (ret != 0) {
				fprintf(stderr, "%u ends: %s\n", sizes[z], strerror(-ret));
				rte_eal_cleanup();
				return 1;
			}
			for (m = 0; m < M_MAX; m++) {
				v[m][r] = one[m];
				ratio[m][r] = one[m] / one[M_LINE];
			}
		}
		for (m = 0; m < M_MAX; m++) {
			qsort(v[m], runs, sizeof(double), cmp_double);
			qsort(ratio[m], runs, sizeof(double), cmp_double);
			printf("%-12u %-22s %9.2f [%.2f-%.2f] %15.2f [%.2f-%.2f]\n", sizes[z],
			       m_names[m], v[m][runs / 2], v[m][0], v[m][runs - 1],
			       ratio[m][runs / 2], ratio[m][0], ratio[m][runs - 1]);
		}
	}
	rte_eal_cleanup();
	return 0;
}
