/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "vs_flow.h"

struct vs_flow_table {
	struct rte_hash *h;
	struct rte_rcu_qsbr *qsv;
	uint32_t nslots;
	uint32_t count; /* ends in the table (rte_hash_count also counts deferred slots) */
	struct vs_flow flows[]; /* indexed by the key's position in h */
};

struct vs_flow_table *
vs_flow_table_create(const char *name, uint32_t max_flows, int socket_id,
		     struct rte_rcu_qsbr *qsv)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = max_flows < 8 ? 8 : max_flows,
		.key_len = sizeof(struct vs_flow_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket_id,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct vs_flow_table *t;
	struct rte_hash *h;
	int32_t max_id;

	h = rte_hash_create(&hp);
	if (h == NULL)
		return NULL;
	if (qsv != NULL) {
		struct rte_hash_rcu_config rc = {
			.v = qsv,
			.mode = RTE_HASH_QSBR_MODE_DQ,
		};

		if (rte_hash_rcu_qsbr_add(h, &rc) != 0) {
			int err = rte_errno;

			rte_hash_free(h);
			rte_errno = err;
			return NULL;
		}
	}
	max_id = rte_hash_max_key_id(h);
	if (max_id < 0) {
		rte_hash_free(h);
		rte_errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket(name, sizeof(*t) + ((size_t)max_id + 1) * sizeof(t->flows[0]),
			       RTE_CACHE_LINE_SIZE, socket_id);
	if (t == NULL) {
		rte_hash_free(h);
		rte_errno = ENOMEM;
		return NULL;
	}
	t->h = h;
	t->qsv = qsv;
	t->nslots = (uint32_t)max_id + 1;
	return t;
}

void
vs_flow_table_free(struct vs_flow_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->h);
	rte_free(t);
}

static inline struct vs_flow *
slot(const struct vs_flow_table *t, int32_t pos)
{
	if (pos < 0 || (uint32_t)pos >= t->nslots)
		return NULL;
	return (struct vs_flow *)&t->flows[pos];
}

struct vs_flow *
vs_flow_lookup(const struct vs_flow_table *t, const struct vs_flow_key *key)
{
	return slot(t, rte_hash_lookup(t->h, key));
}

void
vs_flow_lookup_bulk(const struct vs_flow_table *t, const struct vs_flow_key **keys,
		    unsigned int n, struct vs_flow **flows)
{
	int32_t pos[VS_FLOW_BULK_MAX];
	unsigned int i;

	if (n == 0)
		return;
	if (n > VS_FLOW_BULK_MAX)
		n = VS_FLOW_BULK_MAX;
	if (rte_hash_lookup_bulk(t->h, (const void **)keys, n, pos) != 0) {
		for (i = 0; i < n; i++)
			flows[i] = vs_flow_lookup(t, keys[i]);
		return;
	}
	for (i = 0; i < n; i++)
		flows[i] = slot(t, pos[i]);
}

struct vs_flow *
vs_flow_add(struct vs_flow_table *t, const struct vs_flow_key *key)
{
	struct vs_flow *f = slot(t, rte_hash_add_key(t->h, key));

	if (f == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->live = 1;
	__atomic_store_n(&t->count, t->count + 1, __ATOMIC_RELAXED);
	return f;
}

void
vs_flow_del(struct vs_flow_table *t, struct vs_flow *f)
{
	int32_t pos = rte_hash_del_key(t->h, &f->key);

	if (pos < 0)
		return;
	f->live = 0;
	__atomic_store_n(&t->count, t->count - 1, __ATOMIC_RELAXED);
	/* With lock-free readers rte_hash frees a deleted slot only through RCU;
	 * a table without readers frees it at once. */
	if (t->qsv == NULL)
		rte_hash_free_key_with_position(t->h, pos);
}

uint32_t
vs_flow_count(const struct vs_flow_table *t)
{
	return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}

/* Walk the slots, not the buckets: a delete may move a key from an overflow
 * bucket into a bucket already walked, but a key never changes slot. A slot is
 * live while its key still looks up to it. */
struct vs_flow *
vs_flow_next(const struct vs_flow_table *t, uint32_t *next)
{
	while (*next < t->nslots) {
		uint32_t pos = (*next)++;
		struct vs_flow *f = (struct vs_flow *)&t->flows[pos];

		if (rte_hash_lookup(t->h, &f->key) == (int32_t)pos)
			return f;
	}
	return NULL;
}

unsigned int
vs_flow_scan(struct vs_flow_table *t, uint32_t *cursor, uint32_t n,
	     void (*fn)(struct vs_flow *f, void *arg), void *arg)
{
	unsigned int seen = 0;

	if (n > t->nslots)
		n = t->nslots;
	while (n-- > 0) {
		struct vs_flow *f;

		if (*cursor >= t->nslots)
			*cursor = 0;
		f = &t->flows[(*cursor)++];
		if (f->live) {
			seen++;
			fn(f, arg);
		}
	}
	return seen;
}

uint32_t
vs_flow_slots(const struct vs_flow_table *t)
{
	return t->nslots;
}
