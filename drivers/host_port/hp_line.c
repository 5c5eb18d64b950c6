/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Command lines: the hybrid handshake ("CONNECT <port>\n" -> "OK <host_port>\n")
 * and the control socket ("CONNECT <cid> <port> [stream|seqpacket]",
 * "LISTEN <port> [<cid>]", "STATS", "CONNS", "CAPTURE", "GUEST-ADD <spec>",
 * "GUEST-DEL <cid>", "GUESTS"), and handing sockets over with SCM_RIGHTS.
 * doc/host.rst is the reference for both protocols.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host_port_pvt.h"
#include "vs_capture.h"
#include "vs_switch.h"

#define HP_MAX_TOKENS 5

static const char *
hp_errno_name(int err)
{
	switch (err) {
	case ENODEV: return "ENODEV";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINVAL: return "EINVAL";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ECONNRESET: return "ECONNRESET";
	case ENOBUFS: return "ENOBUFS";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case EEXIST: return "EEXIST";
	case ENOSPC: return "ENOSPC";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOENT: return "ENOENT";
	case ENOTDIR: return "ENOTDIR";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case ESHUTDOWN: return "ESHUTDOWN";
	default: return "EIO";
	}
}

/* A short line to a host socket that has room for it (it is fresh). */
static int
hp_send_line(int fd, const char *line, size_t len, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)line, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (pass_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EAGAIN;
}

int
hp_line_send(struct hp_conn *c, const char *buf, size_t len)
{
	return c->fd >= 0 ? hp_send_line(c->fd, buf, len, -1) : -EBADF;
}

void
hp_line_reply(struct hp_conn *c, const char *fmt, ...)
{
	char line[HP_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->fd >= 0 && n > 0)
		hp_send_line(c->fd, line, RTE_MIN((size_t)n, sizeof(line) - 1), -1);
}

