/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * fuzz_hp_line: the command lines host programs send (drivers/host_port/hp_line.c):
 * the hybrid handshake "CONNECT <port>\n" on a guest's Unix socket (STREAM, or one
 * SEQPACKET message) and the control socket's "CONNECT <cid> <port> [type]",
 * "LISTEN <port> [<cid>]", "STATS" and the guest commands "GUEST-ADD <spec>",
 * "GUEST-DEL <cid>", "GUESTS" (their actions are stubs: which one ran, with what).
 *
 * hp_line.c is compiled as it is; what it calls in the rest of the host endpoint
 * and the switch (hp_conn_kill, hp_conn_request, vs_guest_reachable, ...) is
 * replaced below by stubs that record the outcome. The input chooses the socket
 * kind and what the switch answers, then gives the bytes the host program writes
 * in chunks (so a line arrives split over reads, and data follows it at once).
 * The real parser runs over a real socketpair.
 *
 * A second, independent reading of the protocol (model_*) decides what must
 * happen: which lines start a connection and with which numbers, which are
 * refused, which are still incomplete. Also checked: bytes after the newline are
 * neither lost nor duplicated (they are the connection's first data), every
 * control reply is one newline-terminated line, and nothing is read beyond the
 * line buffer.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "host_port_pvt.h"
#include "vs_capture.h"
#include "vs_switch.h"

#define FZ_STREAM_MAX 1024

/* ---- stubs for what hp_line.c calls ---- */

struct hp_state_all hp;
int vs_logtype;

static struct {
	int reachable; /* what vs_guest_reachable() answers */
	int request_ret; /* what hp_conn_request() answers */
	bool requested;
	uint64_t cid;
	uint32_t port;
	uint16_t type;
	bool killed;
	int guest_cmd; /* M_GUEST_ADD, M_GUEST_DEL or M_GUESTS when one was called */
	char guest_spec[HP_LINE_MAX];
	uint64_t guest_cid;
} stub;

int
rte_log(uint32_t level __rte_unused, uint32_t logtype __rte_unused,
	const char *format __rte_unused, ...)
{
	return 0;
}

int
vs_guest_reachable(uint64_t cid __rte_unused)
{
	return stub.reachable;
}

int
hp_conn_request(struct hp_conn *c)
{
	FZ_ASSERT(!stub.requested, "two requests for one line");
	stub.requested = true;
	stub.cid = c->cid;
	stub.port = c->gport;
	stub.type = c->type;
	if (stub.request_ret == 0)
		c->state = HP_ST_CONNECTING;
	return stub.request_ret;
}

void
hp_conn_kill(struct hp_conn *c)
{
	stub.killed = true;
	c->state = HP_ST_DEAD;
}

void
hp_conn_reset(struct hp_conn *c)
{
	hp_conn_kill(c);
}

void
hp_timer_clear(struct hp_conn *c)
{
	c->timed = false;
}

/* CAPTURE: never touch files from a fuzzer; answer as with no capture. */
int
vs_capture_start(const struct vs_capture_conf *conf __rte_unused)
{
	return -EPERM;
}

int
vs_switch_capture_stop(void)
{
	return -ENOENT;
}

void
vs_capture_stats_get(struct vs_capture_stats *st)
{
	memset(st, 0, sizeof(*st));
}

/* Guests at run time (hp_guests.c): record what the parser asked for. */
enum { STUB_GUEST_ADD = 1, STUB_GUEST_DEL, STUB_GUESTS };

static void
stub_guest_done(struct hp_conn *c, int cmd)
{
	FZ_ASSERT(stub.guest_cmd == 0, "two guest commands for one line");
	stub.guest_cmd = cmd;
	hp_line_reply(c, "OK\n");
	hp_conn_kill(c);
}

void
hp_control_guest_add(struct hp_conn *c, const char *spec)
{
	FZ_ASSERT(strlen(spec) < sizeof(stub.guest_spec), "spec longer than a line");
	strcpy(stub.guest_spec, spec);
	stub_guest_done(c, STUB_GUEST_ADD);
}

void
hp_control_guest_del(struct hp_conn *c, uint64_t cid)
{
	stub.guest_cid = cid;
	stub_guest_done(c, STUB_GUEST_DEL);
}

void
hp_control_guests(struct hp_conn *c)
{
	stub_guest_done(c, STUB_GUESTS);
}

int
hp_conn_set_fd(struct hp_conn *c, int fd)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = fd;
	return 0;
}

