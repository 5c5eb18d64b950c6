/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * The host end of a vsock connection, modelled on Linux's
 * virtio_transport_common.c: one receive function per state, credit in a few
 * named helpers, and the host socket on the other side.
 *
 * Guest -> host: RW payload goes straight from the packet's mbufs to the host
 * socket; what the socket does not take waits in a byte ring of at most buf_alloc
 * bytes (the guest's credit guarantees it fits), and the mbufs are freed at once.
 * fwd_cnt counts bytes written to the host socket.
 *
 * Host -> guest: the socket is read only while the guest has credit and the
 * connection's packet queue has room; packets the switch does not take now stay
 * queued, in order, and are offered again next round.
 *
 * Close: a host program's EOF becomes SHUTDOWN SEND once everything it wrote is
 * queued (plus RCV when it closed its socket entirely); a guest's SHUTDOWN SEND
 * becomes shutdown(SHUT_WR) on the host socket once everything the guest sent was
 * written. A guest that shut down both ways gets an RST once its data is written;
 * after our own SHUTDOWN RCV|SEND we wait for the guest's RST (Linux's close).
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "host_port_pvt.h"
#include "vs_switch.h"

/*
 * An explicit CREDIT_UPDATE goes out when the guest's view of our free space is
 * below half of buf_alloc and it would learn of at least a quarter of it again:
 * a guest that streams keeps a packet or more of credit while the update travels
 * (waiting until its view is empty stalls it for a whole round trip per window),
 * and one update covers several packets. At most one per connection per round.
 */
#define HP_CREDIT_LOW_DIV 2
#define HP_CREDIT_DIV 4

/* Pieces of one mbuf chain, from @off on. */
#define HP_MBUF_IOV (VSOCK_MAX_PKT_PAYLOAD / 2048 + 2)
/* RW packets filled by one read of a STREAM host socket (the guest's usual
 * window, 256 KiB), and by the largest SEQPACKET message. */
#define HP_READ_PKTS 4u
#define HP_MSG_PKTS (HP_MSG_MAX / VSOCK_MAX_PKT_PAYLOAD)

/* ---- credit (virtio_transport_get_credit and friends) ---- */

/* Bytes the guest lets us send now. */
static inline uint32_t
hp_credit_get(const struct hp_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Whether @len more bytes from the guest stay within what we advertised. */
static inline bool
hp_credit_rx_fits(const struct hp_conn *c, uint32_t len)
{
	return (uint64_t)(c->rx_cnt - c->fwd_cnt) + len <= hp.conf.buf_alloc;
}

/* @n guest bytes left us (written to the host, or thrown away). */
static inline void
hp_credit_consumed(struct hp_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
}

/* Whether an explicit CREDIT_UPDATE is worth a packet now. */
static bool
hp_credit_update_due(const struct hp_conn *c)
{
	uint32_t seen = c->rx_cnt - c->fwd_cnt_sent;
	uint32_t view_free = seen > hp.conf.buf_alloc ? 0 : hp.conf.buf_alloc - seen;
	uint32_t low = hp.conf.buf_alloc / HP_CREDIT_LOW_DIV;
	uint32_t threshold = hp.conf.buf_alloc / HP_CREDIT_DIV;

	if (c->credit_req)
		return true;
	return view_free < low && c->fwd_cnt - c->fwd_cnt_sent >= threshold;
}

/* ---- buffers ---- */

static int
hp_ring_reserve(struct hp_ring *r)
{
	if (r->buf != NULL)
		return 0;
	r->cap = hp.conf.buf_alloc;
	r->buf = malloc(r->cap);
	r->head = 0;
	r->len = 0;
	return r->buf == NULL ? -ENOMEM : 0;
}

static void
hp_ring_put(struct hp_ring *r, const uint8_t *src, uint32_t len)
{
	uint32_t tail = (r->head + r->len) % r->cap;
	uint32_t first = RTE_MIN(len, r->cap - tail);

	memcpy(r->buf + tail, src, first);
	memcpy(r->buf, src + first, len - first);
	r->len += len;
	hp_buffered_add(len);
}

/* Up to @len bytes from the front, as at most two pieces. */
static unsigned int
hp_ring_iov(const struct hp_ring *r, uint32_t len, struct iovec *iov)
{
	uint32_t first = RTE_MIN(len, r->cap - r->head);

	if (len == 0)
		return 0;
	iov[0].iov_base = r->buf + r->head;
	iov[0].iov_len = first;
	if (first == len)
		return 1;
	iov[1].iov_base = r->buf;
	iov[1].iov_len = len - first;
	return 2;
}

static void
hp_ring_consume(struct hp_ring *r, uint32_t n)
{
	r->head = (r->head + n) % r->cap;
	r->len -= n;
	hp_buffered_add(-(int64_t)n);
	/* Memory only while data waits. */
	if (r->len == 0) {
		free(r->buf);
		r->buf = NULL;
		r->head = 0;
	}
}

static int
hp_msgq_push(struct hp_msgq *q, uint32_t len)
{
	if (q->n == q->cap) {
		uint32_t ncap = q->cap ? q->cap * 2 : 16, i;
		uint32_t *nl = malloc(sizeof(*nl) * ncap);

		if (nl == NULL)
			return -ENOMEM;
		for (i = 0; i < q->n; i++)
			nl[i] = q->len[(q->head + i) % q->cap];
		free(q->len);
		q->len = nl;
		q->cap = ncap;
		q->head = 0;
	}
	q->len[(q->head + q->n) % q->cap] = len;
	q->n++;
	return 0;
}

static void
hp_msgq_pop(struct hp_msgq *q)
{
	q->head = (q->head + 1) % q->cap;
	q->n--;
	if (q->n == 0) {
		free(q->len);
		q->len = NULL;
		q->cap = 0;
		q->head = 0;
	}
}

/* Everything the guest sent that the host will never read: credit it back. */
static void
hp_rx_discard(struct hp_conn *c)
{
	hp_credit_consumed(c, c->rx.len);
	if (c->rx.buf != NULL)
		hp_ring_consume(&c->rx, c->rx.len);
	while (c->msgs.n > 0)
		hp_msgq_pop(&c->msgs);
	c->msg_partial = 0;
}

static void
hp_txq_drop(struct hp_conn *c)
{
	uint32_t i;

	for (i = 0; i < c->txq_len; i++)
		rte_pktmbuf_free(c->txq[i]);
	c->txq_len = 0;
}

static void
hp_stash_drop(struct hp_conn *c)
{
	free(c->stash);
	c->stash = NULL;
	c->stash_len = 0;
	c->stash_eom = false;
}

void
hp_conn_release(struct hp_conn *c)
{
	hp_rx_discard(c);
	hp_txq_drop(c);
	hp_stash_drop(c);
	c->pend = 0;
	if (c->state == HP_ST_LISTEN) {
		struct hp_conn **p = &hp.listens;

		while (*p != NULL && *p != c)
			p = &(*p)->lnext;
		if (*p == c)
			*p = c->lnext;
	}
}

/* ---- packets to the guest ---- */

static void
hp_hdr(const struct hp_conn *c, uint16_t op, uint32_t flags, uint32_t len, struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = c->cid,
		.src_port = c->hport,
		.dst_port = c->gport,
		.len = len,
		.type = c->type,
		.op = op,
		.flags = flags,
		.buf_alloc = hp.conf.buf_alloc,
		.fwd_cnt = c->fwd_cnt,
	};
}

