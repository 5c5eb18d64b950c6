/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_flows: /vsock/flows shows the host ends of connections too. A host
 * program connects to guest 3 through its hybrid socket (CONNECT 5000), sends
 * HOST_BYTES, and the guest answers GUEST_BYTES; tel_check.py (hostflows) then
 * finds two rows for the connection: the guest's end on its worker and the
 * host's end (local CID 2, the main lcore) with matching ports, bytes and
 * credit, also under /vsock/flows,3 and /vsock/flows,2.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tel_common.h"

static const char *test_name = "host_flows";

#define PORT 5000
#define HOST_BYTES 3000
#define GUEST_BYTES 700
#define BUF_ALLOC 131072

struct accept_arg {
	struct emu_guest *g;
	int conn;
};

static int
accepted(void *arg)
{
	struct accept_arg *a = arg;

	a->conn = emu_accept(a->g, PORT);
	return a->conn >= 0;
}

struct read_arg {
	int fd;
	char buf[4096];
	size_t len;
	size_t want;
};

/* Host socket: read what is there; done once @want bytes (or a line) came. */
static int
host_read(void *arg)
{
	struct read_arg *r = arg;
	ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);

	if (n > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
	return r->want != 0 ? r->len >= r->want : strchr(r->buf, '\n') != NULL;
}

struct recv_arg {
	struct emu_guest *g;
	int conn;
	size_t got;
};

static int
guest_read(void *arg)
{
	struct recv_arg *r = arg;
	char buf[4096];
	ssize_t n = emu_recv(r->g, r->conn, buf, sizeof(buf), NULL);

	if (n > 0)
		r->got += (size_t)n;
	return r->got >= HOST_BYTES;
}

int
main(int argc, char **argv)
{
	static const char *const extra[] = { "--buf-alloc", "131072", NULL };
	uint64_t cids[] = { 3 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct accept_arg aa;
	struct read_arg ra;
	struct recv_arg rr;
	struct emu_guest *gs[1];
	char payload[HOST_BYTES];
	unsigned int hport = 0;
	struct tel_env e;
	struct harness h;
	int fd, ret;

	tel_env_init(&e, argc, argv);
	tel_start(&h, e.sw, cids, 1, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	ret = tel_check(&e, "wait-running -f %s 3", h.prefix);
	if (ret == TEL_SKIP) {
		emu_guest_destroy(gs[0]);
		tel_stop(&h);
		tel_cleanup(&h);
		return TEL_SKIP;
	}
	CHECK(ret == 0, "the switch runs guest 3");
	CHECK(emu_listen(gs[0], PORT, VSOCK_TYPE_STREAM) == 0, "guest 3 listens on %d", PORT);

	if (strlen(h.dir) + sizeof("/g3.uds") > sizeof(sa.sun_path))
		return 1;
	memcpy(sa.sun_path, h.dir, strlen(h.dir));
	memcpy(sa.sun_path + strlen(h.dir), "/g3.uds", sizeof("/g3.uds"));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	      "host program connects to %s", sa.sun_path);
	CHECK(write(fd, "CONNECT 5000\n", 13) == 13, "CONNECT 5000");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	memset(&ra, 0, sizeof(ra));
	ra.fd = fd;
	aa.g = gs[0];
	harness_wait(gs, 1, accepted, &aa, 5000, "guest 3 accepts");
	harness_wait(gs, 1, host_read, &ra, 5000, "the host program reads its OK line");
	CHECK(sscanf(ra.buf, "OK %u", &hport) == 1, "OK line %.20s: host port %u", ra.buf,
	      hport);

	memset(payload, 'h', sizeof(payload));
	CHECK(write(fd, payload, HOST_BYTES) == HOST_BYTES, "host program sends %d bytes",
	      HOST_BYTES);
	rr = (struct recv_arg){ .g = gs[0], .conn = aa.conn };
	harness_wait(gs, 1, guest_read, &rr, 5000, "guest 3 reads them");
	memset(payload, 'g', GUEST_BYTES);
	CHECK(emu_send(gs[0], aa.conn, payload, GUEST_BYTES) == GUEST_BYTES,
	      "guest 3 answers %d bytes", GUEST_BYTES);
	memset(&ra, 0, sizeof(ra));
	ra.fd = fd;
	ra.want = GUEST_BYTES;
	harness_wait(gs, 1, host_read, &ra, 5000, "the host program reads the answer");
	/* Credit updates and the last used entries settle. */
	tel_settle(gs, 1, 200);

	ret = tel_check(&e, "hostflows -f %s --port %d --host-port %u --host-bytes %d "
			"--guest-bytes %d --main-lcore 0 --buf-alloc %d --uds %s/g3.uds",
			h.prefix, PORT, hport, HOST_BYTES, GUEST_BYTES, BUF_ALLOC, h.dir);
	CHECK(ret == 0, "/vsock/flows shows both ends (tel_check.py status %d)", ret);

	close(fd);
	emu_guest_destroy(gs[0]);
	tel_stop(&h);
	tel_cleanup(&h);
	return harness_finish(test_name);
}
