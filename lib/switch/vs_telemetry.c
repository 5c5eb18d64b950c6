/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Telemetry commands, served by DPDK's telemetry socket (dpdk-telemetry.py):
 *   /vsock/guests          CIDs attached
 *   /vsock/guest,<cid>     one guest: state, lcore, rings, counters
 *   /vsock/flows[,<cid>]   open connection ends, as columns
 *   /vsock/stats           switch totals
 *   /vsock/lcores          per worker lcore
 *   /vsock/config          effective configuration
 * Counters are plain per-port fields written by one lcore; they are read here
 * without locks (64-bit loads do not tear on the platforms DPDK runs on). Flow
 * tables are read as an RCU QSBR reader, so an entry cannot be reused under us.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "vs_switch_pvt.h"

#define VS_TEL_MAX_HOOKS 8
/* Rows /vsock/flows shows at most: the reply must fit telemetry's 16 KiB buffer. */
#define VS_TEL_MAX_FLOWS 48
/* QSBR thread id of the telemetry reader: above every lcore id. */
#define VS_TEL_QSBR_ID VS_QSBR_TELEMETRY_ID

static void (*guest_hooks[VS_TEL_MAX_HOOKS])(uint64_t cid, struct rte_tel_data *d);
static unsigned int nguest_hooks;
static uint64_t (*flows_hook)(uint64_t cid, struct vs_flow_row *rows, unsigned int room,
			      unsigned int *nrows);
/* Telemetry serves each client on its own thread; one reader at a time. */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const drop_names[VS_DROP_MAX] = {
	[VS_DROP_BAD_DESC] = "bad_descriptor",
	[VS_DROP_BAD_HDR] = "bad_header",
	[VS_DROP_SPOOFED] = "spoofed_source",
	[VS_DROP_RESERVED_DST] = "reserved_destination",
	[VS_DROP_NO_ROUTE] = "no_route",
	[VS_DROP_NO_FLOW] = "no_connection",
	[VS_DROP_FLOW_FULL] = "flow_table_full",
	[VS_DROP_BACKLOG_FULL] = "backlog_full",
	[VS_DROP_NO_MBUF] = "no_mbuf",
	[VS_DROP_CONN_LIMIT] = "connection_limit",
	[VS_DROP_CREDIT] = "credit_violation",
};

static const char *const state_names[] = {
	[VS_PORT_CONFIGURED] = "configured",
	[VS_PORT_CONNECTED] = "frontend_connected",
	[VS_PORT_RUNNING] = "running",
	[VS_PORT_STOPPING] = "stopping",
	[VS_PORT_SUSPENDED] = "suspended",
};

static const char *const flow_state_names[] = {
	[VS_FLOW_CONNECTING] = "connecting",
	[VS_FLOW_CONNECTED] = "connected",
	[VS_FLOW_CLOSING] = "closing",
};

const char *
vs_drop_name(enum vs_drop d)
{
	return (unsigned int)d < VS_DROP_MAX ? drop_names[d] : "unknown";
}

int
vs_telemetry_guest_hook(void (*fn)(uint64_t cid, struct rte_tel_data *d))
{
	if (nguest_hooks == VS_TEL_MAX_HOOKS)
		return -ENOSPC;
	guest_hooks[nguest_hooks++] = fn;
	return 0;
}

void
vs_telemetry_flows_hook(uint64_t (*fn)(uint64_t cid, struct vs_flow_row *rows, unsigned int room,
				       unsigned int *nrows))
{
	flows_hook = fn;
}

static bool tel_ready;

static void
reader_enter(void)
{
	rte_rcu_qsbr_thread_online(vs_sw.qsv, VS_TEL_QSBR_ID);
}

static void
reader_leave(void)
{
	rte_rcu_qsbr_thread_offline(vs_sw.qsv, VS_TEL_QSBR_ID);
}