static void
hp_count_tx(const struct vsock_hdr *h)
{
	hp.st.tx_pkts++;
	switch (h->op) {
	case VSOCK_OP_RW:
		hp.st.tx_rw++;
		hp.st.tx_bytes += h->len;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		hp.st.credit_updates++;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		hp.st.credit_asks++;
		break;
	case VSOCK_OP_RST:
		hp.st.rst_sent++;
		break;
	default:
		break;
	}
}

/* Queue a packet on @c; false if the queue is full or no mbuf is free. */
static bool
hp_txq_push(struct hp_conn *c, uint16_t op, uint32_t flags, const void *payload, uint32_t len)
{
	struct vsock_hdr h;
	struct rte_mbuf *m;

	if (c->txq_len == HP_TXQ)
		return false;
	hp_hdr(c, op, flags, len, &h);
	m = vs_pkt_alloc(&h, payload);
	if (m == NULL) {
		hp.st.no_mbuf++;
		return false;
	}
	c->fwd_cnt_sent = c->fwd_cnt;
	c->txq[c->txq_len++] = m;
	hp_count_tx(&h);
	return true;
}

static unsigned int
hp_txq_flush(struct hp_conn *c)
{
	unsigned int n;

	if (c->txq_len == 0)
		return 0;
	n = vs_host_send(c->txq, c->txq_len);
	c->tx_pkts += n;
	if (n < c->txq_len) {
		memmove(c->txq, c->txq + n, (c->txq_len - n) * sizeof(c->txq[0]));
		hp.st.send_stalls++;
	}
	c->txq_len -= n;
	return n;
}

/* An RST for a connection we no longer track (or never had). */
static void
hp_rst_to(uint64_t cid, uint32_t gport, uint32_t hport, uint16_t type)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_CID_HOST,
		.dst_cid = cid,
		.src_port = hport,
		.dst_port = gport,
		.type = type,
		.op = VSOCK_OP_RST,
	};
	struct rte_mbuf *m;

	if (hp.nloose == HP_LOOSE_MAX) {
		hp.st.lost_ctrl++;
		return;
	}
	m = vs_pkt_alloc(&h, NULL);
	if (m == NULL) {
		hp.st.lost_ctrl++;
		return;
	}
	hp.loose[hp.nloose++] = m;
	hp_count_tx(&h);
}

unsigned int
hp_loose_flush(void)
{
	unsigned int n;

	if (hp.nloose == 0)
		return 0;
	n = vs_host_send(hp.loose, hp.nloose);
	if (n < hp.nloose)
		memmove(hp.loose, hp.loose + n, (hp.nloose - n) * sizeof(hp.loose[0]));
	hp.nloose -= n;
	return n;
}