void
hp_line_error(struct hp_conn *c, int err, const char *fmt, ...)
{
	char text[HP_LINE_MAX], line[HP_LINE_MAX + 32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	HP_LOG(DEBUG, "%s: %s", hp_errno_name(err), text);
	if (c->proto == HP_PROTO_CONTROL && c->fd >= 0) {
		n = snprintf(line, sizeof(line), "ERR %s %s\n", hp_errno_name(err), text);
		hp_send_line(c->fd, line, RTE_MIN((size_t)n, sizeof(line) - 1), -1);
	}
	hp_conn_kill(c);
}

/* Two ends of a new host socket; ours non-blocking, the program's as usual. */
static int
hp_socketpair(uint16_t type, int sv[2])
{
	int flags;

	if (socketpair(AF_UNIX, (type == VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) |
		       SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	flags = fcntl(sv[0], F_GETFL);
	if (flags < 0 || fcntl(sv[0], F_SETFL, flags | O_NONBLOCK) != 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	return 0;
}

int
hp_unix_connect(const char *path, uint16_t type, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, (type == VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) |
		   SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(s);
		return ret;
	}
	*fd = s;
	return 0;
}

struct hp_conn *
hp_listener_find(uint32_t port, uint64_t cid)
{
	struct hp_conn *c, *any = NULL;

	for (c = hp.listens; c != NULL; c = c->lnext) {
		if (c->listen_port != port)
			continue;
		if (c->listen_cid == cid)
			return c;
		if (c->listen_cid == HP_CID_ANY)
			any = c;
	}
	return any;
}

int
hp_accept_handover(struct hp_conn *lc, struct hp_conn *c)
{
	char line[HP_LINE_MAX];
	int sv[2], ret, n;

	ret = hp_socketpair(c->type, sv);
	if (ret < 0)
		return ret;
	n = snprintf(line, sizeof(line), "ACCEPT %" PRIu64 " %u %u\n", c->cid, c->gport,
		     c->hport);
	ret = hp_send_line(lc->fd, line, (size_t)n, sv[1]);
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		return ret == -EAGAIN ? -ENOBUFS : ret;
	}
	return hp_conn_set_fd(c, sv[0]);
}

void
hp_connected_reply(struct hp_conn *c)
{
	char line[32];
	int sv[2], ret, n;

	n = snprintf(line, sizeof(line), "OK %u\n", c->hport);
	if (c->proto == HP_PROTO_CONTROL && c->type == VSOCK_TYPE_SEQPACKET) {
		/* The control socket is a stream: the messages get a socket of their own. */
		ret = hp_socketpair(c->type, sv);
		if (ret == 0) {
			ret = hp_send_line(c->fd, line, (size_t)n, sv[1]);
			close(sv[1]);
			if (ret == 0)
				ret = hp_conn_set_fd(c, sv[0]);
			else
				close(sv[0]);
		}
	} else {
		ret = hp_send_line(c->fd, line, (size_t)n, -1);
	}
	if (ret < 0)
		hp_conn_reset(c);
}

/* ---- parsing ---- */

static int
hp_tokens(char *line, char **tok)
{
	char *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (n == HP_MAX_TOKENS)
			return -1;
		tok[n++] = t;
	}
	return n;
}

static int
hp_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
hp_parse_port(const char *s, uint32_t *port)
{
	uint64_t v;

	if (hp_parse_u64(s, VSOCK_PORT_ANY - 1, &v) != 0)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

/* ---- the hybrid handshake ---- */

static void
hp_hybrid_line(struct hp_conn *c, char *line)
{
	char *tok[HP_MAX_TOKENS];
	uint32_t port;
	int n, ret;

	n = hp_tokens(line, tok);
	if (n != 2 || strcasecmp(tok[0], "CONNECT") != 0 || hp_parse_port(tok[1], &port) != 0) {
		hp.st.bad_lines++;
		hp_conn_kill(c);
		return;
	}
	/* Unknown or stopped guest: nothing to wait for. */
	ret = vs_guest_reachable(c->guest->cid);
	if (ret < 0) {
		hp_conn_kill(c);
		return;
	}
	c->cid = c->guest->cid;
	c->gport = port;
	ret = hp_conn_request(c);
	if (ret < 0)
		hp_conn_kill(c);
}

/* ---- the control socket ---- */

static void
hp_control_connect(struct hp_conn *c, char **tok, int n)
{
	uint64_t cid;
	uint32_t port;
	int ret;

	if (n < 3 || n > 4 || hp_parse_u64(tok[1], UINT64_MAX, &cid) != 0 ||
	    hp_parse_port(tok[2], &port) != 0) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "usage: CONNECT <cid> <port> [stream|seqpacket]");
		return;
	}
	if (n == 4 && strcasecmp(tok[3], "seqpacket") == 0) {
		/* Messages travel on a socket of their own: bytes here are not one. */
		c->type = VSOCK_TYPE_SEQPACKET;
		free(c->stash);
		c->stash = NULL;
		c->stash_len = 0;
	} else if (n == 4 && strcasecmp(tok[3], "stream") != 0) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "socket type is stream or seqpacket");
		return;
	}
	ret = vs_guest_reachable(cid);
	if (ret == -ENODEV) {
		hp_line_error(c, ENODEV, "no guest with CID %" PRIu64, cid);
		return;
	}
	if (ret == -EHOSTUNREACH) {
		hp_line_error(c, EHOSTUNREACH, "guest %" PRIu64 " has not started its vsock driver",
			      cid);
		return;
	}
	c->cid = cid;
	c->gport = port;
	ret = hp_conn_request(c);
	if (ret < 0)
		hp_line_error(c, -ret, "cannot send the request");
}

static void
hp_control_listen(struct hp_conn *c, char **tok, int n)
{
	uint64_t cid = HP_CID_ANY;
	struct hp_conn *l;
	uint32_t port;

	if (n < 2 || n > 3 || hp_parse_port(tok[1], &port) != 0 ||
	    (n == 3 && hp_parse_u64(tok[2], UINT64_MAX, &cid) != 0)) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "usage: LISTEN <port> [<cid>]");
		return;
	}
	if (cid != HP_CID_ANY && vs_guest_reachable(cid) == -ENODEV) {
		hp_line_error(c, ENODEV, "no guest with CID %" PRIu64, cid);
		return;
	}
	for (l = hp.listens; l != NULL; l = l->lnext) {
		if (l->listen_port == port && l->listen_cid == cid) {
			hp_line_error(c, EADDRINUSE, "port %u already has a listener", port);
			return;
		}
	}
	hp_timer_clear(c);
	hp_conn_set_state(c, HP_ST_LISTEN);
	c->listen_port = port;
	c->listen_cid = cid;
	c->lnext = hp.listens;
	hp.listens = c;
	hp_line_reply(c, "OK\n");
}

