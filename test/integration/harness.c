/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vs_proc.h"

#define HARNESS_START_TIMEOUT_MS 30000
#define HARNESS_STOP_TIMEOUT_MS 10000

int harness_failures;

static struct harness *harness_running;

double
harness_now_ms(void)
{
	return vs_proc_now_ms();
}

uint64_t
harness_env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtoull(v, &end, 0);
	if (*end == 'k' || *end == 'K')
		n <<= 10;
	else if (*end == 'm' || *end == 'M')
		n <<= 20;
	else if (*end == 'g' || *end == 'G')
		n <<= 30;
	return n;
}

/* If a test exits early, do not leave a switch behind. */
static void
harness_atexit(void)
{
	struct harness *h = harness_running;

	if (h == NULL)
		return;
	harness_running = NULL;
	vs_proc_kill(&h->pid);
	vs_proc_print_log(h->dir);
	vs_proc_rm_dir(h->dir);
	vs_proc_rm_runtime(h->prefix);
}

bool
harness_alive(struct harness *h)
{
	return vs_proc_alive(&h->pid);
}

void
harness_start(struct harness *h, const char *switch_path, const uint64_t *cids, int n)
{
	char guest_args[HARNESS_MAX_GUESTS][400];
	const char *lcores = getenv("VS_TEST_LCORES");
	static bool atexit_done;
	struct vs_argv a;
	double deadline;
	int i;

	memset(h, 0, sizeof(*h));
	vs_proc_mkdtemp(h->dir, sizeof(h->dir), h->prefix, sizeof(h->prefix), "vs-it");
	h->nguests = n;
	vs_argv_eal(&a, switch_path, 256, "-l", lcores ? lcores : "0-1", h->prefix,
		    getenv("VS_TEST_LOG_LEVEL"));
	vs_argv_add(&a, "--");
	for (i = 0; i < n; i++) {
		h->cid[i] = cids[i];
		snprintf(h->sock[i], sizeof(h->sock[i]), "%s/g%llu.sock", h->dir,
			 (unsigned long long)cids[i]);
		snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s",
			 (unsigned long long)cids[i], h->sock[i]);
		vs_argv_add(&a, "--guest");
		vs_argv_add(&a, guest_args[i]);
	}
	h->pid = vs_proc_spawn(&a, h->dir);
	harness_running = h;
	if (!atexit_done) {
		atexit(harness_atexit);
		atexit_done = true;
	}
	printf("switch %s pid %d, %d guests, sockets in %s\n", switch_path, (int)h->pid, n, h->dir);
	deadline = harness_now_ms() + HARNESS_START_TIMEOUT_MS;
	for (i = 0; i < n; i++)
		vs_proc_await_socket(&h->pid, h->dir, h->sock[i], deadline);
}

const char *
harness_sock(const struct harness *h, uint64_t cid)
{
	int i;

	for (i = 0; i < h->nguests; i++)
		if (h->cid[i] == cid)
			return h->sock[i];
	fprintf(stderr, "no guest with CID %llu\n", (unsigned long long)cid);
	exit(1);
}

void
harness_guest_opts(const struct harness *h, uint64_t cid, struct emu_guest_opts *o)
{
	emu_guest_opts_init(o, harness_sock(h, cid));
}

struct emu_guest *
harness_guest(const struct harness *h, uint64_t cid, const struct emu_guest_opts *o)
{
	struct emu_guest_opts d;
	struct emu_guest *g;

	if (o == NULL) {
		harness_guest_opts(h, cid, &d);
		o = &d;
	}
	g = emu_guest_create(o);
	if (g == NULL) {
		printf("FAIL: guest on %s: %s\n", o->socket_path, strerror(errno));
		vs_proc_print_log(h->dir);
		exit(1);
	}
	if (emu_guest_cid(g) != cid) {
		printf("FAIL: guest on %s got CID %llu, expected %llu\n", o->socket_path,
		       (unsigned long long)emu_guest_cid(g), (unsigned long long)cid);
		exit(1);
	}
	return g;
}

void
harness_stop(struct harness *h)
{
	char how[64];
	bool ok;

	if (h->pid > 0) {
		ok = vs_proc_stop(&h->pid, HARNESS_STOP_TIMEOUT_MS, how, sizeof(how));
		CHECK(ok, "switch exits with status 0 on SIGTERM (%s)", how);
	} else {
		CHECK(false, "switch still running at the end of the test");
	}
	harness_running = NULL;
	if (harness_failures || getenv("VS_TEST_VERBOSE") != NULL)
		vs_proc_print_log(h->dir);
	vs_proc_rm_dir(h->dir);
	vs_proc_rm_runtime(h->prefix);
}

