/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * capture: a known exchange between emulated guests, captured by the switch
 * and read back with tshark (tel_check.py pcap): every record's af_vsockmon
 * and virtio-vsock header fields, length, captured length, payload and time
 * stamp, in order (credit updates, whose number only is known, aside).
 *
 * The exchange: STREAM 3 -> 4 (REQUEST, RESPONSE, data of known lengths both
 * ways, SHUTDOWN SEND then SHUTDOWN RCV from 3, RST from 4), SEQPACKET 3 -> 4
 * (one message with EOR, close: SHUTDOWN both, RST), and a connection to an
 * unknown CID (REQUEST, and the RST the switch makes).
 *
 * Run A: --pcap <file>: everything from the start, whole packets.
 * Run B: --pcap <file>,cid=4,snaplen=100 and, over the control socket,
 *   CAPTURE STOP, then CAPTURE START <file> 3 (a second, shorter exchange),
 *   CAPTURE STOP: that file is complete while the switch still runs.
 * /vsock/stats shows the capture running, its record count and no drops.
 * Exits 77 (skip) without tshark.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "tel_common.h"

static const char *test_name = "capture";

#define CAP_MAX_RECS 64
#define CAP_MAX_PAYLOAD 8192
#define CAP_UNKNOWN_CID 99
#define CAP_SNAPLEN_B 100
#define CAP_DIM(a) (sizeof(a) / sizeof((a)[0]))

struct rec {
	uint64_t src, dst;
	uint32_t sport, dport;
	uint16_t op, type;
	uint32_t flags, len;
	uint8_t fill; /* payload: len bytes of this value */
};

static struct rec recs[CAP_MAX_RECS];
static int nrecs;

static void
expect(uint64_t src, uint32_t sport, uint64_t dst, uint32_t dport, uint16_t type, uint16_t op,
       uint32_t flags, uint32_t len, uint8_t fill)
{
	if (nrecs == CAP_MAX_RECS) {
		printf("FAIL: too many expected records\n");
		exit(1);
	}
	recs[nrecs++] = (struct rec){ .src = src, .dst = dst, .sport = sport, .dport = dport,
				      .op = op, .type = type, .flags = flags, .len = len,
				      .fill = fill };
}

static double
wall_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

struct conn_arg {
	struct emu_guest *g;
	int conn;
};

static int
conn_closed(void *p)
{
	const struct conn_arg *a = p;

	return emu_conn_state(a->g, a->conn) == EMU_CONN_CLOSED;
}

/* Send @len bytes of @fill on @sc; poll until all of them were read at @dc. */
static void
send_read(struct emu_guest **gs, struct emu_guest *src, int sc, struct emu_guest *dst, int dc,
	  uint32_t len, uint8_t fill, bool seqpacket)
{
	static uint8_t buf[CAP_MAX_PAYLOAD], rbuf[CAP_MAX_PAYLOAD];
	double t0 = harness_now_ms();
	uint32_t got = 0;
	ssize_t n;
	bool bad = false;

	memset(buf, fill, len);
	n = seqpacket ? emu_send_msg(src, sc, buf, len, true) : emu_send(src, sc, buf, len);
	CHECK(n == (ssize_t)len, "%u bytes of 0x%02x sent (%zd)", len, fill, n);
	if (n != (ssize_t)len)
		return;
	while (got < len && harness_now_ms() - t0 < 5000) {
		emu_guest_poll(gs[0]);
		emu_guest_poll(gs[1]);
		n = emu_recv(dst, dc, rbuf, sizeof(rbuf), NULL);
		if (n > 0) {
			bad |= rbuf[0] != fill || rbuf[n - 1] != fill;
			got += (uint32_t)n;
		}
	}
	CHECK(got == len && !bad, "%u of %u bytes arrived intact", got, len);
}

struct rx_arg {
	struct emu_guest *g;
	uint16_t op;
	uint64_t before;
};

static int
rx_grew(void *p)
{
	const struct rx_arg *a = p;
	struct emu_stats s;

	emu_guest_stats(a->g, &s);
	return s.rx_pkts[a->op] > a->before;
}

/* Packets of @op @g received so far: for rx_grew(). */
static struct rx_arg
rx_mark(struct emu_guest *g, uint16_t op)
{
	struct emu_stats s;

	emu_guest_stats(g, &s);
	return (struct rx_arg){ .g = g, .op = op, .before = s.rx_pkts[op] };
}

static int
eof_seen(void *p)
{
	const struct conn_arg *a = p;
	char c;

	return emu_recv(a->g, a->conn, &c, 1, NULL) == 0;
}