static void
hp_control_stats(struct hp_conn *c)
{
	const struct host_port_stats *s = &hp.st;
	char line[2048];
	int n;

	n = snprintf(line, sizeof(line),
		     "OK conns_open=%" PRIu64 " conns_host=%" PRIu64 " conns_guest=%" PRIu64
		     " rx_pkts=%" PRIu64 " rx_rw=%" PRIu64 " rx_bytes=%" PRIu64
		     " tx_pkts=%" PRIu64 " tx_rw=%" PRIu64 " tx_bytes=%" PRIu64
		     " credit_updates=%" PRIu64 " credit_requests=%" PRIu64 " credit_asks=%" PRIu64
		     " credit_violations=%" PRIu64 " rst_sent=%" PRIu64 " rst_rcvd=%" PRIu64
		     " refused=%" PRIu64 " connect_timeouts=%" PRIu64 " bad_lines=%" PRIu64
		     " handshake_timeouts=%" PRIu64 " proto_errors=%" PRIu64 " no_mbuf=%" PRIu64
		     " lost_ctrl=%" PRIu64 " send_stalls=%" PRIu64 " buffered=%" PRIu64
		     " buffered_peak=%" PRIu64 " rounds=%" PRIu64 " idle_sleeps=%" PRIu64
		     " max_gap_ms=%" PRIu64 " accept_refused=%" PRIu64 "\n",
		     s->conns_open, s->conns_host, s->conns_guest, s->rx_pkts, s->rx_rw,
		     s->rx_bytes, s->tx_pkts, s->tx_rw, s->tx_bytes, s->credit_updates,
		     s->credit_requests, s->credit_asks, s->credit_violations, s->rst_sent, s->rst_rcvd,
		     s->refused, s->connect_timeouts, s->bad_lines, s->handshake_timeouts,
		     s->proto_errors, s->no_mbuf, s->lost_ctrl, s->send_stalls, s->buffered,
		     s->buffered_peak, s->rounds, s->idle_sleeps, s->max_gap_ms, s->accept_refused);
	hp_send_line(c->fd, line, RTE_MIN((size_t)n, sizeof(line) - 1), -1);
	hp_conn_kill(c);
}

static const char *
hp_state_name(const struct hp_conn *k)
{
	static const char *const names[] = {
		[HP_ST_LINE] = "line", [HP_ST_LISTEN] = "listen",
		[HP_ST_CONNECTING] = "connecting", [HP_ST_DIALING] = "dialing",
		[HP_ST_CONNECTED] = "connected", [HP_ST_CLOSING] = "closing",
		[HP_ST_DEAD] = "dead",
	};

	return k->state < RTE_DIM(names) ? names[k->state] : "?";
}

/* One line per connection with a vsock end (at most HP_CONNS_MAX), then "OK <n>". */
static void
hp_control_conns(struct hp_conn *c)
{
	size_t cap = (size_t)HP_CONNS_MAX * 160 + 64, len = 0;
	char *buf = malloc(cap);
	const struct hp_conn *k;
	uint32_t n = 0;

	if (buf == NULL) {
		hp_line_error(c, ENOMEM, "no memory for the list");
		return;
	}
	for (k = hp.all; k != NULL; k = k->next) {
		uint32_t in_flight = k->tx_cnt - k->peer_fwd_cnt;

		if (!k->hashed)
			continue;
		if (n++ >= HP_CONNS_MAX)
			continue;
		len += snprintf(buf + len, cap - len, "CONN %" PRIu64 " %u %u %s %s buffered=%u "
				"credit=%u shut=%u/%u rx=%u tx=%u\n", k->cid, k->gport, k->hport,
				k->type == VSOCK_TYPE_SEQPACKET ? "seqpacket" : "stream",
				hp_state_name(k), k->rx.len,
				in_flight > k->peer_buf_alloc ? 0 : k->peer_buf_alloc - in_flight,
				k->shut, k->peer_shut, k->rx_cnt, k->tx_cnt);
	}
	len += snprintf(buf + len, cap - len, "OK %u\n", n);
	hp_send_line(c->fd, buf, len, -1);
	free(buf);
	hp_conn_kill(c);
}