int
harness_finish(const char *test_name)
{
	printf("%s: %s (%d failure%s)\n", test_name, harness_failures ? "FAIL" : "PASS",
	       harness_failures, harness_failures == 1 ? "" : "s");
	return harness_failures ? 1 : 0;
}

const char *
harness_switch_path(int argc, char **argv)
{
	const char *p = argc > 1 ? argv[1] : getenv("VS_SWITCH");

	if (p == NULL || access(p, X_OK) != 0) {
		fprintf(stderr, "usage: %s <path to vsock-switch> (or set VS_SWITCH)\n", argv[0]);
		exit(1);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return p;
}

/* splitmix64 of the 8-byte word index: any offset can be produced on its own */
static inline uint64_t
harness_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
harness_pattern(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t word, w;
	size_t i = 0;

	while (i < len) {
		w = (offset + i) / 8;
		word = harness_mix(w ^ (seed << 40));
		if ((offset + i) % 8 == 0 && len - i >= 8) {
			memcpy(p + i, &word, 8);
			i += 8;
		} else {
			p[i] = (uint8_t)(word >> (8 * ((offset + i) % 8)));
			i++;
		}
	}
}

void
harness_sum_init(struct harness_sum *s)
{
	s->h = 0xcbf29ce484222325ULL;
	s->acc = 0;
	s->off = 0;
}

static inline void
harness_sum_word(struct harness_sum *s, uint64_t w)
{
	s->h = (s->h ^ w) * 0x100000001b3ULL;
}

void
harness_sum_add(struct harness_sum *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t w;
	size_t i = 0;

	while (i < len) {
		if (s->off % 8 == 0 && len - i >= 8) {
			memcpy(&w, p + i, 8);
			harness_sum_word(s, w);
			i += 8;
			s->off += 8;
			continue;
		}
		s->acc |= (uint64_t)p[i] << (8 * (s->off % 8));
		i++;
		s->off++;
		if (s->off % 8 == 0) {
			harness_sum_word(s, s->acc);
			s->acc = 0;
		}
	}
}

uint64_t
harness_sum_final(const struct harness_sum *s)
{
	struct harness_sum t = *s;

	if (t.off % 8)
		harness_sum_word(&t, t.acc);
	return t.h ^ t.off;
}

#define HARNESS_FLOW_BUF (256u * 1024)

void
harness_flow_init(struct harness_flow *f, const char *name, struct emu_guest *src, int src_conn,
		  struct emu_guest *dst, int dst_conn, uint64_t seed, uint64_t total)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->src = src;
	f->src_conn = src_conn;
	f->dst = dst;
	f->dst_conn = dst_conn;
	f->seed = seed;
	f->total = total;
	harness_sum_init(&f->tx_sum);
	harness_sum_init(&f->rx_sum);
	f->txbuf = malloc(HARNESS_FLOW_BUF);
	f->rxbuf = malloc(HARNESS_FLOW_BUF);
	f->expect = malloc(HARNESS_FLOW_BUF);
	if (f->txbuf == NULL || f->rxbuf == NULL || f->expect == NULL) {
		perror("malloc");
		exit(1);
	}
	f->txbuf_off = UINT64_MAX;
}

void
harness_flow_fini(struct harness_flow *f)
{
	free(f->txbuf);
	free(f->rxbuf);
	free(f->expect);
	f->txbuf = f->rxbuf = f->expect = NULL;
}

static int64_t
harness_flow_send(struct harness_flow *f)
{
	uint64_t block = f->sent - f->sent % HARNESS_FLOW_BUF;
	size_t len;
	ssize_t n;

	if (f->txbuf_off != block) {
		len = f->total - block < HARNESS_FLOW_BUF ? f->total - block : HARNESS_FLOW_BUF;
		harness_pattern(f->seed, block, f->txbuf, len);
		f->txbuf_off = block;
	}
	len = HARNESS_FLOW_BUF - (f->sent - block);
	if (len > f->total - f->sent)
		len = f->total - f->sent;
	n = emu_send(f->src, f->src_conn, f->txbuf + (f->sent - block), len);
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
harness_flow_recv(struct harness_flow *f)
{
	int64_t moved = 0;
	ssize_t n;
	size_t i;

	for (;;) {
		n = emu_recv(f->dst, f->dst_conn, f->rxbuf, HARNESS_FLOW_BUF, NULL);
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
			printf("  %s: %llu bytes more than were sent\n", f->name,
			       (unsigned long long)(f->rcvd + n - f->total));
			f->error = -EBADMSG;
			return f->error;
		}
		harness_pattern(f->seed, f->rcvd, f->expect, n);
		if (memcmp(f->rxbuf, f->expect, n) != 0) {
			for (i = 0; f->rxbuf[i] == f->expect[i]; i++)
				;
			f->bad_off = f->rcvd + i;
			printf("  %s: wrong byte at stream offset %llu (got %#x, want %#x)\n",
			       f->name, (unsigned long long)f->bad_off, f->rxbuf[i], f->expect[i]);
			f->error = -EBADMSG;
			return f->error;
		}
		harness_sum_add(&f->rx_sum, f->rxbuf, n);
		f->rcvd += n;
		moved += n;
	}
}