/* Abort: the guest gets an RST, the host program loses its socket. */
void
hp_conn_reset(struct hp_conn *c)
{
	if (c->hashed)
		hp_rst_to(c->cid, c->gport, c->hport, c->type);
	hp_conn_kill(c);
}

/* Control packets that could not be queued when they were due, in order. */
static void
hp_emit_ctrl(struct hp_conn *c)
{
	if (c->pend & HP_PEND_RESPONSE) {
		if (!hp_txq_push(c, VSOCK_OP_RESPONSE, 0, NULL, 0))
			return;
		c->pend &= ~HP_PEND_RESPONSE;
	}
	if (c->pend & HP_PEND_CREDIT) {
		if (!hp_txq_push(c, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0))
			return;
		c->pend &= ~HP_PEND_CREDIT;
		c->credit_req = false;
	}
	if ((c->pend & HP_PEND_SHUTDOWN) && c->stash_len == 0) {
		if (!hp_txq_push(c, VSOCK_OP_SHUTDOWN, c->shut, NULL, 0))
			return;
		c->pend &= ~HP_PEND_SHUTDOWN;
	}
}

/* ---- host socket I/O ---- */

static ssize_t
hp_sendv(int fd, struct iovec *iov, unsigned int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

	return r < 0 ? -errno : r;
}

/* Payload of @m from @off on as iovecs. */
static unsigned int
hp_mbuf_iov(const struct rte_mbuf *m, uint32_t off, struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;

	for (; m != NULL && n < max; m = m->next) {
		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		iov[n].iov_base = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
		iov[n].iov_len = m->data_len - off;
		off = 0;
		n++;
	}
	return n;
}

static void
hp_ring_put_mbuf(struct hp_conn *c, const struct rte_mbuf *m, uint32_t off)
{
	struct iovec iov[HP_MBUF_IOV];
	unsigned int i, n = hp_mbuf_iov(m, off, iov, RTE_DIM(iov));

	for (i = 0; i < n; i++)
		hp_ring_put(&c->rx, iov[i].iov_base, (uint32_t)iov[i].iov_len);
}

/* Writing to the host failed for good: the program is gone. */
static void
hp_host_gone(struct hp_conn *c, int err)
{
	if (!c->host_gone)
		HP_LOG(DEBUG, "guest %" PRIu64 " port %u -> host port %u: host socket: %s", c->cid,
		       c->gport, c->hport, strerror(-err));
	c->host_gone = true;
	c->writable = false;
	hp_rx_discard(c);
}

/* Guest data waiting in the ring -> host socket. */
static unsigned int
hp_rx_flush(struct hp_conn *c)
{
	unsigned int work = 0;
	struct iovec iov[2];
	uint32_t len;
	ssize_t n;

	while (c->rx.len > 0 && c->writable && !c->host_gone) {
		if (c->type == VSOCK_TYPE_SEQPACKET) {
			if (c->msgs.n == 0)
				break;
			len = c->msgs.len[c->msgs.head];
		} else {
			len = c->rx.len;
		}
		n = hp_sendv(c->fd, iov, hp_ring_iov(&c->rx, len, iov));
		if (n == -EAGAIN) {
			c->writable = false;
			break;
		}
		if (n < 0) {
			hp_host_gone(c, (int)n);
			break;
		}
		if (c->type == VSOCK_TYPE_SEQPACKET)
			hp_msgq_pop(&c->msgs);
		hp_ring_consume(&c->rx, (uint32_t)n);
		hp_credit_consumed(c, (uint32_t)n);
		work++;
	}
	return work;
}

