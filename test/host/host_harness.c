/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host_harness.h"
#include "vs_proc.h"

#define HH_START_TIMEOUT_MS 30000
#define HH_BUF (256u * 1024)

static struct hh *hh_running;

static void
hh_sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void
hh_atexit(void)
{
	struct hh *x = hh_running;

	if (x != NULL)
		vs_proc_kill(&x->h.pid);
}

void
hh_start(struct hh *x, const char *sw, const uint64_t *cids, int n, const char *const *extra)
{
	char guest_args[HARNESS_MAX_GUESTS][800];
	const char *lcores = getenv("VS_TEST_LCORES");
	static bool atexit_done;
	struct vs_argv a;
	double deadline;
	int i;

	memset(x, 0, sizeof(*x));
	vs_proc_mkdtemp(x->h.dir, sizeof(x->h.dir), x->h.prefix, sizeof(x->h.prefix), "vs-host");
	snprintf(x->ctl, sizeof(x->ctl), "%s/ctl", x->h.dir);
	x->h.nguests = n;
	vs_argv_eal(&a, sw, 256, "-l", lcores ? lcores : "0-1", x->h.prefix,
		    getenv("VS_TEST_LOG_LEVEL"));
	vs_argv_add(&a, "--");
	for (i = 0; i < n; i++) {
		x->h.cid[i] = cids[i];
		snprintf(x->h.sock[i], sizeof(x->h.sock[i]), "%s/g%llu.sock", x->h.dir,
			 (unsigned long long)cids[i]);
		snprintf(x->uds[i], sizeof(x->uds[i]), "%s/h%llu", x->h.dir,
			 (unsigned long long)cids[i]);
		snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s,uds=%s",
			 (unsigned long long)cids[i], x->h.sock[i], x->uds[i]);
		vs_argv_add(&a, "--guest");
		vs_argv_add(&a, guest_args[i]);
	}
	vs_argv_add(&a, "--control");
	vs_argv_add(&a, x->ctl);
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		vs_argv_add(&a, extra[i]);
	x->h.pid = vs_proc_spawn(&a, x->h.dir);
	hh_running = x;
	if (!atexit_done) {
		atexit(hh_atexit);
		atexit_done = true;
	}
	printf("switch %s pid %d, %d guests, sockets in %s\n", sw, (int)x->h.pid, n, x->h.dir);
	deadline = harness_now_ms() + HH_START_TIMEOUT_MS;
	for (i = 0; i < n; i++) {
		vs_proc_await_socket(&x->h.pid, x->h.dir, x->h.sock[i], deadline);
		vs_proc_await_socket(&x->h.pid, x->h.dir, x->uds[i], deadline);
	}
	vs_proc_await_socket(&x->h.pid, x->h.dir, x->ctl, deadline);
}

const char *
hh_uds(const struct hh *x, uint64_t cid)
{
	int i;

	for (i = 0; i < x->h.nguests; i++)
		if (x->h.cid[i] == cid)
			return x->uds[i];
	fprintf(stderr, "no guest with CID %llu\n", (unsigned long long)cid);
	exit(1);
}

static void
hh_poll_guests(struct emu_guest **gs, int ng, bool idle)
{
	int i, work = 0;

	for (i = 0; i < ng; i++) {
		if (gs[i] != NULL) {
			int r = emu_guest_poll(gs[i]);

			work += r > 0 ? r : 0;
		}
	}
	if (idle && work == 0)
		hh_sleep_us(50);
}

void
hh_poll_us(struct emu_guest **gs, int ng, int idle_us)
{
	int i, work = 0;

	for (i = 0; i < ng; i++) {
		if (gs[i] != NULL) {
			int r = emu_guest_poll(gs[i]);

			work += r > 0 ? r : 0;
		}
	}
	if (work == 0)
		hh_sleep_us(idle_us > 0 ? idle_us : 50);
}

void
hh_poll_ms(struct emu_guest **gs, int ng, int ms)
{
	double end = harness_now_ms() + ms;

	do
		hh_poll_guests(gs, ng, ms > 0);
	while (harness_now_ms() < end);
}