/*
 * The exchange, expected records appended as they go on the wire (as the
 * switch takes them from a tx ring). @full adds the data, the shutdowns and
 * the connection to an unknown CID.
 */
static void
exchange(struct emu_guest **gs, uint32_t port, bool full)
{
	static const uint32_t lens34[] = { 1, 100, 1000, 4000, 8192 };
	static const uint32_t lens43[] = { 7, 70 };
	struct emu_guest *g3 = gs[0], *g4 = gs[1];
	struct emu_conn_info ci;
	struct conn_arg a;
	struct rx_arg rx;
	int c3, c4, r;
	uint32_t p3;
	unsigned int i;

	printf("exchange on port %u\n", port);
	tel_pair(gs, 2, g3, g4, port, VSOCK_TYPE_STREAM, &c3, &c4);
	emu_conn_info(g3, c3, &ci);
	p3 = ci.local_port;
	expect(3, p3, 4, port, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0, 0);
	expect(4, port, 3, p3, VSOCK_TYPE_STREAM, VSOCK_OP_RESPONSE, 0, 0, 0);
	for (i = 0; i < (full ? CAP_DIM(lens34) : 1); i++) {
		send_read(gs, g3, c3, g4, c4, lens34[i], (uint8_t)(0x31 + i), false);
		expect(3, p3, 4, port, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 0, lens34[i],
		       (uint8_t)(0x31 + i));
	}
	for (i = 0; full && i < CAP_DIM(lens43); i++) {
		send_read(gs, g4, c4, g3, c3, lens43[i], (uint8_t)(0x61 + i), false);
		expect(4, port, 3, p3, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 0, lens43[i],
		       (uint8_t)(0x61 + i));
	}
	if (full) {
		/* SHUTDOWN SEND: guest 4 reads EOF */
		CHECK(emu_shutdown(g3, c3, SHUT_WR) == 0, "3 shuts down sending");
		expect(3, p3, 4, port, VSOCK_TYPE_STREAM, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, 0,
		       0);
		a = (struct conn_arg){ .g = g4, .conn = c4 };
		harness_wait(gs, 2, eof_seen, &a, 5000, "4 reads EOF");
		/* SHUTDOWN RCV: both ways shut, guest 4 resets the connection */
		CHECK(emu_shutdown(g3, c3, SHUT_RD) == 0, "3 shuts down receiving");
		expect(3, p3, 4, port, VSOCK_TYPE_STREAM, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV, 0,
		       0);
		expect(4, port, 3, p3, VSOCK_TYPE_STREAM, VSOCK_OP_RST, 0, 0, 0);
		a = (struct conn_arg){ .g = g3, .conn = c3 };
		harness_wait(gs, 2, conn_closed, &a, 5000, "4 answers with RST");
		emu_close(g3, c3);
		emu_close(g4, c4);
	} else {
		/* close at once: SHUTDOWN both ways, the peer resets (wait until
		 * the RST arrived: then the switch has taken it) */
		rx = rx_mark(g3, VSOCK_OP_RST);
		emu_close(g3, c3);
		expect(3, p3, 4, port, VSOCK_TYPE_STREAM, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_MASK, 0,
		       0);
		expect(4, port, 3, p3, VSOCK_TYPE_STREAM, VSOCK_OP_RST, 0, 0, 0);
		harness_wait(gs, 2, rx_grew, &rx, 5000, "3 closes, 4 resets");
		emu_close(g4, c4);
		tel_settle(gs, 2, 50);
		return;
	}

	/* SEQPACKET: one message with EOR, then close */
	tel_pair(gs, 2, g3, g4, port + 1, VSOCK_TYPE_SEQPACKET, &c3, &c4);
	emu_conn_info(g3, c3, &ci);
	p3 = ci.local_port;
	expect(3, p3, 4, port + 1, VSOCK_TYPE_SEQPACKET, VSOCK_OP_REQUEST, 0, 0, 0);
	expect(4, port + 1, 3, p3, VSOCK_TYPE_SEQPACKET, VSOCK_OP_RESPONSE, 0, 0, 0);
	send_read(gs, g3, c3, g4, c4, 500, 0x7a, true);
	expect(3, p3, 4, port + 1, VSOCK_TYPE_SEQPACKET, VSOCK_OP_RW,
	       VSOCK_SEQ_EOM | VSOCK_SEQ_EOR, 500, 0x7a);
	rx = rx_mark(g3, VSOCK_OP_RST);
	emu_close(g3, c3);
	expect(3, p3, 4, port + 1, VSOCK_TYPE_SEQPACKET, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_MASK,
	       0, 0);
	expect(4, port + 1, 3, p3, VSOCK_TYPE_SEQPACKET, VSOCK_OP_RST, 0, 0, 0);
	harness_wait(gs, 2, rx_grew, &rx, 5000, "seqpacket: 3 closes, 4 resets");
	emu_close(g4, c4);

	/* unknown CID: the switch answers */
	r = emu_connect(g3, CAP_UNKNOWN_CID, 1234, VSOCK_TYPE_STREAM);
	CHECK(r >= 0, "3 connects to CID %d", CAP_UNKNOWN_CID);
	if (r < 0)
		return;
	emu_conn_info(g3, r, &ci);
	expect(3, ci.local_port, CAP_UNKNOWN_CID, 1234, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0,
	       0);
	expect(CAP_UNKNOWN_CID, 1234, 3, ci.local_port, VSOCK_TYPE_STREAM, VSOCK_OP_RST, 0, 0, 0);
	a = (struct conn_arg){ .g = g3, .conn = r };
	harness_wait(gs, 2, conn_closed, &a, 5000, "refused by the switch");
	emu_close(g3, r);
	tel_settle(gs, 2, 50);
}

