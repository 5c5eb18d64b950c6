/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Socket layer modelled on Linux's net/vmw_vsock/virtio_transport_common.c:
 * one receive function per socket state, credit in a few named helpers, RST
 * for packets nobody owns, SHUTDOWN/RST close sequence with a timeout.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_guest_pvt.h"

#define EMU_PORT_FIRST 1024u
#define EMU_PORT_LAST 0x7fffffffu

/* ---- credit (virtio_transport_get_credit and friends) ---- */

static uint32_t
emu_credit_get(const struct emu_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void
emu_credit_space_update(struct emu_conn *c, const struct vsock_hdr *h)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->credit_requested = false;
}

static bool
emu_credit_rx_fits(const struct emu_conn *c, uint32_t len)
{
	return (uint64_t)c->rx_bytes + len <= c->buf_alloc;
}

static void
emu_credit_consumed(struct emu_conn *c, uint32_t len)
{
	c->rx_bytes -= len;
	c->fwd_cnt += len;
}

/* Linux sends CREDIT_UPDATE once the peer's view of our free space is below one packet. */
static bool
emu_credit_update_due(const struct emu_conn *c)
{
	return c->buf_alloc - (c->fwd_cnt - c->last_fwd_cnt) < VSOCK_MAX_PKT_PAYLOAD;
}

/* ---- connection table ---- */

static unsigned int
emu_conn_hash(uint32_t local_port, uint64_t peer_cid, uint32_t peer_port)
{
	uint64_t k = ((uint64_t)local_port << 32 | peer_port) ^ (peer_cid * 0x9e3779b97f4a7c15ULL);

	k ^= k >> 29;
	k *= 0xbf58476d1ce4e5b9ULL;
	return (unsigned int)(k >> 40) % EMU_CONN_HASH;
}

static int
emu_conn_lookup(struct emu_guest *g, uint32_t local_port, uint64_t peer_cid, uint32_t peer_port)
{
	int i;

	for (i = g->conn_hash[emu_conn_hash(local_port, peer_cid, peer_port)]; i >= 0;
	     i = g->conns[i].hnext) {
		const struct emu_conn *c = &g->conns[i];

		if (c->local_port == local_port && c->peer_cid == peer_cid &&
		    c->peer_port == peer_port)
			return i;
	}
	return -1;
}

static int
emu_conn_new(struct emu_guest *g, uint16_t type, uint32_t local_port, uint64_t peer_cid,
	     uint32_t peer_port, int state)
{
	struct emu_conn *c;
	unsigned int b;
	int i;

	for (i = 0; i < g->nconns; i++)
		if (g->conns[i].state == 0)
			break;
	if (i == g->nconns) {
		int n = g->nconns ? g->nconns * 2 : 16;

		c = realloc(g->conns, sizeof(*c) * n);
		if (c == NULL)
			return -ENOMEM;
		memset(c + g->nconns, 0, sizeof(*c) * (n - g->nconns));
		g->conns = c;
		g->nconns = n;
	}
	c = &g->conns[i];
	memset(c, 0, sizeof(*c));
	c->state = state;
	c->type = type;
	c->local_port = local_port;
	c->peer_cid = peer_cid;
	c->peer_port = peer_port;
	c->buf_alloc = g->o.buf_alloc;
	b = emu_conn_hash(local_port, peer_cid, peer_port);
	c->hnext = g->conn_hash[b];
	g->conn_hash[b] = i;
	return i;
}

static void
emu_conn_drop_rx(struct emu_conn *c)
{
	struct emu_chunk *k;

	while ((k = c->rx_head) != NULL) {
		c->rx_head = k->next;
		free(k);
	}
	c->rx_tail = NULL;
	c->rx_bytes = 0;
	c->rx_sunk = 0;
	c->msg_count = 0;
}