int
hh_connect(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

int
hh_listen(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
		printf("FAIL: listen on %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

int
hh_accept(int lfd, struct emu_guest **gs, int ng, int timeout_ms)
{
	double end = harness_now_ms() + timeout_ms;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN)
			return -errno;
		if (harness_now_ms() > end)
			return -ETIMEDOUT;
		hh_poll_guests(gs, ng, true);
	}
}

int
hh_read_line(int fd, char *buf, int max, int *passed, struct emu_guest **gs, int ng,
	     int timeout_ms)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	double end = harness_now_ms() + timeout_ms;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	char *nl;
	ssize_t n;
	int len;

	if (passed != NULL)
		*passed = -1;
	for (;;) {
		n = recv(fd, buf, max - 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0) {
			nl = memchr(buf, '\n', n);
			if (nl != NULL || n == max - 1)
				break;
		} else if (errno != EAGAIN) {
			return -errno;
		}
		if (harness_now_ms() > end)
			return -ETIMEDOUT;
		hh_poll_guests(gs, ng, true);
	}
	len = nl != NULL ? (int)(nl - buf) + 1 : (int)n;
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.b;
	mh.msg_controllen = sizeof(u.b);
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n != len)
		return -EIO;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int pfd;

			memcpy(&pfd, CMSG_DATA(cm), sizeof(int));
			if (passed != NULL)
				*passed = pfd;
			else
				close(pfd);
		}
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return len > 0 ? len : 1;
}

int
hh_write_all(int fd, const void *buf, size_t len, struct emu_guest **gs, int ng)
{
	const uint8_t *p = buf;
	double end = harness_now_ms() + 10000;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (harness_now_ms() > end)
			return -ETIMEDOUT;
		hh_poll_guests(gs, ng, true);
	}
	return 0;
}

int
hh_ctl(const struct hh *x, const char *cmd, char *reply, int max, struct emu_guest **gs,
       int ng, int timeout_ms)
{
	int fd = hh_connect(x->ctl, SOCK_STREAM), n;

	reply[0] = '\0';
	if (fd < 0)
		return fd;
	if (hh_write_all(fd, cmd, strlen(cmd), gs, ng) != 0) {
		close(fd);
		return -EIO;
	}
	n = hh_read_line(fd, reply, max, NULL, gs, ng, timeout_ms);
	if (n <= 0) {
		close(fd);
		return n == 0 ? -ECONNRESET : n;
	}
	return fd;
}

uint64_t
hh_stat(const struct hh *x, const char *name)
{
	char reply[4096], key[64];
	const char *p;
	int fd = hh_ctl(x, "STATS\n", reply, sizeof(reply), NULL, 0, HH_STALL_MS);

	if (fd >= 0)
		close(fd);
	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(reply, key);
	if (fd < 0 || p == NULL) {
		printf("FAIL: no %s in STATS reply '%s' (%s)\n", name, reply,
		       fd < 0 ? strerror(-fd) : "");
		vs_proc_print_log(x->h.dir);
		exit(1);
	}
	return strtoull(p + strlen(key), NULL, 10);
}

struct emu_guest *
hh_guest(const struct hh *x, uint64_t cid, const struct emu_guest_opts *o)
{
	struct emu_guest *g = harness_guest(&x->h, cid, o);
	double end = harness_now_ms() + 10000;
	char cmd[64], reply[128];
	int fd;

	if (o != NULL && !o->start_rings)
		return g;
	/* Port 1 of a fresh guest: nobody listens, the answer is an RST once it runs. */
	snprintf(cmd, sizeof(cmd), "CONNECT %llu 1\n", (unsigned long long)cid);
	while (harness_now_ms() < end) {
		fd = hh_ctl(x, cmd, reply, sizeof(reply), &g, 1, 5000);
		if (fd >= 0)
			close(fd);
		if (strstr(reply, "EHOSTUNREACH") == NULL)
			return g;
		hh_poll_ms(&g, 1, 5);
	}
	printf("FAIL: guest %llu never became reachable ('%s')\n", (unsigned long long)cid, reply);
	exit(1);
}

int
hh_hybrid_connect(const struct hh *x, uint64_t cid, uint32_t port, int type,
		  uint32_t *host_port, struct emu_guest **gs, int ng)
{
	char path[400], line[64];
	int fd, n;

	if (type == SOCK_SEQPACKET)
		snprintf(path, sizeof(path), "%s_seqpacket", hh_uds(x, cid));
	else
		snprintf(path, sizeof(path), "%s", hh_uds(x, cid));
	fd = hh_connect(path, type);
	if (fd < 0)
		return fd;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (hh_write_all(fd, line, n, gs, ng) != 0) {
		close(fd);
		return -EIO;
	}
	n = hh_read_line(fd, line, sizeof(line), NULL, gs, ng, HH_WAIT_MS);
	if (n <= 0 || strncmp(line, "OK ", 3) != 0) {
		close(fd);
		return n == 0 ? -ECONNRESET : n < 0 ? n : -EPROTO;
	}
	if (host_port != NULL)
		*host_port = (uint32_t)strtoul(line + 3, NULL, 10);
	return fd;
}