/* An RW from the guest. */
static void
hp_recv_rw(struct hp_conn *c, const struct vsock_hdr *h, const struct rte_mbuf *m)
{
	bool seq = c->type == VSOCK_TYPE_SEQPACKET;
	bool eom = seq && (h->flags & VSOCK_SEQ_EOM);
	struct iovec iov[HP_MBUF_IOV];
	uint32_t len = h->len, off = 0;
	ssize_t n;

	if (!hp_credit_rx_fits(c, len)) {
		hp.st.credit_violations++;
		HP_LOG_RL(c->cid, NOTICE, "guest %" PRIu64 " port %u -> host port %u: %u bytes "
			  "beyond the credit it was given (%u buffered of %u): reset", c->cid,
			  c->gport, c->hport, len, c->rx_cnt - c->fwd_cnt, hp.conf.buf_alloc);
		hp_conn_reset(c);
		return;
	}
	c->rx_cnt += len;
	if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) || c->host_gone || c->host_wr_shut ||
	    c->fd < 0) {
		/* Nobody to give it to: consumed, so that the guest is not stuck. */
		hp_credit_consumed(c, len);
		return;
	}
	if (len == 0 && !eom)
		return;
	if (seq && eom && c->msg_partial == 0 && c->rx.len == 0) {
		/* A whole message: straight to the host, unless it would block. */
		if (len == 0)
			return; /* Linux never sends an empty message; nothing to deliver */
		if (c->writable) {
			n = hp_sendv(c->fd, iov, hp_mbuf_iov(m, 0, iov, RTE_DIM(iov)));
			if (n == (ssize_t)len) {
				hp_credit_consumed(c, len);
				return;
			}
			if (n != -EAGAIN) {
				/* EMSGSIZE: larger than the host socket's send buffer */
				hp_credit_consumed(c, len);
				hp_host_gone(c, n >= 0 ? -EMSGSIZE : (int)n);
				return;
			}
			c->writable = false;
		}
	} else if (!seq && c->rx.len == 0 && c->writable) {
		n = hp_sendv(c->fd, iov, hp_mbuf_iov(m, 0, iov, RTE_DIM(iov)));
		if (n == -EAGAIN) {
			c->writable = false;
		} else if (n < 0) {
			hp_credit_consumed(c, len);
			hp_host_gone(c, (int)n);
			return;
		} else {
			off = (uint32_t)n;
			hp_credit_consumed(c, off);
			if (off == len)
				return;
			c->writable = false;
		}
	}
	/* The rest waits for the host socket; credit says it fits. */
	if (hp_ring_reserve(&c->rx) != 0) {
		hp_credit_consumed(c, len - off);
		hp_host_gone(c, -ENOMEM);
		return;
	}
	hp_ring_put_mbuf(c, m, off);
	if (seq) {
		c->msg_partial += len;
		if (eom && c->msg_partial > 0) {
			if (hp_msgq_push(&c->msgs, c->msg_partial) != 0) {
				hp_host_gone(c, -ENOMEM);
				return;
			}
			c->msg_partial = 0;
		}
	}
}

/*
 * The guest's credit is short of what we have to send. A Linux guest advertises
 * fresh credit by itself once it consumed enough, so a STREAM connection asks
 * (CREDIT_REQUEST) only if that has not come after HP_CREDIT_ASK_MS; a SEQPACKET
 * message must fit whole, so it asks at once. Asking again backs off, doubling
 * up to HP_CREDIT_ASK_MAX_MS; a timer looks again meanwhile.
 */
static void
hp_credit_short(struct hp_conn *c)
{
	uint64_t now = hp.now_ms;
	bool due;

	c->credit_short = true;
	if (c->stall_ms == 0) {
		c->stall_ms = now;
		c->ask_every_ms = HP_CREDIT_ASK_MS;
	}
	if (c->ask_ms != 0)
		due = now - c->ask_ms >= c->ask_every_ms;
	else
		due = c->type == VSOCK_TYPE_SEQPACKET || now - c->stall_ms >= HP_CREDIT_ASK_MS;
	if (due && hp_txq_push(c, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0)) {
		if (c->ask_ms != 0)
			c->ask_every_ms = RTE_MIN(c->ask_every_ms * 2, (uint32_t)HP_CREDIT_ASK_MAX_MS);
		c->ask_ms = now;
	}
	hp_timer_set(c, now + (c->ask_ms != 0 ? c->ask_every_ms : HP_CREDIT_ASK_MS));
}

/* Enough credit again: the stall is over. */
static void
hp_credit_ok(struct hp_conn *c)
{
	if (c->stall_ms == 0)
		return;
	c->stall_ms = 0;
	c->ask_ms = 0;
	hp_timer_clear(c);
}

/* Keep @len bytes (of a message if @eom) for later. */
static int
hp_stash_put(struct hp_conn *c, const uint8_t *buf, uint32_t len, bool eom)
{
	c->stash = malloc(len);
	if (c->stash == NULL)
		return -ENOMEM;
	memcpy(c->stash, buf, len);
	c->stash_len = len;
	c->stash_eom = eom;
	return 0;
}

/*
 * Queue @len bytes from the host as RW packets of at most 64 KiB; on a SEQPACKET
 * connection the last one ends the message. What cannot be queued (no mbuf, queue
 * full) is stashed. Returns bytes queued.
 */
static uint32_t
hp_tx_data(struct hp_conn *c, const uint8_t *buf, uint32_t len, bool eom)
{
	uint32_t done = 0, n;

	while (done < len) {
		n = RTE_MIN(len - done, (uint32_t)VSOCK_MAX_PKT_PAYLOAD);
		if (!hp_txq_push(c, VSOCK_OP_RW, eom && done + n == len ? VSOCK_SEQ_EOM : 0,
				 buf + done, n))
			break;
		c->tx_cnt += n;
		done += n;
	}
	if (done < len && hp_stash_put(c, buf + done, len - done, eom) != 0) {
		HP_LOG_RL(c->cid, ERR, "out of memory: connection of guest %" PRIu64 " reset",
			  c->cid);
		hp_conn_reset(c);
	}
	return done;
}

