/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Packets <-> descriptors, the part Linux's virtio_transport.c plays.
 *
 * tx: each head of the tx ring owns one packet slot in guest memory (header,
 * a poisoned gap, then up to tx_pkt_size bytes of payload) and one indirect
 * table. The layout option decides how the slot is described: split header +
 * payload, one descriptor, an indirect table, or payload scattered over 4 KiB
 * descriptors. Control packets that find no descriptors wait in a queue,
 * in order, and data never overtakes them.
 *
 * rx: each head owns one buffer: 44-byte header, a poisoned gap, rx_buf_size
 * payload bytes (split and indirect layouts), or header and payload back to
 * back in one descriptor. Consumed buffers are posted again at once.
 *
 * The vhost-user socket in server mode (QEMU's -chardev socket,server=on, the
 * switch's client mode) is at the end: listen, accept the backend, listen on.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "emu_guest_pvt.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio 1.x rings are little endian; this code stores them natively"
#endif

/* Payload offset in a slot when header and payload are separate descriptors. */
#define EMU_PAYLOAD_GAP_OFF 64
#define EMU_POISON 0xee
#define EMU_SCATTER_LEN 4096
#define EMU_CTRL_Q_MAX 65536

static inline uint32_t
emu_tx_payload_off(const struct emu_guest *g)
{
	return g->o.tx_layout == EMU_TX_SINGLE ? VSOCK_HDR_LEN : EMU_PAYLOAD_GAP_OFF;
}

static inline uint32_t
emu_rx_payload_off(const struct emu_guest *g)
{
	return g->o.rx_layout == EMU_RX_SINGLE ? VSOCK_HDR_LEN : EMU_PAYLOAD_GAP_OFF;
}

/* Descriptors a tx packet with @len payload bytes takes from the ring. */
unsigned int
emu_tx_descs(const struct emu_guest *g, uint32_t len)
{
	switch (g->o.tx_layout) {
	case EMU_TX_SPLIT:
		return len ? 2 : 1;
	case EMU_TX_SCATTER:
		return 1 + (len + EMU_SCATTER_LEN - 1) / EMU_SCATTER_LEN;
	default:
		return 1;
	}
}

unsigned int
emu_tx_free_descs(const struct emu_guest *g)
{
	return g->vq[VSOCK_VQ_TX].num_free;
}

static void
emu_tx_describe(struct emu_guest *g, uint16_t head, uint64_t gpa, uint32_t len)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_TX];
	struct vring_desc *d = &vr->desc[head];
	struct vring_desc *t;
	uint32_t off, piece;
	uint16_t i;

	switch (g->o.tx_layout) {
	case EMU_TX_SINGLE:
		*d = (struct vring_desc){ .addr = gpa, .len = VSOCK_HDR_LEN + len };
		break;
	case EMU_TX_SPLIT:
		d->addr = gpa;
		d->len = VSOCK_HDR_LEN;
		d->flags = len ? VRING_DESC_F_NEXT : 0;
		if (len) {
			d = &vr->desc[vr->next[head]];
			d->addr = gpa + EMU_PAYLOAD_GAP_OFF;
			d->len = len;
			d->flags = 0;
		}
		break;
	case EMU_TX_SCATTER:
		d->addr = gpa;
		d->len = VSOCK_HDR_LEN;
		d->flags = len ? VRING_DESC_F_NEXT : 0;
		i = head;
		for (off = 0; off < len; off += piece) {
			piece = len - off < EMU_SCATTER_LEN ? len - off : EMU_SCATTER_LEN;
			i = vr->next[i];
			d = &vr->desc[i];
			d->addr = gpa + EMU_PAYLOAD_GAP_OFF + off;
			d->len = piece;
			d->flags = off + piece < len ? VRING_DESC_F_NEXT : 0;
		}
		break;
	case EMU_TX_INDIRECT:
		t = &vr->indirect[head * EMU_VRING_MAX_INDIRECT];
		t[0] = (struct vring_desc){ .addr = gpa, .len = VSOCK_HDR_LEN,
					    .flags = len ? VRING_DESC_F_NEXT : 0, .next = 1 };
		t[1] = (struct vring_desc){ .addr = gpa + EMU_PAYLOAD_GAP_OFF, .len = len };
		d->addr = vr->indirect_gpa + (uint64_t)head * EMU_VRING_MAX_INDIRECT *
			sizeof(struct vring_desc);
		d->len = (len ? 2 : 1) * sizeof(struct vring_desc);
		d->flags = VRING_DESC_F_INDIRECT;
		break;
	}
}

/*
 * Put one packet on the tx ring (visible to the device after emu_tx_done()).
 * Returns 0, -EAGAIN without descriptors, -EMSGSIZE, -ENOTCONN.
 */
