/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * What the host endpoint adds to the switch's telemetry: the hybrid socket of
 * each guest in /vsock/guest,<cid>, and the host ends of connections (local CID 2)
 * in /vsock/flows.
 *
 * The endpoint's state (guests, connections) belongs to its thread and changes
 * every round; a telemetry thread must not walk it. So the telemetry thread asks:
 * it posts a request, the endpoint runs it between two rounds (hp_tel_serve(),
 * one atomic load per round when nobody asks) and marks it done. A request the
 * endpoint does not take in time (it stopped, or it is starved of CPU) is
 * withdrawn and the reply goes without the endpoint's part.
 */

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>
#include <rte_telemetry.h>

#include "host_port_pvt.h"
#include "vs_flow.h"
#include "vs_switch.h"

/* How long a telemetry thread waits for the endpoint. */
#define HP_TEL_WAIT_MS 250

struct hp_tel_req {
	void (*fn)(void *arg);
	void *arg;
	uint32_t done;
};

static struct hp_tel_req *tel_req; /* posted, not yet taken; atomic */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER; /* one request at a time */

void
hp_tel_serve(void)
{
	struct hp_tel_req *r;

	if (__atomic_load_n(&tel_req, __ATOMIC_RELAXED) == NULL)
		return;
	r = __atomic_exchange_n(&tel_req, NULL, __ATOMIC_ACQUIRE);
	if (r == NULL)
		return;
	r->fn(r->arg);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

/* Run @fn(@arg) on the endpoint's thread. Returns 0, or -ETIMEDOUT if it did not run. */
static int
hp_tel_call(void (*fn)(void *arg), void *arg)
{
	struct hp_tel_req r = { .fn = fn, .arg = arg };
	const struct timespec nap = { .tv_nsec = 100 * 1000 };
	struct hp_tel_req *expected = &r;
	unsigned int waited_us = 0;
	int ret = 0;

	if (!hp.ready)
		return -ENODEV;
	pthread_mutex_lock(&tel_lock);
	__atomic_store_n(&tel_req, &r, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		if (waited_us >= HP_TEL_WAIT_MS * 1000 &&
		    __atomic_compare_exchange_n(&tel_req, &expected, NULL, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* Withdrawn before the endpoint took it. */
			ret = -ETIMEDOUT;
			break;
		}
		/* Taken (or not yet): once taken, it finishes; wait for that. */
		nanosleep(&nap, NULL);
		waited_us += 100;
	}
	pthread_mutex_unlock(&tel_lock);
	return ret;
}

/* ---- /vsock/guest,<cid>: the hybrid socket ---- */

struct guest_info {
	uint64_t cid;
	char uds[sizeof(((struct hp_guest *)0)->uds)];
	bool found;
};

static void
guest_info_fill(void *arg)
{
	struct guest_info *gi = arg;
	const struct hp_guest *g = hp_guest_find(gi->cid);

	if (g != NULL) {
		memcpy(gi->uds, g->uds, sizeof(gi->uds));
		gi->found = true;
	}
}

static void
guest_hook(uint64_t cid, struct rte_tel_data *d)
{
	struct guest_info gi = { .cid = cid };

	if (hp_tel_call(guest_info_fill, &gi) != 0)
		return;
	/* The hybrid socket, "" when the guest has none. */
	rte_tel_data_add_dict_string(d, "uds", gi.found ? gi.uds : "");
}

/* ---- /vsock/flows: the host ends of connections ---- */

struct flows_req {
	uint64_t cid;
	struct vs_flow_row *rows;
	unsigned int room;
	unsigned int nrows;
	uint64_t total;
};

/* A connection's state as the switch's flow tables name them; false if it is
 * not a connection end (a command line, a LISTEN, a dead one). */
static bool
conn_flow_state(const struct hp_conn *c, uint8_t *state)
{
	switch (c->state) {
	case HP_ST_CONNECTING:
	case HP_ST_DIALING:
		*state = VS_FLOW_CONNECTING;
		return true;
	case HP_ST_CONNECTED:
		*state = c->shut != 0 || c->peer_shut != 0 ? VS_FLOW_CLOSING : VS_FLOW_CONNECTED;
		return true;
	case HP_ST_CLOSING:
		*state = VS_FLOW_CLOSING;
		return true;
	default:
		return false;
	}
}

static void
flows_fill(void *arg)
{
	struct flows_req *fr = arg;
	const struct hp_conn *c;
	uint8_t state;

	for (c = hp.all; c != NULL; c = c->next) {
		if (!conn_flow_state(c, &state) || (fr->cid != 0 && fr->cid != c->cid))
			continue;
		fr->total++;
		if (fr->nrows == fr->room)
			continue;
		fr->rows[fr->nrows++] = (struct vs_flow_row){
			.local_cid = VSOCK_CID_HOST,
			.peer_cid = c->cid,
			.local_port = c->hport,
			.peer_port = c->gport,
			.type = c->type,
			.state = state,
			/* The host program connected (hybrid CONNECT, control CONNECT). */
			.outgoing = c->proto == HP_PROTO_HYBRID || c->proto == HP_PROTO_CONTROL,
			.tx_pkts = c->tx_pkts,
			.tx_bytes = c->tx_cnt,
			.state_age_ms = hp.now_ms - c->state_ms,
			.buf_alloc = hp.conf.buf_alloc,
			.fwd_cnt = c->fwd_cnt,
			.peer_buf_alloc = c->peer_buf_alloc,
			.peer_fwd_cnt = c->peer_fwd_cnt,
			.in_flight = c->tx_cnt - c->peer_fwd_cnt,
			.lcore = rte_get_main_lcore(),
		};
	}
}

static uint64_t
flows_hook(uint64_t cid, struct vs_flow_row *rows, unsigned int room, unsigned int *nrows)
{
	struct flows_req fr = { .cid = cid, .rows = rows, .room = room };

	*nrows = 0;
	/* The host's own CID names every host end. */
	if (cid == VSOCK_CID_HOST)
		fr.cid = 0;
	if (hp_tel_call(flows_fill, &fr) != 0)
		return 0;
	*nrows = fr.nrows;
	return fr.total;
}

void
hp_tel_init(void)
{
	static bool registered;

	/* Hooks cannot be taken back: once per process. */
	if (registered)
		return;
	if (vs_telemetry_guest_hook(guest_hook) != 0)
		HP_LOG(WARNING, "no room for the telemetry guest hook");
	vs_telemetry_flows_hook(flows_hook);
	registered = true;
}