/* Bytes held back earlier go first. Returns true when the stash is empty. */
static bool
hp_stash_flush(struct hp_conn *c)
{
	uint8_t *buf = c->stash;
	uint32_t len = c->stash_len, n;
	bool eom = c->stash_eom;

	if (len == 0)
		return true;
	if (eom) {
		/* A message (or its tail): all of it must fit the credit. */
		if (!c->stash_admitted && hp_credit_get(c) < len) {
			hp_credit_short(c);
			return false;
		}
		n = len;
	} else {
		n = RTE_MIN(len, hp_credit_get(c));
		if (n == 0) {
			hp_credit_short(c);
			return false;
		}
	}
	hp_credit_ok(c);
	c->stash = NULL;
	c->stash_len = 0;
	c->stash_eom = false;
	hp_tx_data(c, buf, n, eom);
	if (c->state != HP_ST_DEAD && n < len) {
		/* Stream: the part beyond the credit stays. */
		uint8_t *rest = c->stash;
		uint32_t rest_len = c->stash_len;

		c->stash = malloc(rest_len + len - n);
		if (c->stash == NULL) {
			free(rest);
			free(buf);
			hp_conn_reset(c);
			return false;
		}
		memcpy(c->stash, rest, rest_len);
		memcpy(c->stash + rest_len, buf + n, len - n);
		c->stash_len = rest_len + len - n;
		free(rest);
	}
	c->stash_admitted = c->stash_len > 0 && eom;
	free(buf);
	return c->state != HP_ST_DEAD && c->stash_len == 0;
}

/* Whether the host socket is shut for reading by its peer (end of file, not an
 * empty SEQPACKET message). */
static bool
hp_fd_rdhup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void
hp_host_eof(struct hp_conn *c)
{
	c->host_eof = true;
	c->readable = false;
}

/*
 * Up to @want bytes from the host socket, read in one recvmsg() straight into
 * the mbufs of the RW packets that carry them, and queued (no more packets than
 * the queue has room for). @msg: @want is one whole SEQPACKET message, whose last
 * packet ends it; reading less of it is an error. Returns bytes, 0 at end of
 * file, -ENOBUFS (no mbuf: try again later) or -errno.
 */
static ssize_t
hp_tx_read(struct hp_conn *c, uint32_t want, bool msg)
{
	struct iovec iov[HP_MSG_PKTS * HP_MBUF_IOV];
	struct rte_mbuf *m[HP_MSG_PKTS];
	struct msghdr mh = { .msg_iov = iov };
	unsigned int np, i, niov = 0;
	uint32_t done = 0, len, flags;
	struct vsock_hdr h;
	ssize_t n;

	np = (want + VSOCK_MAX_PKT_PAYLOAD - 1) / VSOCK_MAX_PKT_PAYLOAD;
	np = RTE_MIN(np, RTE_MIN((unsigned int)RTE_DIM(m), HP_TXQ - c->txq_len));
	for (i = 0; i < np; i++) {
		len = RTE_MIN(want - i * VSOCK_MAX_PKT_PAYLOAD, (uint32_t)VSOCK_MAX_PKT_PAYLOAD);
		m[i] = vs_pkt_room(len);
		if (m[i] == NULL) {
			hp.st.no_mbuf++;
			break;
		}
		niov += hp_mbuf_iov(m[i], 0, iov + niov, HP_MBUF_IOV);
	}
	if (msg && i * VSOCK_MAX_PKT_PAYLOAD < want) {
		/* A message is read whole or not at all. */
		for (; i > 0; i--)
			rte_pktmbuf_free(m[i - 1]);
	}
	np = i;
	if (np == 0)
		return -ENOBUFS;
	mh.msg_iovlen = niov;
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		n = -errno;
	else if (msg && n != (ssize_t)want)
		n = -EIO; /* the message changed under us: cannot happen */
	for (i = 0; i < np; i++) {
		len = n > 0 ? RTE_MIN((uint32_t)n - done, m[i]->pkt_len) : 0;
		if (len == 0) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		flags = msg && done + len == want ? VSOCK_SEQ_EOM : 0;
		hp_hdr(c, VSOCK_OP_RW, flags, len, &h);
		vs_pkt_finish(m[i], &h);
		c->fwd_cnt_sent = c->fwd_cnt;
		c->txq[c->txq_len++] = m[i];
		hp_count_tx(&h);
		c->tx_cnt += len;
		done += len;
	}
	return n;
}

/* One SEQPACKET message from the host, if the guest can take it whole. */
static int
hp_tx_fill_msg(struct hp_conn *c)
{
	ssize_t len, n;
	uint32_t pieces;

	len = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (len < 0) {
		if (errno == EAGAIN)
			c->readable = false;
		else
			hp_host_eof(c);
		return 0;
	}
	if (len == 0) {
		if (hp_fd_rdhup(c->fd)) {
			hp_host_eof(c);
			return 0;
		}
		/* An empty message: vsock has no such thing, drop it. */
		n = recv(c->fd, hp.scratch, 1, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN) {
			hp_host_eof(c);
			return 0;
		}
		return 1;
	}
	if ((size_t)len > HP_MSG_MAX || (uint32_t)len > c->peer_buf_alloc) {
		HP_LOG(NOTICE, "host -> guest %" PRIu64 " port %u: %zd-byte message larger than "
		       "the guest's buffer (%u): reset", c->cid, c->gport, len, c->peer_buf_alloc);
		hp.st.proto_errors++;
		hp_conn_reset(c);
		return 0;
	}
	if (hp_credit_get(c) < (uint32_t)len) {
		hp_credit_short(c);
		return 0;
	}
	hp_credit_ok(c);
	pieces = ((uint32_t)len + VSOCK_MAX_PKT_PAYLOAD - 1) / VSOCK_MAX_PKT_PAYLOAD;
	if (HP_TXQ - c->txq_len < pieces)
		return 0;
	n = hp_tx_read(c, (uint32_t)len, true);
	if (n == -ENOBUFS)
		return 0;
	if (n != len) {
		hp_host_eof(c);
		return 0;
	}
	return 1;
}