int
emu_tx_pkt(struct emu_guest *g, const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_TX];
	uint8_t *slot;
	uint16_t head;

	if (!g->running)
		return -ENOTCONN;
	if (len > g->o.tx_pkt_size)
		return -EMSGSIZE;
	if (emu_vring_get_chain(vr, emu_tx_descs(g, len), &head) < 0) {
		g->st.tx_ring_full++;
		return -EAGAIN;
	}
	slot = g->tx_buf + (size_t)head * g->tx_stride;
	vsock_hdr_encode(h, slot);
	if (len)
		memcpy(slot + emu_tx_payload_off(g), payload, len);
	emu_tx_describe(g, head, emu_mem_gpa(&g->mem, slot), len);
	emu_vring_make_avail(vr, head);
	g->tx_pending_kick = true;
	g->st.tx_pkts[h->op < EMU_STATS_OPS ? h->op : 0]++;
	if (h->op == VSOCK_OP_RW)
		g->st.tx_bytes += len;
	return 0;
}

/* Publish what emu_tx_pkt() queued and kick the device if it wants a kick. */
void
emu_tx_done(struct emu_guest *g)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_TX];

	if (!g->tx_pending_kick)
		return;
	g->tx_pending_kick = false;
	emu_vring_publish(vr);
	if (!g->o.no_kick && emu_vring_kick(vr))
		g->st.kicks++;
}

/* Queue a header-only packet; it waits for descriptors rather than being lost. */
int
emu_tx_ctrl(struct emu_guest *g, const struct vsock_hdr *h)
{
	unsigned int cap;
	struct vsock_hdr *q;

	if (!g->running)
		return -ENOTCONN;
	if (g->ctrl_len == 0 && emu_tx_pkt(g, h, NULL, 0) == 0)
		return 0;
	if (g->ctrl_len == g->ctrl_cap) {
		cap = g->ctrl_cap ? g->ctrl_cap * 2 : 64;
		if (cap > EMU_CTRL_Q_MAX || (q = malloc(sizeof(*q) * cap)) == NULL) {
			g->st.ctrl_dropped++;
			return -ENOBUFS;
		}
		for (unsigned int i = 0; i < g->ctrl_len; i++)
			q[i] = g->ctrl_q[(g->ctrl_head + i) % g->ctrl_cap];
		free(g->ctrl_q);
		g->ctrl_q = q;
		g->ctrl_head = 0;
		g->ctrl_cap = cap;
	}
	g->ctrl_q[(g->ctrl_head + g->ctrl_len) % g->ctrl_cap] = *h;
	g->ctrl_len++;
	return 0;
}

/* Move waiting control packets to the ring; returns how many went. */
int
emu_tx_flush_ctrl(struct emu_guest *g)
{
	int n = 0;

	while (g->ctrl_len > 0 && emu_tx_pkt(g, &g->ctrl_q[g->ctrl_head], NULL, 0) == 0) {
		g->ctrl_head = (g->ctrl_head + 1) % g->ctrl_cap;
		g->ctrl_len--;
		n++;
	}
	return n;
}

/* Take back descriptors of packets the device has consumed. */
int
emu_tx_reclaim(struct emu_guest *g)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_TX];
	uint32_t len;
	uint16_t head;
	int n = 0, r;

	while ((r = emu_vring_used(vr, &head, &len)) != 0) {
		if (r < 0) {
			g->st.used_bad++;
			continue;
		}
		emu_vring_put_chain(vr, head);
		g->st.tx_chains_used++;
		n++;
	}
	if (n)
		emu_vring_used_done(vr);
	return n;
}

/* (Re)write the descriptors of rx buffer @head and make it available. */
static void
emu_rx_post(struct emu_guest *g, uint16_t head)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_RX];
	uint8_t *buf = g->rx_buf + (size_t)head * g->rx_stride;
	uint64_t gpa = emu_mem_gpa(&g->mem, buf);
	struct vring_desc *d = &vr->desc[head];
	struct vring_desc *t;

	switch (g->o.rx_layout) {
	case EMU_RX_SINGLE:
		*d = (struct vring_desc){ .addr = gpa, .len = VSOCK_HDR_LEN + g->o.rx_buf_size,
					  .flags = VRING_DESC_F_WRITE };
		break;
	case EMU_RX_SPLIT:
		d->addr = gpa;
		d->len = VSOCK_HDR_LEN;
		d->flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
		d = &vr->desc[vr->next[head]];
		d->addr = gpa + EMU_PAYLOAD_GAP_OFF;
		d->len = g->o.rx_buf_size;
		d->flags = VRING_DESC_F_WRITE;
		break;
	case EMU_RX_INDIRECT:
		t = &vr->indirect[head * EMU_VRING_MAX_INDIRECT];
		t[0] = (struct vring_desc){ .addr = gpa, .len = VSOCK_HDR_LEN,
			.flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, .next = 1 };
		t[1] = (struct vring_desc){ .addr = gpa + EMU_PAYLOAD_GAP_OFF,
			.len = g->o.rx_buf_size, .flags = VRING_DESC_F_WRITE };
		d->addr = vr->indirect_gpa + (uint64_t)head * EMU_VRING_MAX_INDIRECT *
			sizeof(struct vring_desc);
		d->len = 2 * sizeof(struct vring_desc);
		d->flags = VRING_DESC_F_INDIRECT;
		break;
	}
	/* poison the gap and the header so stale bytes are never mistaken for data */
	memset(buf, EMU_POISON, emu_rx_payload_off(g));
	emu_vring_make_avail(vr, head);
}