static void
emu_conn_free(struct emu_guest *g, int id)
{
	struct emu_conn *c = &g->conns[id];
	int *p = &g->conn_hash[emu_conn_hash(c->local_port, c->peer_cid, c->peer_port)];

	while (*p != id)
		p = &g->conns[*p].hnext;
	*p = c->hnext;
	emu_conn_drop_rx(c);
	c->state = 0;
}

/* The connection behind an id the application holds, or NULL. */
static struct emu_conn *
emu_conn_get(struct emu_guest *g, int id)
{
	if (id < 0 || id >= g->nconns || g->conns[id].state == 0 || g->conns[id].orphan)
		return NULL;
	return &g->conns[id];
}

static struct emu_listener *
emu_listener_find(struct emu_guest *g, uint32_t port)
{
	int i;

	for (i = 0; i < g->nlisteners; i++)
		if (g->listeners[i].port == port)
			return &g->listeners[i];
	return NULL;
}

static bool
emu_port_in_use(struct emu_guest *g, uint32_t port)
{
	int i;

	if (emu_listener_find(g, port) != NULL)
		return true;
	for (i = 0; i < g->nconns; i++)
		if (g->conns[i].state != 0 && g->conns[i].local_port == port)
			return true;
	return false;
}

void
emu_sock_init(struct emu_guest *g)
{
	struct timespec ts;
	int i;

	for (i = 0; i < EMU_CONN_HASH; i++)
		g->conn_hash[i] = -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	g->next_port = EMU_PORT_FIRST +
		(uint32_t)((ts.tv_nsec ^ (getpid() << 8)) % (EMU_PORT_LAST - EMU_PORT_FIRST));
}

void
emu_sock_fini(struct emu_guest *g)
{
	int i;

	for (i = 0; i < g->nconns; i++)
		emu_conn_drop_rx(&g->conns[i]);
	free(g->conns);
	free(g->listeners);
	g->conns = NULL;
	g->listeners = NULL;
	g->nconns = 0;
	g->nlisteners = 0;
}

/* Transport reset (driver stop): every connection is reset without a packet. */
void
emu_sock_reset_all(struct emu_guest *g)
{
	int i;

	for (i = 0; i < g->nconns; i++) {
		struct emu_conn *c = &g->conns[i];

		if (c->state == 0)
			continue;
		if (c->orphan) {
			emu_conn_free(g, i);
			continue;
		}
		if (c->state != EMU_CONN_CLOSED && c->error == 0)
			c->error = -ECONNRESET;
		c->state = EMU_CONN_CLOSED;
	}
}

/* ---- sending ---- */

static void
emu_sock_hdr(struct emu_guest *g, struct emu_conn *c, uint16_t op, uint32_t flags,
	     uint32_t len, struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = g->cid,
		.dst_cid = c->peer_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.len = len,
		.type = c->type,
		.op = op,
		.flags = flags,
		.buf_alloc = c->buf_alloc,
		.fwd_cnt = c->fwd_cnt,
	};
	c->last_fwd_cnt = c->fwd_cnt;
}

static void
emu_sock_send_ctrl(struct emu_guest *g, struct emu_conn *c, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h;

	emu_sock_hdr(g, c, op, flags, 0, &h);
	emu_tx_ctrl(g, &h);
}

/* virtio_transport_reset_no_sock: answer a packet nobody owns, unless it is an RST. */
static void
emu_sock_reset_no_sock(struct emu_guest *g, const struct vsock_hdr *in)
{
	struct vsock_hdr h = {
		.src_cid = g->cid,
		.dst_cid = in->src_cid,
		.src_port = in->dst_port,
		.dst_port = in->src_port,
		.type = in->type,
		.op = VSOCK_OP_RST,
	};

	if (in->op == VSOCK_OP_RST)
		return;
	g->st.rx_no_sock++;
	emu_tx_ctrl(g, &h);
}

/* ---- receiving, one function per state ---- */