/* Host socket -> packets for the guest, within its credit. */
static unsigned int
hp_tx_fill(struct hp_conn *c)
{
	unsigned int reads, work = 0;
	uint32_t want;
	ssize_t n;

	if ((c->pend & HP_PEND_RESPONSE) || c->host_eof || (c->shut & VSOCK_SHUTDOWN_SEND) ||
	    (c->peer_shut & VSOCK_SHUTDOWN_RCV) || c->fd < 0)
		return 0;
	if (!hp_stash_flush(c))
		return 0;
	for (reads = 0; reads < HP_READS_PER_ROUND && c->readable && c->state == HP_ST_CONNECTED;
	     reads++) {
		if (c->txq_len >= HP_TXQ / 2)
			break;
		if (c->type == VSOCK_TYPE_SEQPACKET) {
			int r = hp_tx_fill_msg(c);

			if (r <= 0)
				break;
			work++;
			continue;
		}
		want = RTE_MIN(hp_credit_get(c), HP_READ_PKTS * (uint32_t)VSOCK_MAX_PKT_PAYLOAD);
		if (want == 0) {
			hp_credit_short(c);
			break;
		}
		hp_credit_ok(c);
		n = hp_tx_read(c, want, false);
		if (n > 0) {
			work++;
			continue;
		}
		if (n == -EAGAIN) {
			c->readable = false;
			break;
		}
		if (n != -ENOBUFS)
			hp_host_eof(c);
		break;
	}
	return work;
}

/* Half-close and close, both directions; may kill @c. */
static void
hp_conn_progress(struct hp_conn *c)
{
	uint32_t want;

	/* Guest will send no more: the host reads EOF after the last byte. */
	if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && c->rx.len == 0 && c->msg_partial == 0 &&
	    !c->host_wr_shut && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	/* Guest will read no more: the host's writes fail (EPIPE). */
	if ((c->peer_shut & VSOCK_SHUTDOWN_RCV) && !c->host_rd_shut && c->fd >= 0) {
		shutdown(c->fd, SHUT_RD);
		c->host_rd_shut = true;
		hp_stash_drop(c);
	}
	/* Guest closed: once its data is written, end it with an RST (Linux waits for it). */
	if (c->peer_shut == VSOCK_SHUTDOWN_MASK && (c->rx.len == 0 || c->host_gone)) {
		hp_conn_reset(c);
		return;
	}
	/* Host sent EOF: SHUTDOWN SEND after the last byte; RCV too if nobody reads. */
	if (c->host_eof && c->stash_len == 0) {
		want = VSOCK_SHUTDOWN_SEND;
		if (c->hup || c->host_gone || c->host_wr_shut)
			want |= VSOCK_SHUTDOWN_RCV;
		if ((c->shut | want) != c->shut) {
			c->shut |= want;
			c->pend |= HP_PEND_SHUTDOWN;
		}
	}
	/* Host program closed after a half-close: tell the guest it may not write. */
	if ((c->shut & VSOCK_SHUTDOWN_SEND) && !(c->shut & VSOCK_SHUTDOWN_RCV) &&
	    (c->hup || c->host_gone)) {
		c->shut |= VSOCK_SHUTDOWN_RCV;
		c->pend |= HP_PEND_SHUTDOWN;
	}
	if (c->shut == VSOCK_SHUTDOWN_MASK && c->state == HP_ST_CONNECTED) {
		/* Nothing more goes to or comes from the host program. */
		hp_conn_set_state(c, HP_ST_CLOSING);
		hp_conn_set_fd(c, -1);
		hp_timer_set(c, hp.now_ms + HP_CLOSE_TIMEOUT_MS);
	}
}

