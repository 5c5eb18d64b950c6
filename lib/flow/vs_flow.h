/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_FLOW_H
#define VS_FLOW_H

/**
 * @file
 * Connection (flow) table of one worker lcore.
 *
 * A vsock connection has two ends, each a (CID, port). Every lcore keeps the
 * ends that live on it: a key is (local end, peer end), so a connection between
 * two guests polled by two lcores has one entry on each, and each table has
 * exactly one writer, its lcore: no locks, no atomics on the data path.
 *
 * Other threads (telemetry, the control plane) read a table lock-free: the table
 * is an rte_hash with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF, and a deleted entry's
 * slot (and so its struct vs_flow, which lives at the slot's position) is reused
 * only after every reader registered with the RCU QSBR variable has passed a
 * quiescent state.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most keys one bulk lookup takes. */
#define VS_FLOW_BULK_MAX RTE_HASH_LOOKUP_BULK_MAX

/** A connection as seen from one of its ends. */
struct vs_flow_key {
	uint64_t local_cid;
	uint64_t peer_cid;
	uint32_t local_port;
	uint32_t peer_port;
};

/** Connection state as the switch sees it. */
enum vs_flow_state {
	VS_FLOW_CONNECTING = 0, /**< REQUEST seen, no RESPONSE yet */
	VS_FLOW_CONNECTED, /**< RESPONSE seen */
	VS_FLOW_CLOSING, /**< a SHUTDOWN seen; waiting for RST */
};

/**
 * Credit one end of a connection granted to the other, as the switch saw it in
 * the headers that end sent (virtio-vsock: buf_alloc and fwd_cnt in every header).
 *
 * The peer may send while the bytes it sent and the receiver has not consumed
 * (tx_cnt - fwd_cnt, modulo 2^32) plus the new ones stay within the credit. A grant
 * once advertised cannot be taken back (the sender may already have used it): a
 * smaller buf_alloc only takes effect as fwd_cnt moves past the old edge
 * (fwd_cnt + buf_alloc never goes backwards). Pure arithmetic: see
 * vs_credit_grant() and vs_credit_allows().
 */
struct vs_credit {
	uint32_t buf_alloc; /**< receive space last advertised */
	uint32_t fwd_cnt; /**< bytes consumed, as last advertised */
	uint32_t limit; /**< bytes the peer may have in flight from fwd_cnt on */
	uint32_t valid; /**< 1 once a header advertised credit */
};

/**
 * Take note of a header's buf_alloc and fwd_cnt.
 *
 * The credit edge (fwd_cnt + limit) only moves forward: a buf_alloc that
 * shrinks is honoured once fwd_cnt has moved far enough. A fwd_cnt that goes
 * backwards (a broken or hostile receiver) restarts from the header's values:
 * the receiver only hurts its own connection.
 */
static inline void
vs_credit_grant(struct vs_credit *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	int64_t old = -1;

	if (c->valid) {
		uint32_t moved = fwd_cnt - c->fwd_cnt;

		if (moved <= INT32_MAX)
			old = (int64_t)c->limit - moved;
	}
	c->buf_alloc = buf_alloc;
	c->fwd_cnt = fwd_cnt;
	c->limit = old > (int64_t)buf_alloc ? (uint32_t)old : buf_alloc;
	c->valid = 1;
}

/** Bytes in flight: sent (@p tx_cnt, modulo 2^32) and not yet consumed by the receiver. */
static inline uint32_t
vs_credit_in_flight(const struct vs_credit *c, uint64_t tx_cnt)
{
	return (uint32_t)tx_cnt - c->fwd_cnt;
}

/**
 * May the sender, having sent @p tx_cnt bytes so far, send @p len more?
 * Without any grant yet (no header from the receiver) only len 0 may go.
 */
static inline bool
vs_credit_allows(const struct vs_credit *c, uint64_t tx_cnt, uint32_t len)
{
	return (uint64_t)vs_credit_in_flight(c, tx_cnt) + len <= c->limit;
}