static void
emu_sock_enqueue(struct emu_guest *g, struct emu_conn *c, const struct vsock_hdr *h,
		 const uint8_t *payload)
{
	uint32_t flags = 0;
	struct emu_chunk *k;

	if (c->type == VSOCK_TYPE_SEQPACKET) {
		flags = h->flags & VSOCK_SEQ_MASK;
		if (h->flags != flags || ((flags & VSOCK_SEQ_EOR) && !(flags & VSOCK_SEQ_EOM)))
			g->st.rx_bad++;
	} else if (h->flags != 0) {
		g->st.rx_bad++;
	}
	if (h->len == 0 && !(flags & VSOCK_SEQ_EOM))
		return;
	if (c->orphan) {
		c->fwd_cnt += h->len;
		return;
	}
	if (!emu_credit_rx_fits(c, h->len)) {
		g->st.rx_credit_overflow++;
		return;
	}
	if (c->rx_sink) {
		c->rx_sunk += h->len;
		c->rx_bytes += h->len;
		return;
	}
	k = malloc(sizeof(*k) + h->len);
	if (k == NULL) {
		g->st.rx_credit_overflow++;
		return;
	}
	k->next = NULL;
	k->len = h->len;
	k->off = 0;
	k->flags = flags;
	memcpy(k->data, payload, h->len);
	if (c->rx_tail)
		c->rx_tail->next = k;
	else
		c->rx_head = k;
	c->rx_tail = k;
	c->rx_bytes += h->len;
	if (flags & VSOCK_SEQ_EOM)
		c->msg_count++;
}

static void
emu_sock_recv_listen(struct emu_guest *g, struct emu_listener *l, const struct vsock_hdr *h)
{
	struct emu_conn *c;
	int id;

	if (h->op != VSOCK_OP_REQUEST || h->type != l->type || l->q_len == EMU_ACCEPT_BACKLOG) {
		emu_sock_reset_no_sock(g, h);
		return;
	}
	id = emu_conn_new(g, h->type, h->dst_port, h->src_cid, h->src_port, EMU_CONN_CONNECTED);
	if (id < 0) {
		emu_sock_reset_no_sock(g, h);
		return;
	}
	c = &g->conns[id];
	emu_credit_space_update(c, h);
	emu_sock_send_ctrl(g, c, VSOCK_OP_RESPONSE, 0);
	l->q[(l->q_head + l->q_len) % EMU_ACCEPT_BACKLOG] = id;
	l->q_len++;
}

static void
emu_sock_recv_connecting(struct emu_guest *g, struct emu_conn *c, const struct vsock_hdr *h)
{
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		c->state = EMU_CONN_CONNECTED;
		break;
	case VSOCK_OP_INVALID:
		break;
	case VSOCK_OP_RST:
		c->state = EMU_CONN_CLOSED;
		c->error = -ECONNREFUSED;
		break;
	default:
		g->st.rx_bad++;
		emu_sock_send_ctrl(g, c, VSOCK_OP_RST, 0);
		c->state = EMU_CONN_CLOSED;
		c->error = -EPROTO;
		break;
	}
}