int64_t
harness_flow_step(struct harness_flow *f)
{
	int64_t moved = 0, n;
	int ret;

	if (f->error)
		return f->error;
	if (f->sent < f->total) {
		n = harness_flow_send(f);
		if (n < 0)
			return n;
		moved += n;
	}
	if (f->sent == f->total && !f->shut_sent && !f->no_shutdown) {
		ret = emu_shutdown(f->src, f->src_conn, SHUT_WR);
		if (ret < 0) {
			f->error = ret;
			return ret;
		}
		f->shut_sent = true;
	}
	if (!f->eof_seen) {
		n = harness_flow_recv(f);
		if (n < 0)
			return n;
		moved += n;
	}
	return moved;
}

bool
harness_flow_done(const struct harness_flow *f)
{
	return f->rcvd == f->total && (f->eof_seen || f->no_shutdown);
}

int
harness_flows_run(struct harness_flow **fs, int nf, struct emu_guest **gs, int ng, int stall_ms)
{
	struct timespec idle = { .tv_nsec = 50000 };
	double last = harness_now_ms();
	int64_t moved;
	int i, work, done;

	for (;;) {
		moved = 0;
		work = 0;
		done = 0;
		for (i = 0; i < nf; i++) {
			int64_t n = harness_flow_step(fs[i]);

			if (n < 0)
				return (int)n;
			moved += n;
			done += harness_flow_done(fs[i]);
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
			return -ETIMEDOUT;
		}
		if (moved == 0 && work == 0)
			nanosleep(&idle, NULL);
	}
}

void
harness_flow_check(const struct harness_flow *f)
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

void
harness_check_clean(struct emu_guest *g, const char *name)
{
	struct emu_stats s;

	emu_guest_stats(g, &s);
	CHECK(s.rx_bad == 0 && s.used_bad == 0 && s.rx_misrouted == 0 &&
	      s.rx_credit_overflow == 0 && s.ctrl_dropped == 0,
	      "%s: no malformed (%llu), bad used (%llu), misrouted (%llu), over-credit (%llu) "
	      "packets, no dropped control (%llu)", name, (unsigned long long)s.rx_bad,
	      (unsigned long long)s.used_bad, (unsigned long long)s.rx_misrouted,
	      (unsigned long long)s.rx_credit_overflow, (unsigned long long)s.ctrl_dropped);
}

bool
harness_wait(struct emu_guest **gs, int n, int (*cond)(void *), void *arg, int timeout_ms,
	     const char *what)
{
	double t0 = harness_now_ms();
	int ret = emu_poll_until(gs, n, cond, arg, timeout_ms);

	CHECK(ret == 0, "%s (%.1f ms)", what, harness_now_ms() - t0);
	return ret == 0;
}

struct harness_pair_arg {
	struct emu_guest *from, *to;
	uint32_t port;
	int from_conn, to_conn;
};

static int
harness_pair_done(void *p)
{
	struct harness_pair_arg *a = p;

	if (a->to_conn < 0)
		a->to_conn = emu_accept(a->to, a->port);
	if (a->to_conn < 0 && a->to_conn != -EAGAIN)
		return 1;
	if (emu_conn_state(a->from, a->from_conn) == EMU_CONN_CLOSED)
		return 1;
	return emu_conn_state(a->from, a->from_conn) != EMU_CONN_CONNECTING && a->to_conn >= 0;
}