/** One end of a connection. Written only by the table's lcore. */
struct vs_flow {
	struct vs_flow_key key;
	uint8_t state; /**< enum vs_flow_state */
	uint8_t type; /**< VSOCK_TYPE_STREAM or VSOCK_TYPE_SEQPACKET */
	uint8_t outgoing; /**< the local end sent the REQUEST */
	uint8_t shutdown; /**< VSOCK_SHUTDOWN_* flags seen from the local end */
	uint8_t live; /**< in the table (the owner lcore's view, see vs_flow_scan()) */
	uint8_t counted; /**< counted against the local guest's connection limit */
	uint16_t peer_slot; /**< hint: the peer's port slot (a user's cache, see peer_uid) */
	uint64_t since; /**< TSC of the last state change */
	uint64_t tx_pkts; /**< packets the local end sent */
	uint64_t tx_bytes; /**< payload bytes the local end sent */
	uint32_t buf_alloc; /**< buf_alloc the local end advertised last */
	uint32_t fwd_cnt; /**< fwd_cnt the local end advertised last */
	struct vs_credit peer; /**< credit the peer granted the local end */
	uint32_t peer_uid; /**< hint: uid of the port in peer_slot, 0 if none (never reused) */
};

/**
 * Forget a connection's history, keep the slot: a new REQUEST on a key that is
 * still in the table starts a new incarnation (counters and credit from zero).
 */
static inline void
vs_flow_restart(struct vs_flow *f)
{
	f->shutdown = 0;
	f->tx_pkts = 0;
	f->tx_bytes = 0;
	f->buf_alloc = 0;
	f->fwd_cnt = 0;
	f->peer = (struct vs_credit){ 0 };
}

/** A flow table. */
struct vs_flow_table;

/**
 * Create a table.
 *
 * @param name
 *   Unique name (rte_hash objects are named).
 * @param max_flows
 *   Capacity in connection ends.
 * @param socket_id
 *   NUMA socket for the memory.
 * @param qsv
 *   RCU QSBR variable of the readers, or NULL for a table nobody else reads.
 * @return
 *   The table, or NULL with rte_errno set.
 */
struct vs_flow_table *vs_flow_table_create(const char *name, uint32_t max_flows,
					   int socket_id, struct rte_rcu_qsbr *qsv);

/** Free a table; NULL is allowed. No reader may use it any more. */
void vs_flow_table_free(struct vs_flow_table *t);

/** Find one end. @return the flow or NULL. */
struct vs_flow *vs_flow_lookup(const struct vs_flow_table *t, const struct vs_flow_key *key);

/**
 * Find up to VS_FLOW_BULK_MAX ends at once.
 *
 * @param flows
 *   Output: one entry per key, NULL where there is none.
 */
void vs_flow_lookup_bulk(const struct vs_flow_table *t, const struct vs_flow_key **keys,
			 unsigned int n, struct vs_flow **flows);

/**
 * Add an end. The caller checked that it is not there.
 *
 * @return
 *   The new flow, zeroed but for its key, or NULL when the table is full.
 */
struct vs_flow *vs_flow_add(struct vs_flow_table *t, const struct vs_flow_key *key);

/** Remove an end. Its memory stays valid for readers until their next quiescent state. */
void vs_flow_del(struct vs_flow_table *t, struct vs_flow *f);

/** Number of ends in the table. */
uint32_t vs_flow_count(const struct vs_flow_table *t);

/**
 * Walk the table.
 *
 * @param next
 *   Cursor, 0 to start.
 * @return
 *   The next flow, or NULL at the end.
 */
struct vs_flow *vs_flow_next(const struct vs_flow_table *t, uint32_t *next);

/**
 * Owner lcore only: visit up to @p n slots from @p *cursor on (wrapping to 0 at
 * the end) and call @p fn for every flow in the table. @p fn may delete the flow.
 * Costs one memory read per slot, no hash lookup: for periodic sweeps.
 *
 * @return number of flows visited.
 */
unsigned int vs_flow_scan(struct vs_flow_table *t, uint32_t *cursor, uint32_t n,
			  void (*fn)(struct vs_flow *f, void *arg), void *arg);

/** Number of slots (the largest cursor of vs_flow_scan() plus one). */
uint32_t vs_flow_slots(const struct vs_flow_table *t);

/** Key of the other end of a connection. */
static inline void
vs_flow_key_reverse(const struct vs_flow_key *k, struct vs_flow_key *r)
{
	r->local_cid = k->peer_cid;
	r->local_port = k->peer_port;
	r->peer_cid = k->local_cid;
	r->peer_port = k->local_port;
}

#ifdef __cplusplus
}
#endif

#endif /* VS_FLOW_H */
