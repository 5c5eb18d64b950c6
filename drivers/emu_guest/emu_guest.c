/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Lifecycle of an emulated guest (create, start, stop, crash, destroy) and the
 * poll loop that moves everything.
 */

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "emu_guest_pvt.h"

#define EMU_RX_BUDGET 256
#define EMU_SLOW_PATH_EVERY 64 /* polls between call fd drains and liveness checks */
#define EMU_IDLE_SLEEP_NS 50000
#define EMU_SLOT_ALIGN 64
#define EMU_SLOT_HDR_ROOM 64

uint64_t
emu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void
emu_log(const struct emu_guest *g, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "emu_guest[%s]: ", g->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
emu_guest_opts_init(struct emu_guest_opts *o, const char *socket_path)
{
	memset(o, 0, sizeof(*o));
	o->socket_path = socket_path;
	o->queue_size = EMU_DEFAULT_QUEUE_SIZE;
	o->mem_size = EMU_DEFAULT_MEM_SIZE;
	o->start_rings = true;
	o->tx_layout = EMU_TX_SPLIT;
	o->rx_layout = EMU_RX_SPLIT;
	o->rx_buf_size = EMU_DEFAULT_RX_BUF_SIZE;
	o->buf_alloc = EMU_DEFAULT_BUF_ALLOC;
	o->tx_pkt_size = VSOCK_MAX_PKT_PAYLOAD;
	o->mem_regions = 1;
	o->connect_timeout_ms = EMU_DEFAULT_CONNECT_TIMEOUT_MS;
}

/* Zero fields mean "default"; refuse what cannot work. */
static int
emu_opts_fix(struct emu_guest_opts *o)
{
	struct emu_guest_opts d;

	emu_guest_opts_init(&d, o->socket_path);
	if (o->queue_size == 0)
		o->queue_size = d.queue_size;
	if (o->mem_size == 0)
		o->mem_size = d.mem_size;
	if (o->rx_buf_size == 0)
		o->rx_buf_size = d.rx_buf_size;
	if (o->buf_alloc == 0)
		o->buf_alloc = d.buf_alloc;
	if (o->tx_pkt_size == 0)
		o->tx_pkt_size = d.tx_pkt_size;
	if (o->mem_regions == 0)
		o->mem_regions = d.mem_regions;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = d.connect_timeout_ms;
	if (o->socket_path == NULL || o->queue_size > 32768 ||
	    (o->queue_size & (o->queue_size - 1)) || o->queue_size < 2 ||
	    o->tx_pkt_size > VSOCK_MAX_PKT_PAYLOAD || o->rx_buf_size > (1u << 20) ||
	    o->tx_layout < 0 || o->tx_layout >= EMU_TX_LAYOUT_MAX ||
	    o->rx_layout < 0 || o->rx_layout >= EMU_RX_LAYOUT_MAX)
		return -EINVAL;
	return 0;
}

static uint32_t
emu_align(uint32_t v, uint32_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int
emu_guest_alloc_memory(struct emu_guest *g)
{
	int data_region = g->o.mem_regions - 1;
	int i, ret;

	ret = emu_mem_init(&g->mem, g->o.mem_size, g->o.mem_regions);
	if (ret < 0)
		return ret;
	for (i = 0; i < VSOCK_NUM_VQ; i++) {
		ret = emu_vring_init(&g->vq[i], &g->mem, g->o.queue_size);
		if (ret < 0)
			return ret;
	}
	g->rx_stride = emu_align(EMU_SLOT_HDR_ROOM + g->o.rx_buf_size, EMU_SLOT_ALIGN);
	g->tx_stride = emu_align(EMU_SLOT_HDR_ROOM + g->o.tx_pkt_size, EMU_SLOT_ALIGN);
	g->rx_buf = emu_mem_alloc(&g->mem, data_region, (size_t)g->rx_stride * g->o.queue_size,
			4096);
	g->tx_buf = emu_mem_alloc(&g->mem, data_region, (size_t)g->tx_stride * g->o.queue_size,
			4096);
	if (g->rx_buf == NULL || g->tx_buf == NULL) {
		emu_log(g, "%zu bytes of guest memory are too few for %u descriptors",
			g->o.mem_size, g->o.queue_size);
		return -ENOMEM;
	}
	/* bytes between header and payload are never data: poison them */
	memset(g->tx_buf, 0xee, (size_t)g->tx_stride * g->o.queue_size);
	return 0;
}

/* A guest with its memory, not connected yet; NULL with *err on failure. */
struct emu_guest *
emu_guest_new(const struct emu_guest_opts *o, int *err)
{
	struct emu_guest *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	g->o = *o;
	g->sock = -1;
	g->lsock = -1;
	g->mem.fd = -1;
	for (int i = 0; i < VSOCK_NUM_VQ; i++)
		g->vq[i].kickfd = g->vq[i].callfd = -1;
	snprintf(g->name, sizeof(g->name), "%s", o->name ? o->name :
		 o->socket_path ? o->socket_path : "?");
	emu_sock_init(g);
	ret = emu_opts_fix(&g->o);
	if (ret == 0)
		ret = emu_guest_alloc_memory(g);
	if (ret < 0) {
		emu_guest_destroy(g);
		*err = ret;
		return NULL;
	}
	return g;
}

/* Connected: device init, and the driver start if asked for. */
int
emu_guest_attach(struct emu_guest *g)
{
	int ret = emu_vu_handshake(g);

	if (ret == 0 && g->o.start_rings)
		ret = emu_guest_start(g);
	return ret;
}

struct emu_guest *
emu_guest_create(const struct emu_guest_opts *o)
{
	struct emu_guest *g;
	int ret;

	g = emu_guest_new(o, &ret);
	if (g == NULL) {
		errno = -ret;
		return NULL;
	}
	if (g->o.server) {
		ret = emu_vu_listen(g);
		if (ret == 0)
			ret = emu_vu_accept(g, g->o.connect_timeout_ms);
	} else {
		ret = emu_vu_connect(g);
	}
	if (ret == 0)
		ret = emu_guest_attach(g);
	if (ret < 0) {
		emu_guest_destroy(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

int
emu_guest_start(struct emu_guest *g)
{
	bool event_idx;
	int i, ret;

	if (g->dead)
		return -ENOTCONN;
	if (g->running)
		return -EALREADY;
	g->features = emu_vu_wanted_features(g);
	g->seqpacket = g->features & (1ULL << VSOCK_F_SEQPACKET);
	event_idx = g->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if ((g->o.tx_layout == EMU_TX_INDIRECT || g->o.rx_layout == EMU_RX_INDIRECT) &&
	    !(g->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC))) {
		emu_log(g, "indirect layout asked for, RING_INDIRECT_DESC not negotiated");
		return -ENOTSUP;
	}
	for (i = 0; i < VSOCK_NUM_VQ; i++)
		emu_vring_reset(&g->vq[i], event_idx);
	g->ctrl_head = 0;
	g->ctrl_len = 0;
	g->tx_pending_kick = false;
	emu_rx_fill(g);
	ret = emu_vu_start_device(g);
	if (ret == 0)
		ret = emu_vu_enable_rings(g, true);
	if (ret < 0)
		return ret;
	g->running = true;
	return 0;
}

uint64_t
emu_guest_cid(const struct emu_guest *g)
{
	return g->cid;
}

bool
emu_guest_running(const struct emu_guest *g)
{
	return g->running;
}

int
emu_guest_stop(struct emu_guest *g)
{
	uint32_t base;
	int i, ret;

	if (g->dead)
		return -ENOTCONN;
	if (!g->running)
		return -EALREADY;
	g->running = false;
	emu_sock_reset_all(g);
	g->ctrl_len = 0;
	ret = emu_vu_enable_rings(g, false);
	for (i = 0; ret == 0 && i < VSOCK_NUM_VQ; i++) {
		ret = emu_vu_get_vring_base(g, i, &base);
		g->stop_base[i] = base;
		g->stop_used[i] = g->vq[i].last_used;
	}
	return ret;
}

int
emu_guest_detach(struct emu_guest *g)
{
	if (g->dead || g->sock < 0)
		return -ENOTCONN;
	close(g->sock);
	g->sock = -1;
	return 0;
}

int
emu_guest_reattach(struct emu_guest *g, int timeout_ms)
{
	uint64_t cid = g->cid;
	int ret;

	if (g->dead)
		return -ENOTCONN;
	if (g->sock >= 0)
		return -EISCONN;
	if (g->o.server) {
		ret = emu_vu_accept(g, timeout_ms);
	} else {
		int saved = g->o.connect_timeout_ms;

		g->o.connect_timeout_ms = timeout_ms > 0 ? timeout_ms : saved;
		ret = emu_vu_connect(g);
		g->o.connect_timeout_ms = saved;
	}
	if (ret == 0)
		ret = emu_vu_handshake(g);
	if (ret == 0 && g->cid != cid) {
		emu_log(g, "reattached to CID %llu, was %llu", (unsigned long long)g->cid,
			(unsigned long long)cid);
		ret = -EPROTO;
	}
	/* The same memory and rings, features as negotiated before, the rings'
	 * indices as the guest sees them (emu_vu_setup_vring()). */
	if (ret == 0 && g->running)
		ret = emu_vu_start_device(g);
	if (ret == 0 && g->running)
		ret = emu_vu_enable_rings(g, true);
	if (ret < 0 && g->sock >= 0) {
		close(g->sock);
		g->sock = -1;
	}
	return ret;
}

void
emu_guest_stop_bases(const struct emu_guest *g, uint32_t base[2], uint16_t used[2])
{
	int i;

	for (i = 0; i < VSOCK_NUM_VQ; i++) {
		base[i] = g->stop_base[i];
		used[i] = g->stop_used[i];
	}
}

static void
emu_guest_gone(struct emu_guest *g)
{
	if (g->sock >= 0)
		close(g->sock);
	g->sock = -1;
	g->dead = true;
	g->running = false;
	g->ctrl_len = 0;
	emu_sock_reset_all(g);
}

void
emu_guest_crash(struct emu_guest *g)
{
	emu_guest_gone(g);
}

void
emu_guest_destroy(struct emu_guest *g)
{
	int i;

	if (g == NULL)
		return;
	/* an orderly exit, as QEMU stops the device before it quits (a
	 * detached guest has nobody to tell) */
	if (g->running && g->sock >= 0)
		emu_guest_stop(g);
	if (g->sock >= 0)
		close(g->sock);
	emu_vu_unlisten(g);
	for (i = 0; i < VSOCK_NUM_VQ; i++)
		emu_vring_fini(&g->vq[i]);
	emu_mem_fini(&g->mem);
	emu_sock_fini(g);
	free(g->ctrl_q);
	free(g);
}

void
emu_guest_stats(const struct emu_guest *g, struct emu_stats *s)
{
	*s = g->st;
}

/* True if the backend closed the vhost-user connection. */
static bool
emu_backend_gone(struct emu_guest *g)
{
	struct pollfd p = { .fd = g->sock, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLERR))
		return true;
	return recv(g->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int
emu_guest_slow_path(struct emu_guest *g)
{
	int i;

	if (emu_backend_gone(g)) {
		emu_log(g, "backend closed the vhost-user connection");
		emu_guest_gone(g);
		return -ENOTCONN;
	}
	if (!g->running)
		return 0;
	for (i = 0; i < VSOCK_NUM_VQ; i++)
		g->st.interrupts += emu_vring_drain_call(&g->vq[i]);
	return emu_sock_expire(g, emu_now_ns());
}

int
emu_guest_poll(struct emu_guest *g)
{
	int work = 0, ret;

	if (g->dead)
		return -ENOTCONN;
	if (++g->poll_count % EMU_SLOW_PATH_EVERY == 0) {
		ret = emu_guest_slow_path(g);
		if (ret < 0)
			return ret;
		work += ret;
	}
	if (!g->running)
		return work;
	work += emu_tx_reclaim(g);
	work += emu_rx_poll(g, EMU_RX_BUDGET);
	work += emu_tx_flush_ctrl(g);
	emu_tx_done(g);
	return work;
}

int
emu_poll_until(struct emu_guest **gs, int n, int (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t deadline = emu_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct timespec idle = { .tv_nsec = EMU_IDLE_SLEEP_NS };
	int i, work, r;

	for (;;) {
		work = 0;
		for (i = 0; i < n; i++) {
			if (gs[i] == NULL)
				continue;
			r = emu_guest_poll(gs[i]);
			if (r > 0)
				work += r;
		}
		if (cond != NULL && cond(arg))
			return 0;
		if (emu_now_ns() >= deadline)
			return -ETIMEDOUT;
		if (work == 0)
			nanosleep(&idle, NULL);
	}
}