void
harness_pair(struct emu_guest *from, struct emu_guest *to, uint32_t port, uint16_t type,
	     int *from_conn, int *to_conn)
{
	struct harness_pair_arg a = { .from = from, .to = to, .port = port, .to_conn = -EAGAIN };
	struct emu_guest *gs[2] = { from, to };
	double t0;
	int ret;

	ret = emu_listen(to, port, type);
	if (ret < 0 && ret != -EADDRINUSE) {
		printf("FAIL: listen on port %u: %s\n", port, strerror(-ret));
		exit(1);
	}
	/*
	 * A guest that has just started may not be known as started by the switch
	 * yet (it learns after acking the last vhost-user message): a refusal
	 * within the first second is retried.
	 */
	t0 = harness_now_ms();
	for (;;) {
		a.from_conn = emu_connect(from, emu_guest_cid(to), port, type);
		if (a.from_conn < 0) {
			printf("FAIL: connect to %llu:%u: %s\n",
			       (unsigned long long)emu_guest_cid(to), port, strerror(-a.from_conn));
			exit(1);
		}
		ret = emu_poll_until(gs, 2, harness_pair_done, &a, 5000);
		if (emu_conn_error(from, a.from_conn) != -ECONNREFUSED ||
		    harness_now_ms() - t0 > 1000)
			break;
		printf("  (connection to %llu:%u refused, retrying)\n",
		       (unsigned long long)emu_guest_cid(to), port);
		emu_close(from, a.from_conn);
		emu_poll_until(gs, 2, NULL, NULL, 20);
	}
	if (ret < 0 || a.to_conn < 0 || emu_conn_state(from, a.from_conn) != EMU_CONN_CONNECTED) {
		printf("FAIL: connection %llu -> %llu:%u: state %d error %d accept %d\n",
		       (unsigned long long)emu_guest_cid(from),
		       (unsigned long long)emu_guest_cid(to), port,
		       emu_conn_state(from, a.from_conn), emu_conn_error(from, a.from_conn),
		       a.to_conn);
		exit(1);
	}
	*from_conn = a.from_conn;
	*to_conn = a.to_conn;
}

int
harness_msgs(struct emu_guest **gs, int ng, struct emu_guest *src, int src_conn,
	     struct emu_guest *dst, int dst_conn, const uint32_t *sizes, int n, uint64_t seed,
	     const char *what)
{
	struct timespec idle = { .tv_nsec = 50000 };
	uint32_t max = 0;
	uint8_t *tx, *rx, *want;
	int sent = 0, got = 0, bad = 0, i, work;
	bool generated = false, eor;
	double last = harness_now_ms();
	ssize_t r;

	for (i = 0; i < n; i++)
		max = sizes[i] > max ? sizes[i] : max;
	tx = malloc(max + 1);
	rx = malloc(max + 1);
	want = malloc(max + 1);
	if (tx == NULL || rx == NULL || want == NULL) {
		perror("malloc");
		exit(1);
	}
	while (got < n) {
		bool moved = false;

		if (sent < n) {
			if (!generated) {
				harness_pattern(seed + sent, 0, tx, sizes[sent]);
				generated = true;
			}
			r = emu_send_msg(src, src_conn, tx, sizes[sent], sent % 2);
			if (r == (ssize_t)sizes[sent]) {
				sent++;
				generated = false;
				moved = true;
			} else if (r != -EAGAIN) {
				printf("  %s: send of message %d (%u bytes): %zd\n", what, sent,
				       sizes[sent], r);
				bad = n;
				break;
			}
		}
		for (;;) {
			r = emu_recv(dst, dst_conn, rx, max + 1, &eor);
			if (r == -EAGAIN)
				break;
			moved = true;
			harness_pattern(seed + got, 0, want, sizes[got]);
			if (r != (ssize_t)sizes[got] || memcmp(rx, want, sizes[got]) != 0 ||
			    eor != (got % 2)) {
				if (bad < 5)
					printf("  %s: message %d: got %zd bytes eor %d, want %u "
					       "bytes eor %d%s\n", what, got, r, eor, sizes[got],
					       got % 2, r == (ssize_t)sizes[got] ?
					       " (content differs)" : "");
				bad++;
			}
			if (r <= 0) {
				bad = n;
				break;
			}
			got++;
			if (got == n)
				break;
		}
		if (bad == n)
			break;
		work = 0;
		for (i = 0; i < ng; i++) {
			int w = emu_guest_poll(gs[i]);

			work += w > 0 ? w : 0;
		}
		if (moved)
			last = harness_now_ms();
		else if (harness_now_ms() - last > 10000) {
			printf("  %s: stalled: %d sent, %d received of %d\n", what, sent, got, n);
			bad = n;
			break;
		}
		if (!moved && work == 0)
			nanosleep(&idle, NULL);
	}
	free(tx);
	free(rx);
	free(want);
	CHECK(bad == 0, "%s: %d messages arrive whole, in order, with their EOR flag (%d bad)",
	      what, n, bad);
	return bad;
}

int
harness_conn_closed(void *arg)
{
	const struct harness_conn *a = arg;

	return emu_conn_state(a->g, a->conn) == EMU_CONN_CLOSED;
}
