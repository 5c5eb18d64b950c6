/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * What the host endpoint adds to the switch's telemetry: the hybrid socket of
 * each guest in /vsock/guest,<cid>, and the host ends of connections in
 * /vsock/flows.
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

#include <rte_telemetry.h>

#include "host_port_pvt.h"
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

void
hp_tel_init(void)
{
	static bool registered;

	/* Hooks cannot be taken back: once per process. */
	if (registered)
		return;
	if (vs_telemetry_guest_hook(guest_hook) != 0)
		HP_LOG(WARNING, "no room for the telemetry guest hook");
	registered = true;
}