/* ---- the model ---- */

enum model_verdict { M_INCOMPLETE, M_BAD, M_CONNECT, M_LISTEN, M_STATS, M_GUEST_ADD,
		     M_GUEST_DEL, M_GUESTS };

struct model {
	enum model_verdict v;
	char spec[HP_LINE_MAX];
	uint64_t cid;
	uint32_t port;
	uint16_t type;
	size_t line_end; /* offset of the newline (or message end) */
};

static int
split(char *s, char **tok, int max)
{
	int n = 0;
	char *p = s;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		tok[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* Decimal digits only, no sign, no spaces, at most @max. */
static bool
number(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static void
model_line(char *line, size_t len, bool control, struct model *m)
{
	char *tok[8];
	uint64_t a, b;
	int n;
	size_t i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
			m->v = M_BAD;
			return;
		}
	}
	n = split(line, tok, 5);
	m->v = M_BAD;
	if (n <= 0)
		return;
	if (!control) {
		if (n == 2 && strcasecmp(tok[0], "CONNECT") == 0 &&
		    number(tok[1], 0xfffffffeULL, &a)) {
			m->v = M_CONNECT;
			m->port = (uint32_t)a;
		}
		return;
	}
	if (strcasecmp(tok[0], "CONNECT") == 0) {
		if (n < 3 || n > 4 || !number(tok[1], UINT64_MAX, &a) ||
		    !number(tok[2], 0xfffffffeULL, &b))
			return;
		m->type = VSOCK_TYPE_STREAM;
		if (n == 4 && strcasecmp(tok[3], "seqpacket") == 0)
			m->type = VSOCK_TYPE_SEQPACKET;
		else if (n == 4 && strcasecmp(tok[3], "stream") != 0)
			return;
		m->v = M_CONNECT;
		m->cid = a;
		m->port = (uint32_t)b;
	} else if (strcasecmp(tok[0], "LISTEN") == 0) {
		if (n < 2 || n > 3 || !number(tok[1], 0xfffffffeULL, &a))
			return;
		b = UINT64_MAX;
		if (n == 3 && !number(tok[2], UINT64_MAX, &b))
			return;
		m->v = M_LISTEN;
		m->port = (uint32_t)a;
		m->cid = b;
	} else if (strcasecmp(tok[0], "STATS") == 0 && n == 1) {
		m->v = M_STATS;
	} else if (strcasecmp(tok[0], "GUEST-ADD") == 0 && n == 2) {
		m->v = M_GUEST_ADD;
		strcpy(m->spec, tok[1]);
	} else if (strcasecmp(tok[0], "GUEST-DEL") == 0 && n == 2 &&
		   number(tok[1], UINT64_MAX, &a)) {
		m->v = M_GUEST_DEL;
		m->cid = a;
	} else if (strcasecmp(tok[0], "GUESTS") == 0 && n == 1) {
		m->v = M_GUESTS;
	}
}

/* What a host program writing @s (@n bytes, or messages) must get. */
static void
model(const uint8_t *s, size_t n, bool seq_msg, bool control, struct model *m)
{
	char line[HP_LINE_MAX + 1];
	const uint8_t *nl;
	size_t max = control ? HP_LINE_MAX : HP_HYBRID_LINE_MAX;
	size_t look = n < max ? n : max;

	memset(m, 0, sizeof(*m));
	nl = memchr(s, '\n', look);
	if (nl != NULL) {
		m->line_end = (size_t)(nl - s);
	} else if (seq_msg && n < max) {
		m->line_end = n; /* the whole message is the line */
	} else if (!seq_msg && n < max) {
		m->v = M_INCOMPLETE;
		return;
	} else {
		m->v = M_BAD;
		return;
	}
	memcpy(line, s, m->line_end);
	model_line(line, m->line_end, control, m);
}

/* ---- the harness ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc __rte_unused, char ***argv __rte_unused)
{
	hp.scratch = malloc(HP_MSG_MAX);
	return hp.scratch == NULL ? -1 : 0;
}

static void
check_reply(int fd)
{
	char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n <= 0)
		return;
	FZ_ASSERT(buf[n - 1] == '\n', "reply is not one line (%zd bytes)", n);
	FZ_ASSERT(memchr(buf, '\n', (size_t)n - 1) == NULL, "reply is several lines");
	FZ_ASSERT((n >= 3 && memcmp(buf, "OK", 2) == 0) || (n > 4 && memcmp(buf, "ERR ", 4) == 0),
		  "reply is neither OK nor ERR: %.*s", (int)n, buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hp_guest guest = { .cid = 3 };
	uint8_t stream[FZ_STREAM_MAX], rest[FZ_STREAM_MAX + HP_LINE_MAX];
	struct hp_conn c;
	struct model m;
	struct fz f;
	size_t total = 0, first_msg = 0, nrest = 0;
	uint8_t cfg;
	bool control, seq, fed_eof = false;
	int sv[2], rounds = 0;
	ssize_t r;

	fz_init(&f, data, size);
	cfg = fz_u8(&f);
	control = cfg & 1;
	seq = !control && (cfg & 2);
	memset(&stub, 0, sizeof(stub));
	stub.reachable = (cfg >> 2) % 3 == 0 ? 0 : (cfg >> 2) % 3 == 1 ? -ENODEV : -EHOSTUNREACH;
	stub.request_ret = (cfg & 0x20) ? -ENOBUFS : 0;
	if (socketpair(AF_UNIX, (seq ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(&c, 0, sizeof(c));
	c.obj = HP_OBJ_CONN;
	c.state = HP_ST_LINE;
	c.proto = control ? HP_PROTO_CONTROL : HP_PROTO_HYBRID;
	c.type = seq ? VSOCK_TYPE_SEQPACKET : VSOCK_TYPE_STREAM;
	c.fd = sv[0];
	c.guest = control ? NULL : &guest;
	hp.listens = NULL;

	/* Chunks: a length byte, then that many bytes (one message on SEQPACKET). */
	while (fz_more(&f) && c.state == HP_ST_LINE && total < FZ_STREAM_MAX) {
		size_t len = fz_u8(&f), k;

		if (len == 0xff) { /* the program closes its writing side */
			shutdown(sv[1], SHUT_WR);
			fed_eof = true;
		} else {
			if (len > FZ_STREAM_MAX - total)
				len = FZ_STREAM_MAX - total;
			k = len < f.n ? len : f.n;
			fz_bytes(&f, stream + total, k);
			if (seq && k == 0)
				continue; /* an empty message reads as end of file */
			if (send(sv[1], stream + total, k, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)k)
				break;
			if (seq && total == 0)
				first_msg = k;
			total += k;
		}
		c.readable = true;
		rounds = 0;
		while (c.readable && c.state == HP_ST_LINE && rounds++ < 64)
			hp_line_run(&c);
		if (fed_eof)
			break;
	}

	model(stream, seq ? first_msg : total, seq, control, &m);
	if (seq && total == 0)
		m.v = M_INCOMPLETE;
	switch (m.v) {
	case M_INCOMPLETE:
		FZ_ASSERT(!stub.requested, "a request before the line ended");
		FZ_ASSERT(c.state == HP_ST_LINE || fed_eof, "connection closed on an unfinished line");
		break;
	case M_GUEST_ADD:
	case M_GUEST_DEL:
	case M_GUESTS:
		FZ_ASSERT(!stub.requested && c.state == HP_ST_DEAD, "guest command left it open");
		FZ_ASSERT(stub.guest_cmd == (int)(m.v - M_GUEST_ADD) + STUB_GUEST_ADD,
			  "guest command %d, the line says %d", stub.guest_cmd, m.v);
		FZ_ASSERT(m.v != M_GUEST_ADD || strcmp(stub.guest_spec, m.spec) == 0,
			  "GUEST-ADD spec '%s', the line says '%s'", stub.guest_spec, m.spec);
		FZ_ASSERT(m.v != M_GUEST_DEL || stub.guest_cid == m.cid,
			  "GUEST-DEL %llu, the line says %llu",
			  (unsigned long long)stub.guest_cid, (unsigned long long)m.cid);
		check_reply(sv[1]);
		break;
	case M_BAD:
		FZ_ASSERT(!stub.requested && c.state == HP_ST_DEAD,
			  "bad line accepted (requested %d, state %d)", stub.requested, c.state);
		FZ_ASSERT(stub.guest_cmd == 0, "bad line ran guest command %d", stub.guest_cmd);
		if (control)
			check_reply(sv[1]);
		break;
	case M_STATS:
		FZ_ASSERT(!stub.requested && c.state == HP_ST_DEAD, "STATS did not close");
		check_reply(sv[1]);
		break;
	case M_LISTEN:
		FZ_ASSERT(!stub.requested, "LISTEN made a request");
		if (m.cid != UINT64_MAX && stub.reachable == -ENODEV) {
			FZ_ASSERT(c.state == HP_ST_DEAD, "LISTEN for an unknown CID accepted");
		} else {
			FZ_ASSERT(c.state == HP_ST_LISTEN && c.listen_port == m.port &&
				  c.listen_cid == m.cid, "LISTEN %u %llu not taken (state %d)",
				  m.port, (unsigned long long)m.cid, c.state);
		}
		check_reply(sv[1]);
		break;
	case M_CONNECT:
		if ((control && stub.reachable != 0) || (!control && stub.reachable != 0)) {
			FZ_ASSERT(!stub.requested && c.state == HP_ST_DEAD,
				  "CONNECT to an unreachable guest went on");
			if (control)
				check_reply(sv[1]);
			break;
		}
		FZ_ASSERT(stub.requested, "good CONNECT line not taken: state %d", c.state);
		FZ_ASSERT(stub.port == m.port, "port %u, the line says %u", stub.port, m.port);
		FZ_ASSERT(!control || stub.cid == m.cid, "cid %llu, the line says %llu",
			  (unsigned long long)stub.cid, (unsigned long long)m.cid);
		FZ_ASSERT(control || stub.cid == guest.cid, "hybrid CONNECT to another guest");
		FZ_ASSERT(!control || stub.type == m.type, "type %u, the line says %u", stub.type,
			  m.type);
		FZ_ASSERT(stub.request_ret == 0 || c.state == HP_ST_DEAD,
			  "failed request left the connection open");
		if (stub.request_ret != 0 || c.type == VSOCK_TYPE_SEQPACKET)
			break;
		/* What followed the newline: stashed, then still in the socket. */
		nrest = c.stash != NULL ? c.stash_len : 0;
		if (nrest > 0)
			memcpy(rest, c.stash, nrest);
		while ((r = recv(sv[0], rest + nrest, sizeof(rest) - nrest, MSG_DONTWAIT)) > 0)
			nrest += (size_t)r;
		FZ_ASSERT(nrest == total - m.line_end - 1 &&
			  memcmp(rest, stream + m.line_end + 1, nrest) == 0,
			  "data after the line: %zu bytes kept, %zu sent", nrest,
			  total - m.line_end - 1);
		break;
	}
	if (seq && m.v == M_CONNECT && stub.requested && stub.request_ret == 0 && !control) {
		FZ_ASSERT(c.stash_len == (first_msg > m.line_end ? first_msg - m.line_end - 1 : 0),
			  "message after the line: %u bytes kept of %zu", c.stash_len,
			  first_msg - m.line_end);
		FZ_ASSERT(c.stash_len == 0 || c.stash_eom, "the rest of a message lost its end");
	}
	free(c.stash);
	if (c.fd >= 0)
		close(c.fd);
	close(sv[1]);
	return 0;
}