uint64_t
hh_rss_kib(int pid)
{
	char path[64], line[256];
	uint64_t kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lu", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- flows ---- */

void
hh_flow_init(struct hh_flow *f, const char *name, enum hh_dir dir, int fd, struct emu_guest *g,
	     int conn, uint64_t seed, uint64_t total)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->dir = dir;
	f->fd = fd;
	f->g = g;
	f->conn = conn;
	f->seed = seed;
	f->total = total;
	harness_sum_init(&f->tx_sum);
	harness_sum_init(&f->rx_sum);
	f->bufsz = total < HH_BUF ? (total > 0 ? total : 1) : HH_BUF;
	f->txbuf = malloc(f->bufsz);
	f->rxbuf = malloc(f->bufsz);
	f->expect = malloc(f->bufsz);
	if (f->txbuf == NULL || f->rxbuf == NULL || f->expect == NULL) {
		perror("malloc");
		exit(1);
	}
	f->txbuf_off = UINT64_MAX;
}

void
hh_flow_fini(struct hh_flow *f)
{
	free(f->txbuf);
	free(f->rxbuf);
	free(f->expect);
	f->txbuf = f->rxbuf = f->expect = NULL;
}

static int64_t
hh_flow_send(struct hh_flow *f)
{
	uint64_t block = f->sent - f->sent % HH_BUF;
	size_t len;
	ssize_t n;

	if (f->txbuf_off != block) {
		len = f->total - block < HH_BUF ? f->total - block : HH_BUF;
		harness_pattern(f->seed, block, f->txbuf, len);
		f->txbuf_off = block;
	}
	len = HH_BUF - (f->sent - block);
	if (len > f->total - f->sent)
		len = f->total - f->sent;
	if (f->dir == HH_H2G) {
		n = send(f->fd, f->txbuf + (f->sent - block), len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			n = errno == EAGAIN ? -EAGAIN : -errno;
	} else {
		n = emu_send(f->g, f->conn, f->txbuf + (f->sent - block), len);
	}
	if (n == -EAGAIN)
		return 0;
	if (n <= 0) {
		f->error = n < 0 ? (int)n : -EIO;
		return f->error;
	}
	harness_sum_add(&f->tx_sum, f->txbuf + (f->sent - block), n);
	f->sent += n;
	return n;
}

static int64_t
hh_flow_recv(struct hh_flow *f)
{
	size_t max = f->bufsz;
	int64_t moved = 0;
	ssize_t n;

	if (f->dir == HH_G2H && f->read_max > 0)
		max = f->read_max;
	for (;;) {
		if (f->dir == HH_G2H && f->read_every_ms > 0) {
			double now = harness_now_ms();

			if (now < f->next_read_ms)
				return moved;
			f->next_read_ms = now + f->read_every_ms;
		}
		if (f->dir == HH_G2H) {
			n = recv(f->fd, f->rxbuf, max, MSG_DONTWAIT);
			if (n < 0)
				n = -errno;
		} else {
			n = emu_recv(f->g, f->conn, f->rxbuf, max, NULL);
		}
		if (n == -EAGAIN)
			return moved;
		if (n < 0) {
			f->error = (int)n;
			return n;
		}
		if (n == 0) {
			f->eof_seen = true;
			if (f->rcvd < f->total) {
				printf("  %s: EOF after %llu of %llu bytes\n", f->name,
				       (unsigned long long)f->rcvd, (unsigned long long)f->total);
				f->error = -EPIPE;
				return f->error;
			}
			return moved;
		}
		if (f->rcvd + n > f->total) {
			f->error = -EBADMSG;
			return f->error;
		}
		harness_pattern(f->seed, f->rcvd, f->expect, n);
		if (memcmp(f->rxbuf, f->expect, n) != 0) {
			size_t i;

			for (i = 0; f->rxbuf[i] == f->expect[i]; i++)
				;
			printf("  %s: wrong byte at stream offset %llu\n", f->name,
			       (unsigned long long)(f->rcvd + i));
			f->error = -EBADMSG;
			return f->error;
		}
		harness_sum_add(&f->rx_sum, f->rxbuf, n);
		f->rcvd += n;
		moved += n;
	}
}

int64_t
hh_flow_step(struct hh_flow *f)
{
	int64_t moved = 0, n;

	if (f->error)
		return f->error;
	if (f->sent < f->total) {
		n = hh_flow_send(f);
		if (n < 0)
			return n;
		moved += n;
	}
	if (f->sent == f->total && !f->shut_sent && !f->no_shutdown) {
		if (f->dir == HH_H2G) {
			if (shutdown(f->fd, SHUT_WR) != 0)
				f->error = -errno;
		} else {
			f->error = emu_shutdown(f->g, f->conn, SHUT_WR);
		}
		if (f->error)
			return f->error;
		f->shut_sent = true;
	}
	if (!f->eof_seen && !(f->no_shutdown && f->rcvd == f->total)) {
		n = hh_flow_recv(f);
		if (n < 0)
			return n;
		moved += n;
	}
	return moved;
}

bool
hh_flow_done(const struct hh_flow *f)
{
	return f->rcvd == f->total && (f->eof_seen || f->no_shutdown);
}

/* What a stalled transfer looks like from both ends. */
static void
hh_dump_state(struct hh_flow **fs, int nf)
{
	char reply[4096];
	int i, fd;

	for (i = 0; i < nf && i < 4; i++) {
		struct emu_conn_info ci;

		if (emu_conn_info(fs[i]->g, fs[i]->conn, &ci) == 0)
			printf("  %s: guest end: credit %u (peer buf_alloc %u fwd_cnt %u, tx_cnt "
			       "%u), fwd_cnt %u, %u queued, shut %u/%u\n", fs[i]->name, ci.credit,
			       ci.peer_buf_alloc, ci.peer_fwd_cnt, ci.tx_cnt, ci.fwd_cnt,
			       ci.rx_queued, ci.shut, ci.peer_shut);
	}
	if (hh_running == NULL)
		return;
	fd = hh_ctl(hh_running, "STATS\n", reply, sizeof(reply), NULL, 0, 5000);
	printf("  switch: %s\n", fd >= 0 ? reply : "no answer to STATS");
	if (fd >= 0)
		close(fd);
}

int
hh_flows_run(struct hh_flow **fs, int nf, struct emu_guest **gs, int ng, int stall_ms)
{
	double last = harness_now_ms(), prev = last, gap = 0;
	int64_t moved;
	int i, work, done;

	for (;;) {
		double now = harness_now_ms();

		if (now - prev > gap)
			gap = now - prev;
		prev = now;
		moved = 0;
		work = 0;
		done = 0;
		for (i = 0; i < nf; i++) {
			int64_t n = hh_flow_step(fs[i]);

			if (n < 0)
				return (int)n;
			moved += n;
			done += hh_flow_done(fs[i]);
		}
		if (done == nf)
			return 0;
		for (i = 0; i < ng; i++) {
			int r = emu_guest_poll(gs[i]);

			if (r > 0)
				work += r;
		}
		if (moved > 0) {
			last = harness_now_ms();
		} else if (harness_now_ms() - last > stall_ms) {
			for (i = 0; i < nf; i++)
				printf("  %s: stalled at %llu sent, %llu received of %llu\n",
				       fs[i]->name, (unsigned long long)fs[i]->sent,
				       (unsigned long long)fs[i]->rcvd,
				       (unsigned long long)fs[i]->total);
			printf("  longest pause of this test loop: %.0f ms\n", gap);
			hh_dump_state(fs, nf);
			return -ETIMEDOUT;
		}
		if (moved == 0 && work == 0)
			hh_sleep_us(50);
	}
}

void
hh_flow_check(const struct hh_flow *f)
{
	CHECK(f->error == 0, "%s: no error (%s)", f->name, f->error ? strerror(-f->error) : "none");
	CHECK(f->rcvd == f->total, "%s: %llu of %llu bytes received", f->name,
	      (unsigned long long)f->rcvd, (unsigned long long)f->total);
	CHECK(f->no_shutdown || f->eof_seen, "%s: EOF after the last byte", f->name);
	CHECK(harness_sum_final(&f->tx_sum) == harness_sum_final(&f->rx_sum),
	      "%s: checksum sent %016llx = received %016llx", f->name,
	      (unsigned long long)harness_sum_final(&f->tx_sum),
	      (unsigned long long)harness_sum_final(&f->rx_sum));
}