/* Fill the rx ring with buffers, as the Linux driver does at probe. */
void
emu_rx_fill(struct emu_guest *g)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_RX];
	uint16_t n = g->o.rx_layout == EMU_RX_SPLIT ? 2 : 1;
	uint16_t head;

	while (emu_vring_get_chain(vr, n, &head) == 0)
		emu_rx_post(g, head);
	emu_vring_publish(vr);
}

/* Consume up to @budget received packets and post their buffers again. */
int
emu_rx_poll(struct emu_guest *g, int budget)
{
	struct emu_vring *vr = &g->vq[VSOCK_VQ_RX];
	struct vsock_hdr h;
	uint32_t len;
	uint16_t head;
	uint8_t *buf;
	int n = 0, r;

	while (n < budget && (r = emu_vring_used(vr, &head, &len)) != 0) {
		if (r < 0) {
			g->st.used_bad++;
			continue;
		}
		n++;
		g->st.rx_bufs_used++;
		buf = g->rx_buf + (size_t)head * g->rx_stride;
		if (len < VSOCK_HDR_LEN || len - VSOCK_HDR_LEN > g->o.rx_buf_size) {
			g->st.rx_bad++;
			emu_log(g, "rx: used length %u for a %u-byte buffer", len,
				VSOCK_HDR_LEN + g->o.rx_buf_size);
		} else {
			vsock_hdr_decode(buf, &h);
			if (h.len != len - VSOCK_HDR_LEN) {
				g->st.rx_bad++;
				emu_log(g, "rx: %s header len %u, used length %u",
					vsock_op_name(h.op), h.len, len);
				if (h.len > len - VSOCK_HDR_LEN)
					h.len = len - VSOCK_HDR_LEN;
			}
			emu_sock_rx(g, &h, buf + emu_rx_payload_off(g));
		}
		emu_rx_post(g, head);
	}
	if (n) {
		emu_vring_publish(vr);
		emu_vring_used_done(vr);
		if (!g->o.no_kick && emu_vring_kick(vr))
			g->st.kicks++;
	}
	return n;
}

int
emu_send_raw(struct emu_guest *g, const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	int ret;

	if (g->ctrl_len > 0 && (emu_tx_flush_ctrl(g), g->ctrl_len > 0)) {
		emu_tx_done(g);
		return -EAGAIN;
	}
	ret = emu_tx_pkt(g, h, payload, len);
	emu_tx_done(g);
	return ret;
}

/* ---- the vhost-user socket in server mode ---- */

#define EMU_SRV_IO_TIMEOUT_S 30 /* a switch attaching a thousand guests may be slow */
#define EMU_SRV_BACKLOG 16

/* Listen on the socket path; a stale socket there is replaced (QEMU does the same). */
int
emu_vu_listen(struct emu_guest *g)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (g->lsock >= 0)
		return 0;
	if (strlen(g->o.socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, g->o.socket_path);
	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, EMU_SRV_BACKLOG) != 0) {
		err = errno;
		emu_log(g, "listen on %s: %s", sa.sun_path, strerror(err));
		close(fd);
		return -err;
	}
	g->lsock = fd;
	return 0;
}

/* Take the backend's connection, waiting up to @timeout_ms. */
int
emu_vu_accept(struct emu_guest *g, int timeout_ms)
{
	struct timeval tv = { .tv_sec = EMU_SRV_IO_TIMEOUT_S };
	uint64_t deadline = emu_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct pollfd p = { .fd = g->lsock, .events = POLLIN };
	int fd, left;

	if (g->lsock < 0)
		return -EINVAL;
	for (;;) {
		fd = accept4(g->lsock, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			return -errno;
		left = (int)(((int64_t)deadline - (int64_t)emu_now_ns()) / 1000000);
		if (left <= 0)
			return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		poll(&p, 1, left);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	g->sock = fd;
	return 0;
}

void
emu_vu_unlisten(struct emu_guest *g)
{
	if (g->lsock < 0)
		return;
	close(g->lsock);
	g->lsock = -1;
	unlink(g->o.socket_path);
}

struct emu_guest *
emu_guest_listen(const struct emu_guest_opts *o)
{
	struct emu_guest *g;
	int ret;

	if (o == NULL || !o->server) {
		errno = EINVAL;
		return NULL;
	}
	g = emu_guest_new(o, &ret);
	if (g == NULL) {
		errno = -ret;
		return NULL;
	}
	ret = emu_vu_listen(g);
	if (ret < 0) {
		emu_guest_destroy(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

int
emu_guest_accept(struct emu_guest *g, int timeout_ms)
{
	int ret;

	if (g->lsock < 0)
		return -EINVAL;
	if (g->sock >= 0)
		return -EISCONN;
	ret = emu_vu_accept(g, timeout_ms);
	if (ret < 0)
		return ret;
	/* a new session on the same memory: what the last one left is gone */
	g->dead = false;
	g->running = false;
	ret = emu_guest_attach(g);
	if (ret < 0) {
		close(g->sock);
		g->sock = -1;
		g->dead = true;
	}
	return ret;
}