/* Returns true if the connection was freed. */
static bool
emu_sock_recv_connected(struct emu_guest *g, int id, const struct vsock_hdr *h,
			const uint8_t *payload)
{
	struct emu_conn *c = &g->conns[id];

	switch (h->op) {
	case VSOCK_OP_RW:
		emu_sock_enqueue(g, c, h, payload);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		emu_sock_send_ctrl(g, c, VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (h->flags & ~VSOCK_SHUTDOWN_MASK)
			g->st.rx_bad++;
		c->peer_shut |= h->flags & VSOCK_SHUTDOWN_MASK;
		c->state = EMU_CONN_CLOSING;
		if (c->peer_shut == VSOCK_SHUTDOWN_MASK &&
		    ((c->rx_head == NULL && c->rx_sunk == 0) || c->orphan)) {
			emu_sock_send_ctrl(g, c, VSOCK_OP_RST, 0);
			c->state = EMU_CONN_CLOSED;
			if (c->orphan) {
				emu_conn_free(g, id);
				return true;
			}
		}
		break;
	case VSOCK_OP_RST:
		if (c->orphan) {
			emu_conn_free(g, id);
			return true;
		}
		if (c->peer_shut != VSOCK_SHUTDOWN_MASK && c->shut != VSOCK_SHUTDOWN_MASK)
			c->error = -ECONNRESET;
		c->state = EMU_CONN_CLOSED;
		break;
	default:
		g->st.rx_bad++;
		break;
	}
	return false;
}

/* Entry point for every packet taken from the rx ring; @payload holds h->len bytes. */
void
emu_sock_rx(struct emu_guest *g, const struct vsock_hdr *h, const uint8_t *payload)
{
	struct emu_listener *l;
	struct emu_conn *c;
	int id;

	g->st.rx_pkts[h->op < EMU_STATS_OPS ? h->op : 0]++;
	if (h->op == VSOCK_OP_RW)
		g->st.rx_bytes += h->len;
	if (h->dst_cid != g->cid) {
		g->st.rx_misrouted++;
		return;
	}
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_MAX) {
		g->st.rx_bad++;
		return;
	}
	if (h->op != VSOCK_OP_RW && h->len != 0)
		g->st.rx_bad++;
	if (h->type != VSOCK_TYPE_STREAM && !(h->type == VSOCK_TYPE_SEQPACKET && g->seqpacket)) {
		g->st.rx_bad++;
		emu_sock_reset_no_sock(g, h);
		return;
	}
	id = emu_conn_lookup(g, h->dst_port, h->src_cid, h->src_port);
	if (id < 0) {
		l = emu_listener_find(g, h->dst_port);
		if (l != NULL)
			emu_sock_recv_listen(g, l, h);
		else
			emu_sock_reset_no_sock(g, h);
		return;
	}
	c = &g->conns[id];
	if (c->type != h->type) {
		emu_sock_reset_no_sock(g, h);
		return;
	}
	emu_credit_space_update(c, h);
	switch (c->state) {
	case EMU_CONN_CONNECTING:
		emu_sock_recv_connecting(g, c, h);
		break;
	case EMU_CONN_CONNECTED:
	case EMU_CONN_CLOSING:
		emu_sock_recv_connected(g, id, h, payload);
		break;
	default: /* CLOSED: like Linux's recv_disconnecting, only an RST matters */
		if (h->op == VSOCK_OP_RST && c->orphan)
			emu_conn_free(g, id);
		break;
	}
}

/* Orphans whose peer never answered our SHUTDOWN: RST them (VSOCK_CLOSE_TIMEOUT). */
int
emu_sock_expire(struct emu_guest *g, uint64_t now_ns)
{
	int i, n = 0;

	for (i = 0; i < g->nconns; i++) {
		struct emu_conn *c = &g->conns[i];

		if (c->state == 0 || !c->orphan || now_ns < c->close_deadline_ns)
			continue;
		if (c->state != EMU_CONN_CLOSED)
			emu_sock_send_ctrl(g, c, VSOCK_OP_RST, 0);
		emu_conn_free(g, i);
		n++;
	}
	return n;
}

/* ---- the application side ---- */

static bool
emu_type_ok(struct emu_guest *g, uint16_t type)
{
	return type == VSOCK_TYPE_STREAM || (type == VSOCK_TYPE_SEQPACKET && g->seqpacket);
}

int
emu_listen(struct emu_guest *g, uint32_t port, uint16_t type)
{
	struct emu_listener *l;

	if (type != VSOCK_TYPE_STREAM && type != VSOCK_TYPE_SEQPACKET)
		return -EINVAL;
	if (g->running && !emu_type_ok(g, type))
		return -ESOCKTNOSUPPORT;
	if (port == VSOCK_PORT_ANY)
		return -EINVAL;
	if (emu_port_in_use(g, port))
		return -EADDRINUSE;
	l = realloc(g->listeners, sizeof(*l) * (g->nlisteners + 1));
	if (l == NULL)
		return -ENOMEM;
	g->listeners = l;
	l = &g->listeners[g->nlisteners++];
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->type = type;
	return 0;
}