/* "CAPTURE START <file> [<cid>] [<snaplen>]" and "CAPTURE STOP" (lib/capture). */
static void
hp_control_capture(struct hp_conn *c, char **tok, int n)
{
	struct vs_capture_conf cc = { 0 };
	struct vs_capture_stats st;
	uint64_t v;
	int ret;

	if (n == 2 && strcasecmp(tok[1], "STOP") == 0) {
		ret = vs_switch_capture_stop();
		if (ret < 0) {
			hp_line_error(c, -ret, "no capture running");
			return;
		}
		vs_capture_stats_get(&st);
		hp_line_reply(c, "OK records=%" PRIu64 " dropped=%" PRIu64 "\n", st.captured,
			      st.dropped);
		hp_conn_kill(c);
		return;
	}
	if (n < 3 || n > 5 || strcasecmp(tok[1], "START") != 0) {
		hp_line_error(c, EINVAL, "usage: CAPTURE START <file> [<cid>] [<snaplen>] | "
			      "CAPTURE STOP");
		return;
	}
	cc.file = tok[2];
	if (n >= 4) {
		if (hp_parse_u64(tok[3], UINT32_MAX, &v) != 0) {
			hp_line_error(c, EINVAL, "bad cid");
			return;
		}
		cc.cid = v;
	}
	if (n == 5) {
		if (hp_parse_u64(tok[4], 262144, &v) != 0) {
			hp_line_error(c, EINVAL, "bad snaplen");
			return;
		}
		cc.snaplen = (uint32_t)v;
	}
	ret = vs_capture_start(&cc);
	if (ret < 0) {
		hp_line_error(c, -ret, "cannot capture to %s", cc.file);
		return;
	}
	hp_line_reply(c, "OK\n");
	hp_conn_kill(c);
}

/* "GUEST-ADD cid=<N>,socket=<path>[,lcore=<N>][,uds=<path>]" (hp_guests.c checks
 * the spec) */
static void
hp_control_guest_add_line(struct hp_conn *c, char **tok, int n)
{
	if (n != 2) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "usage: GUEST-ADD cid=<N>,socket=<path>[,lcore=<N>]"
			      "[,uds=<path>]");
		return;
	}
	hp_control_guest_add(c, tok[1]);
}

/* "GUEST-DEL <cid>" */
static void
hp_control_guest_del_line(struct hp_conn *c, char **tok, int n)
{
	uint64_t cid;

	if (n != 2 || hp_parse_u64(tok[1], UINT64_MAX, &cid) != 0) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "usage: GUEST-DEL <cid>");
		return;
	}
	hp_control_guest_del(c, cid);
}

static void
hp_control_line(struct hp_conn *c, char *line)
{
	char *tok[HP_MAX_TOKENS];
	int n = hp_tokens(line, tok);

	if (n <= 0) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, n == 0 ? "empty command" : "too many words");
		return;
	}
	if (strcasecmp(tok[0], "CONNECT") == 0)
		hp_control_connect(c, tok, n);
	else if (strcasecmp(tok[0], "LISTEN") == 0)
		hp_control_listen(c, tok, n);
	else if (strcasecmp(tok[0], "STATS") == 0 && n == 1)
		hp_control_stats(c);
	else if (strcasecmp(tok[0], "CONNS") == 0 && n == 1)
		hp_control_conns(c);
	else if (strcasecmp(tok[0], "CAPTURE") == 0)
		hp_control_capture(c, tok, n);
	else if (strcasecmp(tok[0], "GUEST-ADD") == 0)
		hp_control_guest_add_line(c, tok, n);
	else if (strcasecmp(tok[0], "GUEST-DEL") == 0)
		hp_control_guest_del_line(c, tok, n);
	else if (strcasecmp(tok[0], "GUESTS") == 0 && n == 1)
		hp_control_guests(c);
	else {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "unknown command (CONNECT, LISTEN, STATS, CONNS, CAPTURE, "
			      "GUEST-ADD, GUEST-DEL or GUESTS)");
	}
}