/* Credit packets both guests sent (the only records whose number is not fixed). */
static uint64_t
credit_pkts(struct emu_guest **gs)
{
	struct emu_stats s;
	uint64_t n = 0;
	int i;

	for (i = 0; i < 2; i++) {
		emu_guest_stats(gs[i], &s);
		n += s.tx_pkts[VSOCK_OP_CREDIT_UPDATE] + s.tx_pkts[VSOCK_OP_CREDIT_REQUEST];
	}
	return n;
}

/* Records of @first.. that involve @cid (0: all). */
static int
count_recs(int first, uint64_t cid)
{
	int i, n = 0;

	for (i = first; i < nrecs; i++)
		n += cid == 0 || recs[i].src == cid || recs[i].dst == cid;
	return n;
}

/* Expectations for tel_check.py pcap: records @first.. that involve @cid. */
static void
write_expect(const char *path, const char *pcap, int first, uint64_t cid, uint32_t snaplen,
	     uint64_t credit, double t0, double t1)
{
	FILE *f = fopen(path, "w");
	int i, n = 0;
	uint32_t k;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "{\"file\": \"%s\", \"snaplen\": %u, \"credit_records\": %llu,\n"
		"\"t_start\": %.6f, \"t_end\": %.6f,\n\"records\": [\n", pcap, snaplen,
		(unsigned long long)credit, t0, t1);
	for (i = first; i < nrecs; i++) {
		const struct rec *r = &recs[i];

		if (cid != 0 && r->src != cid && r->dst != cid)
			continue;
		fprintf(f, "%s [%llu, %llu, %u, %u, %u, %u, %u, %u, \"", n++ ? ",\n" : "",
			(unsigned long long)r->src, (unsigned long long)r->dst, r->sport,
			r->dport, r->op, r->len, r->type, r->flags);
		for (k = 0; k < r->len; k++)
			fprintf(f, "%02x", r->fill);
		fprintf(f, "\"]");
	}
	fprintf(f, "\n]}\n");
	fclose(f);
}

/* One line to the control socket, its answer back. */
static bool
ctl(const char *path, const char *cmd, char *reply, size_t max)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t n;
	int fd;

	reply[0] = '\0';
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(reply, max, "connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1) {
		close(fd);
		return false;
	}
	while (got + 1 < max && (n = read(fd, reply + got, 1)) == 1 && reply[got] != '\n')
		got++;
	reply[got] = '\0';
	close(fd);
	printf("  control: %s -> %s\n", cmd, reply);
	return strncmp(reply, "OK", 2) == 0;
}

/* Check the capture file of records @first.. involving @cid; returns the status. */
static int
check_pcap(const struct tel_env *e, const char *expf, const char *pcap, int first, uint64_t cid,
	   uint32_t snaplen, uint64_t credit, double t0)
{
	write_expect(expf, pcap, first, cid, snaplen, credit, t0, wall_now());
	return tel_check(e, "pcap --expect %s", expf);
}