static int
parse_cid(const char *params, uint64_t *cid)
{
	char *end;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	errno = 0;
	*cid = strtoull(params, &end, 0);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

static struct vs_port *
guest_port(uint64_t cid)
{
	return vsock_cid_is_guest(cid) ? vs_port_by_cid(cid) : NULL;
}

static int
cmd_guests(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	uint32_t i, n = __atomic_load_n(&vs_sw.nports, __ATOMIC_ACQUIRE);

	rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
	for (i = 0; i < n; i++) {
		const struct vs_port *p = __atomic_load_n(&vs_sw.ports[i], __ATOMIC_ACQUIRE);

		if (p != NULL && p != vs_sw.host)
			rte_tel_data_add_array_u64(d, p->cid);
	}
	return 0;
}

/* Add @s's counters to dict @d. */
static void
add_stats(struct rte_tel_data *d, const struct vs_port_stats *s)
{
	unsigned int i;

	rte_tel_data_add_dict_u64(d, "rx_packets", s->rx_pkts);
	rte_tel_data_add_dict_u64(d, "rx_bytes", s->rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_packets", s->tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_bytes", s->tx_bytes);
	rte_tel_data_add_dict_u64(d, "rst_sent", s->rst_sent);
	rte_tel_data_add_dict_u64(d, "credit_updates_received", s->tx_op[VSOCK_OP_CREDIT_UPDATE]);
	rte_tel_data_add_dict_u64(d, "credit_updates_sent", s->rx_op[VSOCK_OP_CREDIT_UPDATE]);
	rte_tel_data_add_dict_u64(d, "credit_requests_received",
				  s->tx_op[VSOCK_OP_CREDIT_REQUEST]);
	rte_tel_data_add_dict_u64(d, "interrupts", s->notify);
	rte_tel_data_add_dict_u64(d, "backpressure_stalls", s->stalls);
	rte_tel_data_add_dict_u64(d, "connections_expired", s->expired);
	for (i = 0; i < VS_DROP_MAX; i++) {
		char name[48];

		snprintf(name, sizeof(name), "drop_%s", drop_names[i]);
		rte_tel_data_add_dict_u64(d, name, s->drops[i]);
	}
}

static void
add_sum(struct vs_port_stats *t, const struct vs_port_stats *s)
{
	const uint64_t *src = (const uint64_t *)s;
	uint64_t *dst = (uint64_t *)t;
	size_t i;

	for (i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

static int
cmd_guest(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct vs_port_stats s;
	struct vs_port *p;
	uint64_t cid;
	unsigned int i;
	uint32_t state;

	if (parse_cid(params, &cid) != 0 || (p = guest_port(cid)) == NULL)
		return -EINVAL;
	state = vs_port_state_get(p);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "cid", p->cid);
	rte_tel_data_add_dict_string(d, "state", state < RTE_DIM(state_names) ?
				     state_names[state] : "unknown");
	rte_tel_data_add_dict_u64(d, "lcore", vs_port_lcore(p));
	rte_tel_data_add_dict_int(d, "lcore_numa_node", (int)rte_lcore_to_socket_id(vs_port_lcore(p)));
	rte_tel_data_add_dict_int(d, "numa_node", vs_port_numa_get(p));
	if (state == VS_PORT_RUNNING) {
		rte_tel_data_add_dict_u64(d, "rx_ring_size", p->rings.size[VSOCK_VQ_RX]);
		rte_tel_data_add_dict_u64(d, "tx_ring_size", p->rings.size[VSOCK_VQ_TX]);
		rte_tel_data_add_dict_int(d, "event_idx", p->rings.event_idx);
		rte_tel_data_add_dict_int(d, "seqpacket", p->rings.seqpacket);
	}
	if (p->ops != NULL && p->ops->info != NULL)
		p->ops->info(p->drv, d);
	vs_port_stats_get(p, &s);
	add_stats(d, &s);
	rte_tel_data_add_dict_u64(d, "backlog_packets", p->backlog.tail - p->backlog.head);
	rte_tel_data_add_dict_u64(d, "backlog_bytes", p->backlog.bytes);
	rte_tel_data_add_dict_u64(d, "connections", vs_port_flow_count(p));
	rte_tel_data_add_dict_u64(d, "connections_counted", p->conns);
	/* Other threads' fields last, and outside the QSBR read section: a hook
	 * may wait for a thread (the host endpoint) that may itself be waiting in
	 * vs_port_del() for this reader. @p is not used after this. */
	reader_leave();
	for (i = 0; i < nguest_hooks; i++)
		guest_hooks[i](cid, d);
	reader_enter();
	return 0;
}

enum { COL_LOCAL_CID, COL_LOCAL_PORT, COL_PEER_CID, COL_PEER_PORT, COL_TYPE, COL_STATE,
       COL_DIR, COL_TX_PKTS, COL_TX_BYTES, COL_LCORE, COL_AGE, COL_BUF_ALLOC, COL_FWD_CNT,
       COL_PEER_BUF_ALLOC, COL_PEER_FWD_CNT, COL_IN_FLIGHT, COL_MAX };
static const char *const col_names[COL_MAX] = {
	"local_cid", "local_port", "peer_cid", "peer_port", "type", "state", "direction",
	"tx_packets", "tx_bytes", "lcore", "state_age_ms", "buf_alloc", "fwd_cnt",
	"peer_buf_alloc", "peer_fwd_cnt", "in_flight",
};

/* One row of /vsock/flows. */
static void
add_flow_row(struct rte_tel_data *cols[], const struct vs_flow_row *r)
{
	rte_tel_data_add_array_u64(cols[COL_LOCAL_CID], r->local_cid);
	rte_tel_data_add_array_u64(cols[COL_LOCAL_PORT], r->local_port);
	rte_tel_data_add_array_u64(cols[COL_PEER_CID], r->peer_cid);
	rte_tel_data_add_array_u64(cols[COL_PEER_PORT], r->peer_port);
	rte_tel_data_add_array_string(cols[COL_TYPE], r->type == VSOCK_TYPE_SEQPACKET ?
				      "seqpacket" : "stream");
	rte_tel_data_add_array_string(cols[COL_STATE], r->state < RTE_DIM(flow_state_names) ?
				      flow_state_names[r->state] : "unknown");
	rte_tel_data_add_array_string(cols[COL_DIR], r->outgoing ? "out" : "in");
	rte_tel_data_add_array_u64(cols[COL_TX_PKTS], r->tx_pkts);
	rte_tel_data_add_array_u64(cols[COL_TX_BYTES], r->tx_bytes);
	rte_tel_data_add_array_u64(cols[COL_LCORE], r->lcore);
	rte_tel_data_add_array_u64(cols[COL_AGE], r->state_age_ms);
	rte_tel_data_add_array_u64(cols[COL_BUF_ALLOC], r->buf_alloc);
	rte_tel_data_add_array_u64(cols[COL_FWD_CNT], r->fwd_cnt);
	rte_tel_data_add_array_u64(cols[COL_PEER_BUF_ALLOC], r->peer_buf_alloc);
	rte_tel_data_add_array_u64(cols[COL_PEER_FWD_CNT], r->peer_fwd_cnt);
	rte_tel_data_add_array_u64(cols[COL_IN_FLIGHT], r->in_flight);
}

/* A worker's flow as a row; @now in TSC cycles. */
static void
flow_row(const struct vs_flow *f, unsigned int lcore, uint64_t now, struct vs_flow_row *r)
{
	uint64_t since = f->since;

	*r = (struct vs_flow_row){
		.local_cid = f->key.local_cid,
		.peer_cid = f->key.peer_cid,
		.local_port = f->key.local_port,
		.peer_port = f->key.peer_port,
		.type = f->type,
		.state = f->state,
		.outgoing = f->outgoing,
		.tx_pkts = f->tx_pkts,
		.tx_bytes = f->tx_bytes,
		.state_age_ms = since != 0 && now > since ? (now - since) * 1000 / rte_get_tsc_hz() : 0,
		.buf_alloc = f->buf_alloc,
		.fwd_cnt = f->fwd_cnt,
		.peer_buf_alloc = f->peer.buf_alloc,
		.peer_fwd_cnt = f->peer.fwd_cnt,
		.in_flight = vs_credit_in_flight(&f->peer, f->tx_bytes),
		.lcore = lcore,
	};
}

static int
cmd_flows(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	static struct vs_flow_row rows[VS_TEL_MAX_FLOWS]; /* under tel_lock */
	struct rte_tel_data *cols[COL_MAX];
	uint64_t cid = 0, total = 0, now;
	unsigned int i, c, shown = 0, nrows = 0;
	struct vs_flow_row r;

	if (params != NULL && *params != '\0' && parse_cid(params, &cid) != 0)
		return -EINVAL;
	for (c = 0; c < COL_MAX; c++) {
		cols[c] = rte_tel_data_alloc();
		if (cols[c] == NULL) {
			while (c-- > 0)
				rte_tel_data_free(cols[c]);
			return -ENOMEM;
		}
		rte_tel_data_start_array(cols[c], c == COL_TYPE || c == COL_STATE ||
					 c == COL_DIR ? RTE_TEL_STRING_VAL : RTE_TEL_U64_VAL);
	}
	now = rte_rdtsc();
	for (i = 0; i < vs_sw.nworkers; i++) {
		const struct vs_lcore *lc = vs_sw.lcores[vs_sw.workers[i]];
		const struct vs_flow *f;
		uint32_t next = 0;

		while ((f = vs_flow_next(lc->flows, &next)) != NULL) {
			if (cid != 0 && f->key.local_cid != cid && f->key.peer_cid != cid)
				continue;
			total++;
			if (shown == VS_TEL_MAX_FLOWS)
				continue;
			shown++;
			flow_row(f, lc->lcore_id, now, &r);
			add_flow_row(cols, &r);
		}
	}
	if (flows_hook != NULL) {
		/* Outside the QSBR read section: see cmd_guest(). */
		reader_leave();
		total += flows_hook(cid, rows, VS_TEL_MAX_FLOWS - shown, &nrows);
		reader_enter();
		for (i = 0; i < nrows && i < VS_TEL_MAX_FLOWS - shown; i++)
			add_flow_row(cols, &rows[i]);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "total", total);
	rte_tel_data_add_dict_u64(d, "limit", VS_TEL_MAX_FLOWS);
	for (c = 0; c < COL_MAX; c++)
		rte_tel_data_add_dict_container(d, col_names[c], cols[c], 0);
	return 0;
}

static int
cmd_stats(const char *cmd __rte_unused, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	struct vs_port_stats t, s;
	uint32_t i, n = __atomic_load_n(&vs_sw.nports, __ATOMIC_ACQUIRE), running = 0, guests = 0;
	uint64_t flows = 0, lost = 0;
	struct vs_capture_stats cs;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		const struct vs_port *p = __atomic_load_n(&vs_sw.ports[i], __ATOMIC_ACQUIRE);

		if (p == NULL)
			continue; /* deleted */
		vs_port_stats_get(p, &s);
		add_sum(&t, &s);
		running += vs_port_running(p) && p != vs_sw.host;
		guests += p != vs_sw.host;
	}
	for (i = 0; i < vs_sw.nworkers; i++) {
		flows += vs_flow_count(vs_sw.lcores[vs_sw.workers[i]]->flows);
		lost += vs_sw.lcores[vs_sw.workers[i]]->lost_rst;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "guests", guests);
	rte_tel_data_add_dict_u64(d, "guests_running", running);
	rte_tel_data_add_dict_u64(d, "connection_ends", flows);
	rte_tel_data_add_dict_u64(d, "mbufs_in_use", rte_mempool_in_use_count(vs_sw.pool));
	rte_tel_data_add_dict_u64(d, "rst_lost", lost);
	vs_capture_stats_get(&cs);
	rte_tel_data_add_dict_int(d, "capture_running", vs_capture_info(NULL, 0, NULL, NULL));
	rte_tel_data_add_dict_u64(d, "capture_records", cs.captured);
	rte_tel_data_add_dict_u64(d, "capture_dropped", cs.dropped);
	add_stats(d, &t);
	return 0;
}

static int
cmd_lcores(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	struct rte_tel_data *cols[6];
	static const char *const names[] = { "lcore", "guests", "rounds", "busy_rounds",
					     "tx_packets", "connection_ends" };
	unsigned int i, c;

	for (c = 0; c < RTE_DIM(cols); c++) {
		cols[c] = rte_tel_data_alloc();
		if (cols[c] == NULL) {
			while (c-- > 0)
				rte_tel_data_free(cols[c]);
			return -ENOMEM;
		}
		rte_tel_data_start_array(cols[c], RTE_TEL_U64_VAL);
	}
	for (i = 0; i < vs_sw.nworkers; i++) {
		const struct vs_lcore *lc = vs_sw.lcores[vs_sw.workers[i]];
		uint32_t j, np = __atomic_load_n(&lc->nports, __ATOMIC_ACQUIRE);
		uint64_t pkts = 0;

		for (j = 0; j < np; j++)
			pkts += __atomic_load_n(&lc->ports[j], __ATOMIC_ACQUIRE)->stats.tx_pkts;
		rte_tel_data_add_array_u64(cols[0], lc->lcore_id);
		rte_tel_data_add_array_u64(cols[1], np);
		rte_tel_data_add_array_u64(cols[2], lc->rounds);
		rte_tel_data_add_array_u64(cols[3], lc->busy_rounds);
		rte_tel_data_add_array_u64(cols[4], pkts);
		rte_tel_data_add_array_u64(cols[5], vs_flow_count(lc->flows));
	}
	rte_tel_data_start_dict(d);
	for (c = 0; c < RTE_DIM(cols); c++)
		rte_tel_data_add_dict_container(d, names[c], cols[c], 0);
	return 0;
}

static int
cmd_config(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	struct rte_tel_data *workers = rte_tel_data_alloc();
	unsigned int i;

	if (workers == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(workers, RTE_TEL_U64_VAL);
	for (i = 0; i < vs_sw.nworkers; i++)
		rte_tel_data_add_array_u64(workers, vs_sw.workers[i]);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", VS_VERSION);
	rte_tel_data_add_dict_u64(d, "main_lcore", rte_get_main_lcore());
	rte_tel_data_add_dict_container(d, "worker_lcores", workers, 0);
	rte_tel_data_add_dict_u64(d, "burst", VS_BURST_SIZE);
	rte_tel_data_add_dict_u64(d, "max_guests", VS_MAX_GUESTS);
	rte_tel_data_add_dict_u64(d, "max_flows_per_lcore", vs_sw.conf.max_flows_per_lcore);
	rte_tel_data_add_dict_u64(d, "backlog_packets", vs_sw.conf.backlog_pkts);
	rte_tel_data_add_dict_u64(d, "backlog_bytes", vs_sw.conf.backlog_bytes);
	rte_tel_data_add_dict_u64(d, "mbufs", vs_sw.conf.nb_mbufs);
	rte_tel_data_add_dict_u64(d, "max_connections_per_guest", vs_sw.conf.max_conns);
	rte_tel_data_add_dict_u64(d, "handshake_timeout_ms", vs_sw.conf.handshake_timeout_ms);
	rte_tel_data_add_dict_u64(d, "linger_timeout_ms", vs_sw.conf.linger_timeout_ms);
	rte_tel_data_add_dict_u64(d, "handover_ring_size", vs_sw.conf.ring_size);
	rte_tel_data_add_dict_int(d, "host_endpoint", vs_sw.host != NULL);
	return 0;
}

static const struct {
	const char *name;
	telemetry_cb fn;
	const char *help;
} commands[] = {
	{ "/vsock/guests", cmd_guests,
	  "CIDs of the attached guests, ascending. Optional parameter: first CID" },
	{ "/vsock/guest", cmd_guest, "One guest: state, lcore, rings, counters. Parameter: CID" },
	{ "/vsock/flows", cmd_flows, "Open connection ends, as columns. Optional parameter: CID" },
	{ "/vsock/stats", cmd_stats, "Switch totals" },
	{ "/vsock/lcores", cmd_lcores, "Per worker lcore" },
	{ "/vsock/config", cmd_config, "Effective configuration" },
};

/* Every command runs whole under tel_lock, which vs_telemetry_fini() takes too:
 * none can run while the switch is set up or torn down. And whole as a QSBR
 * reader: ports and flow entries it looks at are not freed under it (vs_port_del()). */
static int
dispatch(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int i;
	int ret = -EINVAL;

	pthread_mutex_lock(&tel_lock);
	if (!tel_ready) {
		ret = -EAGAIN;
		goto out;
	}
	reader_enter();
	for (i = 0; i < RTE_DIM(commands); i++) {
		if (strcmp(cmd, commands[i].name) == 0) {
			ret = commands[i].fn(cmd, params, d);
			break;
		}
	}
	reader_leave();
out:
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

int
vs_telemetry_init(void)
{
	static bool registered;
	unsigned int i;

	if (rte_rcu_qsbr_thread_register(vs_sw.qsv, VS_TEL_QSBR_ID) != 0)
		return -EINVAL;
	/* Commands cannot be unregistered: register once per process. */
	for (i = 0; !registered && i < RTE_DIM(commands); i++)
		rte_telemetry_register_cmd(commands[i].name, dispatch, commands[i].help);
	registered = true;
	pthread_mutex_lock(&tel_lock);
	tel_ready = true;
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

void
vs_telemetry_fini(void)
{
	pthread_mutex_lock(&tel_lock);
	tel_ready = false;
	pthread_mutex_unlock(&tel_lock);
}