/* A line is printable ASCII: anything else is garbage, not a command. */
static bool
hp_line_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return false;
	return true;
}

/* Line complete in c->line (@len bytes, no newline): act on it. */
static void
hp_line_done(struct hp_conn *c, uint32_t len)
{
	if (len > 0 && c->line[len - 1] == '\r')
		len--;
	c->line[len] = '\0';
	if (!hp_line_printable(c->line, len)) {
		hp.st.bad_lines++;
		if (c->proto == HP_PROTO_CONTROL)
			hp_line_error(c, EINVAL, "garbled command");
		else
			hp_conn_kill(c);
		return;
	}
	if (c->proto == HP_PROTO_CONTROL)
		hp_control_line(c, c->line);
	else
		hp_hybrid_line(c, c->line);
}

/* Bytes after the newline are the connection's first data. */
static void
hp_line_leftover(struct hp_conn *c, const char *p, uint32_t len, bool eom)
{
	if (len == 0)
		return;
	c->stash = malloc(len);
	if (c->stash == NULL)
		return;
	memcpy(c->stash, p, len);
	c->stash_len = len;
	c->stash_eom = eom;
}

/* SEQPACKET handshake: the first message holds the line (its newline optional). */
static unsigned int
hp_line_run_seq(struct hp_conn *c)
{
	uint32_t len, rest = 0;
	const char *nl;
	ssize_t n;

	n = recv(c->fd, hp.scratch, HP_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && errno == EAGAIN) {
		c->readable = false;
		return 0;
	}
	if (n <= 0 || n > (ssize_t)HP_MSG_MAX) {
		hp_conn_kill(c);
		return 1;
	}
	nl = memchr(hp.scratch, '\n', RTE_MIN((size_t)n, (size_t)HP_HYBRID_LINE_MAX));
	if (nl != NULL) {
		len = (uint32_t)(nl - (const char *)hp.scratch);
		rest = (uint32_t)n - len - 1;
	} else if (n < HP_HYBRID_LINE_MAX) {
		len = (uint32_t)n;
	} else {
		hp.st.bad_lines++;
		hp_conn_kill(c);
		return 1;
	}
	memcpy(c->line, hp.scratch, len);
	hp_line_leftover(c, (const char *)hp.scratch + len + 1, rest, true);
	hp_line_done(c, len);
	return 1;
}

/* A LISTEN-er's control connection: it ends the listener by closing. */
static unsigned int
hp_listen_run(struct hp_conn *c)
{
	char buf[256];
	ssize_t n;

	while (c->readable) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = false;
			return 0;
		}
		hp_conn_kill(c);
		return 1;
	}
	return 0;
}

unsigned int
hp_line_run(struct hp_conn *c)
{
	const char *nl;
	uint32_t len;
	ssize_t n;

	if (c->state == HP_ST_LISTEN)
		return hp_listen_run(c);
	if (!c->readable)
		return 0;
	if (c->type == VSOCK_TYPE_SEQPACKET && c->proto == HP_PROTO_HYBRID)
		return hp_line_run_seq(c);
	for (;;) {
		n = recv(c->fd, c->line + c->line_len, HP_CONN_LINE_MAX(c) - c->line_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			c->readable = false;
			return 0;
		}
		if (n <= 0) {
			hp_conn_kill(c);
			return 1;
		}
		c->line_len += (uint32_t)n;
		nl = memchr(c->line, '\n', c->line_len);
		if (nl != NULL)
			break;
		if (c->line_len == HP_CONN_LINE_MAX(c)) {
			hp.st.bad_lines++;
			if (c->proto == HP_PROTO_CONTROL)
				hp_line_error(c, EINVAL, "line longer than %d bytes",
					      HP_LINE_MAX - 1);
			else
				hp_conn_kill(c);
			return 1;
		}
	}
	len = (uint32_t)(nl - c->line);
	hp_line_leftover(c, nl + 1, c->line_len - len - 1, false);
	hp_line_done(c, len);
	return 1;
}