int
emu_accept(struct emu_guest *g, uint32_t port)
{
	struct emu_listener *l = emu_listener_find(g, port);
	int id;

	if (l == NULL)
		return -EINVAL;
	if (l->q_len == 0)
		return -EAGAIN;
	id = l->q[l->q_head];
	l->q_head = (l->q_head + 1) % EMU_ACCEPT_BACKLOG;
	l->q_len--;
	return id;
}

int
emu_connect(struct emu_guest *g, uint64_t cid, uint32_t port, uint16_t type)
{
	uint32_t p = 0, tries;
	int id;

	if (!g->running)
		return -ENOTCONN;
	if (!emu_type_ok(g, type))
		return type == VSOCK_TYPE_SEQPACKET ? -ESOCKTNOSUPPORT : -EINVAL;
	for (tries = 0; tries < 1000; tries++) {
		p = g->next_port++;
		if (g->next_port > EMU_PORT_LAST)
			g->next_port = EMU_PORT_FIRST;
		if (!emu_port_in_use(g, p))
			break;
	}
	if (tries == 1000)
		return -EADDRNOTAVAIL;
	id = emu_conn_new(g, type, p, cid, port, EMU_CONN_CONNECTING);
	if (id < 0)
		return id;
	emu_sock_send_ctrl(g, &g->conns[id], VSOCK_OP_REQUEST, 0);
	emu_tx_done(g);
	return id;
}

int
emu_conn_state(struct emu_guest *g, int conn)
{
	struct emu_conn *c = emu_conn_get(g, conn);

	return c ? c->state : -EBADF;
}

int
emu_conn_error(struct emu_guest *g, int conn)
{
	struct emu_conn *c = emu_conn_get(g, conn);

	return c ? c->error : -EBADF;
}

int
emu_conn_info(struct emu_guest *g, int conn, struct emu_conn_info *info)
{
	struct emu_conn *c = emu_conn_get(g, conn);

	if (c == NULL)
		return -EBADF;
	*info = (struct emu_conn_info){
		.type = c->type,
		.local_port = c->local_port,
		.peer_cid = c->peer_cid,
		.peer_port = c->peer_port,
		.buf_alloc = c->buf_alloc,
		.fwd_cnt = c->fwd_cnt,
		.rx_queued = c->rx_bytes,
		.peer_buf_alloc = c->peer_buf_alloc,
		.peer_fwd_cnt = c->peer_fwd_cnt,
		.tx_cnt = c->tx_cnt,
		.credit = emu_credit_get(c),
		.shut = c->shut,
		.peer_shut = c->peer_shut,
	};
	return 0;
}

static ssize_t
emu_send_stream(struct emu_guest *g, struct emu_conn *c, const uint8_t *buf, size_t len)
{
	struct vsock_hdr h;
	size_t done = 0;
	uint32_t n;

	while (done < len) {
		n = emu_credit_get(c);
		if (n == 0)
			break;
		if (n > len - done)
			n = len - done;
		if (n > g->o.tx_pkt_size)
			n = g->o.tx_pkt_size;
		emu_sock_hdr(g, c, VSOCK_OP_RW, 0, n, &h);
		if (emu_tx_pkt(g, &h, buf + done, n) < 0)
			break;
		c->tx_cnt += n;
		done += n;
	}
	return done ? (ssize_t)done : -EAGAIN;
}