/* Whether the next round has something to try without a new event. */
static bool
hp_conn_wants_run(const struct hp_conn *c)
{
	if (c->txq_len > 0 || c->pend != 0)
		return true;
	if (c->state != HP_ST_CONNECTED)
		return false;
	if (c->rx.len > 0 && c->writable && !c->host_gone)
		return true;
	if (c->host_eof || (c->shut & VSOCK_SHUTDOWN_SEND) || (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return false;
	if (c->stash_len > 0 && (c->stash_admitted || (hp_credit_get(c) > 0 && !c->credit_short)))
		return true;
	return c->readable && c->txq_len < HP_TXQ / 2 && hp_credit_get(c) > 0 && !c->credit_short;
}

unsigned int
hp_conn_run(struct hp_conn *c)
{
	unsigned int work = 0;

	switch (c->state) {
	case HP_ST_LINE:
	case HP_ST_LISTEN:
		return hp_line_run(c);
	case HP_ST_CONNECTED:
		hp_emit_ctrl(c);
		work += hp_rx_flush(c);
		work += hp_tx_fill(c);
		if (c->state == HP_ST_DEAD)
			return work + 1;
		hp_conn_progress(c);
		if (c->state == HP_ST_DEAD)
			return work + 1;
		if (c->state == HP_ST_CONNECTED && hp_credit_update_due(c))
			c->pend |= HP_PEND_CREDIT;
		break;
	default:
		break;
	}
	hp_emit_ctrl(c);
	work += hp_txq_flush(c);
	if (hp_conn_wants_run(c))
		hp_activate(c);
	return work;
}

/* ---- receiving, one function per state ---- */

/* We sent a REQUEST (host-initiated). */
static void
hp_recv_connecting(struct hp_conn *c, const struct vsock_hdr *h)
{
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		hp_conn_set_state(c, HP_ST_CONNECTED);
		hp_timer_clear(c);
		hp.st.conns_host++;
		hp_connected_reply(c);
		break;
	case VSOCK_OP_RST:
		hp_line_error(c, ECONNREFUSED, "guest %" PRIu64 " refused port %u", c->cid,
			      c->gport);
		break;
	default:
		hp.st.proto_errors++;
		hp_rst_to(c->cid, c->gport, c->hport, c->type);
		hp_line_error(c, ECONNRESET, "guest %" PRIu64 " answered with %s", c->cid,
			      vsock_op_name(h->op));
		break;
	}
}

static void
hp_recv_connected(struct hp_conn *c, const struct vsock_hdr *h, const struct rte_mbuf *m)
{
	switch (h->op) {
	case VSOCK_OP_RW:
		hp_recv_rw(c, h, m);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		hp.st.credit_requests++;
		c->credit_req = true;
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h->flags & VSOCK_SHUTDOWN_MASK;
		break;
	case VSOCK_OP_RST:
		/* Abort; whatever the host socket takes now still gets there. */
		if (c->fd >= 0 && !c->host_gone) {
			c->writable = true;
			hp_rx_flush(c);
		}
		hp_conn_kill(c);
		break;
	default:
		hp.st.proto_errors++;
		hp_conn_reset(c);
		break;
	}
}

/* We sent SHUTDOWN RCV|SEND: only the end matters. */
static void
hp_recv_closing(struct hp_conn *c, const struct vsock_hdr *h)
{
	switch (h->op) {
	case VSOCK_OP_RST:
		hp_conn_kill(c);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h->flags & VSOCK_SHUTDOWN_MASK;
		if (c->peer_shut == VSOCK_SHUTDOWN_MASK)
			hp_conn_reset(c);
		break;
	case VSOCK_OP_RW:
		c->rx_cnt += h->len;
		hp_credit_consumed(c, h->len);
		break;
	default:
		break;
	}
}

/* A REQUEST for host port @h->dst_port: a LISTEN-er, else the guest's <uds>_<port>. */
static void
hp_guest_request(const struct vsock_hdr *h)
{
	struct hp_conn *lc = hp_listener_find(h->dst_port, h->src_cid);
	struct hp_guest *g = hp_guest_find(h->src_cid);
	char path[sizeof(g->uds) + 16];
	struct hp_conn *c;
	int fd = -1, ret;

	if (lc == NULL && g == NULL)
		goto refuse;
	c = hp_conn_new(-1, lc != NULL ? HP_PROTO_ACCEPT : HP_PROTO_DIAL, h->type);
	if (c == NULL)
		goto refuse;
	c->cid = h->src_cid;
	c->gport = h->src_port;
	c->hport = h->dst_port;
	c->guest = g;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (hp_conn_hash_add(c) != 0) {
		hp_conn_kill(c);
		goto refuse;
	}
	if (lc != NULL) {
		ret = hp_accept_handover(lc, c);
	} else {
		snprintf(path, sizeof(path), "%s_%u", g->uds, h->dst_port);
		ret = hp_unix_connect(path, h->type, &fd);
		if (ret == 0)
			ret = hp_conn_set_fd(c, fd);
	}
	if (ret == -EAGAIN) {
		/* The program's accept backlog is full: try again for a while. */
		hp_conn_set_state(c, HP_ST_DIALING);
		hp_timer_set(c, hp.now_ms + hp.conf.connect_timeout_ms);
		return;
	}
	if (ret < 0) {
		HP_LOG(DEBUG, "guest %" PRIu64 " port %u -> host port %u: %s", c->cid, c->gport,
		       c->hport, strerror(-ret));
		hp.st.refused++;
		hp_conn_reset(c);
		return;
	}
	hp_conn_set_state(c, HP_ST_CONNECTED);
	c->pend |= HP_PEND_RESPONSE;
	hp.st.conns_guest++;
	hp_activate(c);
	return;
refuse:
	hp.st.refused++;
	hp_rst_to(h->src_cid, h->src_port, h->dst_port, h->type);
}

void
hp_conn_dial_retry(struct hp_conn *c)
{
	char path[sizeof(c->guest->uds) + 16];
	int fd = -1, ret;

	snprintf(path, sizeof(path), "%s_%u", c->guest->uds, c->hport);
	ret = hp_unix_connect(path, c->type, &fd);
	if (ret == -EAGAIN)
		return;
	if (ret == 0)
		ret = hp_conn_set_fd(c, fd);
	if (ret < 0) {
		hp.st.refused++;
		hp_conn_reset(c);
		return;
	}
	hp_timer_clear(c);
	hp_conn_set_state(c, HP_ST_CONNECTED);
	c->pend |= HP_PEND_RESPONSE;
	hp.st.conns_guest++;
	hp_activate(c);
}

void
hp_guest_rx(struct rte_mbuf *m)
{
	struct hp_conn *c;
	struct vsock_hdr h;

	vs_pkt_hdr(m, &h);
	hp.st.rx_pkts++;
	if (h.op == VSOCK_OP_RW) {
		hp.st.rx_rw++;
		hp.st.rx_bytes += h.len;
	} else if (h.op == VSOCK_OP_RST) {
		hp.st.rst_rcvd++;
	}
	c = hp_conn_lookup(h.src_cid, h.src_port, h.dst_port);
	if (c == NULL) {
		if (h.op == VSOCK_OP_REQUEST)
			hp_guest_request(&h);
		else if (h.op != VSOCK_OP_RST)
			hp_rst_to(h.src_cid, h.src_port, h.dst_port, h.type);
		rte_pktmbuf_free(m);
		return;
	}
	if (h.type != c->type || h.op == VSOCK_OP_REQUEST) {
		/* Not this connection's kind, or a second REQUEST on it. */
		hp.st.proto_errors++;
		if (c->state == HP_ST_CONNECTING)
			hp_line_error(c, ECONNRESET, "guest %" PRIu64 " sent %s of another type",
				      c->cid, vsock_op_name(h.op));
		else
			hp_conn_reset(c);
		rte_pktmbuf_free(m);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	c->credit_short = false; /* the credit may have changed: look again */
	switch (c->state) {
	case HP_ST_CONNECTING:
		hp_recv_connecting(c, &h);
		break;
	case HP_ST_DIALING:
		if (h.op == VSOCK_OP_RST)
			hp_conn_kill(c);
		break;
	case HP_ST_CONNECTED:
		hp_recv_connected(c, &h, m);
		break;
	case HP_ST_CLOSING:
		hp_recv_closing(c, &h);
		break;
	default:
		break;
	}
	rte_pktmbuf_free(m);
	hp_activate(c);
}

int
hp_conn_request(struct hp_conn *c)
{
	uint32_t tries;

	for (tries = 0; tries < 1024; tries++) {
		c->hport = hp.next_hport++;
		if (hp.next_hport >= HOST_PORT_EPHEMERAL_END)
			hp.next_hport = HOST_PORT_EPHEMERAL_FIRST;
		if (hp_conn_lookup(c->cid, c->gport, c->hport) == NULL)
			break;
	}
	if (tries == 1024 || hp_conn_hash_add(c) != 0)
		return -EADDRNOTAVAIL;
	c->peer_buf_alloc = 0;
	c->peer_fwd_cnt = 0;
	if (!hp_txq_push(c, VSOCK_OP_REQUEST, 0, NULL, 0))
		return -ENOBUFS;
	hp_conn_set_state(c, HP_ST_CONNECTING);
	hp_timer_set(c, hp.now_ms + hp.conf.connect_timeout_ms);
	hp_activate(c);
	return 0;
}

void
hp_conn_timeout(struct hp_conn *c)
{
	int reach;

	hp_timer_clear(c);
	switch (c->state) {
	case HP_ST_LINE:
		hp.st.handshake_timeouts++;
		hp_line_error(c, ETIMEDOUT, "no command within %u ms", hp.conf.connect_timeout_ms);
		break;
	case HP_ST_CONNECTING:
		reach = vs_guest_reachable(c->cid);
		hp_rst_to(c->cid, c->gport, c->hport, c->type);
		if (reach == -EHOSTUNREACH) {
			hp_line_error(c, EHOSTUNREACH, "guest %" PRIu64 " stopped its vsock driver",
				      c->cid);
		} else if (reach == -ENODEV) {
			hp_line_error(c, ENODEV, "guest %" PRIu64 " is gone", c->cid);
		} else {
			hp.st.connect_timeouts++;
			hp_line_error(c, ETIMEDOUT, "guest %" PRIu64 " did not answer within %u ms",
				      c->cid, hp.conf.connect_timeout_ms);
		}
		break;
	case HP_ST_DIALING:
		hp.st.refused++;
		hp_conn_reset(c);
		break;
	case HP_ST_CLOSING:
		hp_conn_reset(c);
		break;
	case HP_ST_CONNECTED:
		/* Still short of credit: look again (and maybe ask). */
		c->credit_short = false;
		hp_activate(c);
		break;
	default:
		break;
	}
}