int
main(int argc, char **argv)
{
	uint64_t cids[] = { 3, 4 };
	char pcap_a[300], pcap_b[300], pcap_c[300], expf[300], ctlpath[300], cmd[400];
	char arg_b[400], reply[256], dir[] = "/tmp/vs-cap-XXXXXX";
	const char *extra[6];
	struct emu_guest *gs[2];
	struct tel_env e;
	struct harness h;
	uint64_t credit, credit0;
	int ret, first;
	double t0;

	tel_env_init(&e, argc, argv);
	if (system("tshark --version >/dev/null 2>&1") != 0) {
		printf("SKIP: tshark not found (Debian package tshark)\n");
		return TEL_SKIP;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(pcap_a, sizeof(pcap_a), "%s/a.pcap", dir);
	snprintf(pcap_b, sizeof(pcap_b), "%s/b.pcap", dir);
	snprintf(pcap_c, sizeof(pcap_c), "%s/c.pcap", dir);
	snprintf(expf, sizeof(expf), "%s/expect.json", dir);
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl", dir);

	printf("run A: --pcap %s\n", pcap_a);
	t0 = wall_now();
	extra[0] = "--pcap";
	extra[1] = pcap_a;
	extra[2] = NULL;
	tel_start(&h, e.sw, cids, 2, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	CHECK(tel_check(&e, "wait-running -f %s 3 4", h.prefix) == 0, "guests 3 and 4 run");
	exchange(gs, 6000, true);
	tel_settle(gs, 2, 100);
	credit = credit_pkts(gs);
	ret = tel_check(&e, "capture-stats -f %s --running 1 --records %llu", h.prefix,
			(unsigned long long)(nrecs + credit));
	CHECK(ret == 0, "/vsock/stats: capture running, every record written, none dropped");
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	tel_stop(&h);
	tel_cleanup(&h);
	ret = check_pcap(&e, expf, pcap_a, 0, 0, 0, credit, t0);
	CHECK(ret == 0, "run A: tshark reads the exchange back (status %d)", ret);

	printf("run B: --pcap %s,cid=4,snaplen=%d, then the control socket\n", pcap_b,
	       CAP_SNAPLEN_B);
	t0 = wall_now();
	snprintf(arg_b, sizeof(arg_b), "%s,cid=4,snaplen=%d", pcap_b, CAP_SNAPLEN_B);
	extra[0] = "--pcap";
	extra[1] = arg_b;
	extra[2] = "--control";
	extra[3] = ctlpath;
	extra[4] = NULL;
	tel_start(&h, e.sw, cids, 2, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	CHECK(tel_check(&e, "wait-running -f %s 3 4", h.prefix) == 0, "guests 3 and 4 run");
	first = nrecs;
	exchange(gs, 6000, true);
	tel_settle(gs, 2, 100);
	credit = credit_pkts(gs);
	CHECK(ctl(ctlpath, "CAPTURE STOP", reply, sizeof(reply)), "CAPTURE STOP answers OK");
	ret = tel_check(&e, "capture-stats -f %s --running 0 --records %llu", h.prefix,
			(unsigned long long)(count_recs(first, 4) + credit));
	CHECK(ret == 0, "/vsock/stats: capture stopped, records of CID 4 only, none dropped");
	ret = check_pcap(&e, expf, pcap_b, first, 4, CAP_SNAPLEN_B, credit, t0);
	CHECK(ret == 0, "run B: CID 4 only, %d bytes of each record (status %d)", CAP_SNAPLEN_B,
	      ret);

	CHECK(!ctl(ctlpath, "CAPTURE STOP", reply, sizeof(reply)),
	      "a second CAPTURE STOP is an error");
	snprintf(cmd, sizeof(cmd), "CAPTURE START %s/no/such/dir.pcap", dir);
	CHECK(!ctl(ctlpath, cmd, reply, sizeof(reply)), "CAPTURE START to a bad path is an error");
	t0 = wall_now();
	first = nrecs;
	credit0 = credit_pkts(gs);
	snprintf(cmd, sizeof(cmd), "CAPTURE START %s 3", pcap_c);
	CHECK(ctl(ctlpath, cmd, reply, sizeof(reply)), "CAPTURE START <file> 3 answers OK");
	exchange(gs, 7000, false);
	tel_settle(gs, 2, 100);
	credit = credit_pkts(gs) - credit0;
	CHECK(ctl(ctlpath, "CAPTURE STOP", reply, sizeof(reply)), "CAPTURE STOP answers OK");
	ret = check_pcap(&e, expf, pcap_c, first, 3, 0, credit, t0);
	CHECK(ret == 0, "run B: the runtime capture is complete once CAPTURE STOP answered "
	      "(status %d)", ret);

	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	tel_stop(&h);
	tel_cleanup(&h);
	if (harness_failures == 0) {
		unlink(pcap_a);
		unlink(pcap_b);
		unlink(pcap_c);
		unlink(expf);
		rmdir(dir);
	} else {
		printf("captures kept in %s\n", dir);
	}
	return harness_finish(test_name);
}