static ssize_t
emu_send_seqpacket(struct emu_guest *g, struct emu_conn *c, const uint8_t *buf, size_t len,
		   bool eor)
{
	uint32_t pkt = g->o.tx_pkt_size, n, flags;
	unsigned int descs = 0;
	struct vsock_hdr h;
	size_t off;

	if (len > c->peer_buf_alloc)
		return -EMSGSIZE;
	if (emu_credit_get(c) < len) {
		/*
		 * The peer only advertises credit once its free space looks low,
		 * so a large message could wait forever: ask, once per stall.
		 */
		if (!c->credit_requested) {
			emu_sock_send_ctrl(g, c, VSOCK_OP_CREDIT_REQUEST, 0);
			c->credit_requested = true;
		}
		return -EAGAIN;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < pkt ? len - off : pkt;
		descs += emu_tx_descs(g, n);
	}
	if (descs > emu_tx_free_descs(g)) {
		g->st.tx_ring_full++;
		return -EAGAIN;
	}
	off = 0;
	do {
		n = len - off < pkt ? len - off : pkt;
		flags = off + n == len ? VSOCK_SEQ_EOM | (eor ? VSOCK_SEQ_EOR : 0) : 0;
		emu_sock_hdr(g, c, VSOCK_OP_RW, flags, n, &h);
		if (emu_tx_pkt(g, &h, buf + off, n) < 0)
			return -EIO; /* cannot happen: descriptors were counted */
		off += n;
	} while (off < len);
	c->tx_cnt += len;
	return len;
}

ssize_t
emu_send_msg(struct emu_guest *g, int conn, const void *buf, size_t len, bool eor)
{
	struct emu_conn *c = emu_conn_get(g, conn);
	ssize_t ret;

	if (c == NULL)
		return -EBADF;
	if (c->state == EMU_CONN_CONNECTING)
		return -ENOTCONN;
	if (c->error)
		return c->error;
	if (c->state == EMU_CONN_CLOSED || (c->shut & VSOCK_SHUTDOWN_SEND) ||
	    (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return -EPIPE;
	if (!g->running)
		return -ENOTCONN;
	/* data never overtakes queued control packets */
	if (g->ctrl_len > 0 && (emu_tx_flush_ctrl(g), g->ctrl_len > 0)) {
		emu_tx_done(g);
		return -EAGAIN;
	}
	/* like Linux, an empty send puts nothing on the wire, on either socket type */
	if (len == 0)
		ret = 0;
	else if (c->type == VSOCK_TYPE_SEQPACKET)
		ret = emu_send_seqpacket(g, c, buf, len, eor);
	else
		ret = emu_send_stream(g, c, buf, len);
	emu_tx_done(g);
	return ret;
}

ssize_t
emu_send(struct emu_guest *g, int conn, const void *buf, size_t len)
{
	return emu_send_msg(g, conn, buf, len, false);
}

static size_t
emu_recv_stream(struct emu_conn *c, uint8_t *buf, size_t len)
{
	struct emu_chunk *k;
	size_t done = 0;
	uint32_t n;

	while (done < len && (k = c->rx_head) != NULL) {
		n = k->len - k->off;
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, k->data + k->off, n);
		k->off += n;
		done += n;
		if (k->off == k->len) {
			c->rx_head = k->next;
			if (c->rx_head == NULL)
				c->rx_tail = NULL;
			free(k);
		}
	}
	/* sunk bytes arrived after every stored chunk: consume them without a copy */
	if (c->rx_head == NULL && done < len && c->rx_sunk > 0) {
		n = c->rx_sunk < len - done ? c->rx_sunk : (uint32_t)(len - done);
		c->rx_sunk -= n;
		done += n;
	}
	emu_credit_consumed(c, done);
	return done;
}

/* One whole message, truncated to @len; the rest of it is dropped. */
static size_t
emu_recv_seqpacket(struct emu_conn *c, uint8_t *buf, size_t len, bool *eor)
{
	struct emu_chunk *k;
	uint32_t total = 0, n;
	size_t done = 0;
	bool end = false;

	while (!end && (k = c->rx_head) != NULL) {
		n = k->len;
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, k->data, n);
		done += n;
		total += k->len;
		end = k->flags & VSOCK_SEQ_EOM;
		if (end && eor)
			*eor = k->flags & VSOCK_SEQ_EOR;
		c->rx_head = k->next;
		if (c->rx_head == NULL)
			c->rx_tail = NULL;
		free(k);
	}
	c->msg_count--;
	emu_credit_consumed(c, total);
	return done;
}

ssize_t
emu_recv(struct emu_guest *g, int conn, void *buf, size_t len, bool *eor)
{
	struct emu_conn *c = emu_conn_get(g, conn);
	bool have;
	size_t n;

	if (eor)
		*eor = false;
	if (c == NULL)
		return -EBADF;
	if (c->state == EMU_CONN_CONNECTING)
		return -ENOTCONN;
	have = c->type == VSOCK_TYPE_SEQPACKET ? c->msg_count > 0 :
						 c->rx_head != NULL || c->rx_sunk > 0;
	if (!have) {
		if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) || c->state == EMU_CONN_CLOSED ||
		    (c->shut & VSOCK_SHUTDOWN_RCV))
			return 0;
		return -EAGAIN;
	}
	if (c->type == VSOCK_TYPE_SEQPACKET)
		n = emu_recv_seqpacket(c, buf, len, eor);
	else
		n = emu_recv_stream(c, buf, len);
	if (c->state != EMU_CONN_CLOSED && g->running && emu_credit_update_due(c)) {
		emu_sock_send_ctrl(g, c, VSOCK_OP_CREDIT_UPDATE, 0);
		emu_tx_done(g);
	}
	return n;
}

int
emu_shutdown(struct emu_guest *g, int conn, int how)
{
	struct emu_conn *c = emu_conn_get(g, conn);
	uint32_t flags;

	if (c == NULL)
		return -EBADF;
	switch (how) {
	case SHUT_RD:
		flags = VSOCK_SHUTDOWN_RCV;
		break;
	case SHUT_WR:
		flags = VSOCK_SHUTDOWN_SEND;
		break;
	case SHUT_RDWR:
		flags = VSOCK_SHUTDOWN_MASK;
		break;
	default:
		return -EINVAL;
	}
	if (c->state != EMU_CONN_CONNECTED && c->state != EMU_CONN_CLOSING)
		return -ENOTCONN;
	c->shut |= flags;
	c->state = EMU_CONN_CLOSING;
	emu_sock_send_ctrl(g, c, VSOCK_OP_SHUTDOWN, flags);
	emu_tx_done(g);
	return 0;
}

int
emu_close(struct emu_guest *g, int conn)
{
	struct emu_conn *c = emu_conn_get(g, conn);

	if (c == NULL)
		return -EBADF;
	if (c->state == EMU_CONN_CONNECTING || c->state == EMU_CONN_CLOSED || !g->running) {
		emu_conn_free(g, conn);
		return 0;
	}
	emu_conn_drop_rx(c);
	if (c->peer_shut == VSOCK_SHUTDOWN_MASK) {
		emu_sock_send_ctrl(g, c, VSOCK_OP_RST, 0);
		emu_conn_free(g, conn);
	} else {
		if (c->shut != VSOCK_SHUTDOWN_MASK)
			emu_sock_send_ctrl(g, c, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_MASK);
		c->shut = VSOCK_SHUTDOWN_MASK;
		c->state = EMU_CONN_CLOSING;
		c->orphan = true;
		c->close_deadline_ns = emu_now_ns() + EMU_CLOSE_TIMEOUT_NS;
	}
	emu_tx_done(g);
	return 0;
}

int
emu_set_rx_sink(struct emu_guest *g, int conn, bool on)
{
	struct emu_conn *c = emu_conn_get(g, conn);

	if (c == NULL)
		return -EBADF;
	if (c->type != VSOCK_TYPE_STREAM)
		return -EPROTOTYPE;
	c->rx_sink = on;
	return 0;
}
