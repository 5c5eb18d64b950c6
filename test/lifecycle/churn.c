/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * churn: guests come and go at run time while others keep working.
 *
 * Stable guests 3 and 4 (lcore 1) exchange checksummed streams both ways, one
 * after the other on new connections, for the whole test; stable guest 5
 * (lcore 1) keeps opening connections to the churned CIDs (10..13), present or
 * not. Meanwhile, cycle after cycle: GUEST-ADD a churned CID (on lcore 2 or
 * unpinned, with or without a hybrid socket), attach an emulated frontend,
 * start its driver (or not), exchange data with guests 5 and 3, then end it in
 * one of five ways (GUEST-DEL under a running driver, crash then GUEST-DEL, driver
 * stop then GUEST-DEL, clean quit then GUEST-DEL, never started then GUEST-DEL).
 *
 * Checked: every GUEST-ADD/GUEST-DEL answers OK; the stable streams arrive whole
 * and intact; the peers of a deleted guest get an RST promptly; no connection
 * attempt of guest 5 stays unanswered; GUESTS lists the stable guests only at
 * the end; the switch exits with status 0 (in the ASan build: no error, no leak).
 *
 * VS_CHURN_CYCLES (default 300) and VS_CHURN_SECONDS (default 40) bound the run;
 * VS_TEST_LCORES (EAL --lcores) runs another layout, every guest on any lcore (the
 * single-lcore layout "0": the worker on the main lcore, the control socket on a
 * control thread).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lc.h"

static const char *test_name = "churn";

#define CHURN_FIRST_CID 10
#define CHURN_NCIDS 8 /* guests added, attached and deleted per batch */
#define RTE_DIM_ZOMBIES (2 * CHURN_NCIDS)
#define STREAM_BYTES (4u << 20)
#define PROBE_PORT 9000
#define DATA_PORT 8000
#define PEER_PORT 8500
#define PROMPT_MS 3000
/* librte_vhost 22.11 releases a closed connection when its 1 s poll returns. */
#define ZOMBIE_MS 5000
/* A probe to a guest whose frontend is still attaching waits for that guest: up
 * to the attach wait (30 s); a probe never answered is what this catches. */
#define PROBE_LIMIT_MS 35000
#define CONNECT_MS 10000
#define MIN_CYCLES 30

enum end_mode { END_DEL_RUNNING = 0, END_CRASH, END_STOP, END_QUIT, END_NEVER_STARTED,
		END_MODES };
static const char *const end_names[END_MODES] = {
	"deleted while running", "crash", "driver stop", "clean quit", "never started",
};

struct churn {
	struct lc_switch *s;
	struct emu_guest *g3, *g4, *g5, *x;
	bool x_gone; /* the switch closed x's vhost-user connection */
	bool single; /* one lcore (-l 0): no lcore= at all */
	struct emu_guest *waiting[CHURN_NCIDS]; /* attached, their cycle not yet run */
	uint64_t x_misrouted, x_bad; /* what churned guests received wrongly */
	struct emu_guest *zombie[RTE_DIM_ZOMBIES]; /* deleted: waiting to see the close */
	double zombie_deadline[RTE_DIM_ZOMBIES];
	unsigned int zombies_gone, zombies_lost;
	double zombie_max_ms;

	/* Stable streams 3 <-> 4, renewed when done. */
	struct harness_flow f34, f43;
	uint32_t next_port;
	unsigned int streams_done, streams_bad;
	bool renewing; /* between two pairs of streams */
	uint64_t stream_bytes;

	/* Guest 5's probes to churned CIDs. */
	int probe_conn;
	uint64_t probe_cid;
	double probe_t0;
	unsigned int probes, probes_reset, probes_connected, probes_stuck;
	bool no_more_probes;
	double probe_max_ms;
	unsigned int seed;
};

/* ---- stable streams ---- */

static bool churn_connect(struct churn *ch, struct emu_guest *from, struct emu_guest *to,
			  uint32_t port, int *from_conn, int *to_conn);

static void
stream_pair(struct churn *ch, int *c3, int *c4)
{
	if (!churn_connect(ch, ch->g3, ch->g4, ch->next_port++, c3, c4)) {
		printf("FAIL: no stream connection between guests 3 and 4\n");
		exit(1);
	}
}

static void
streams_start(struct churn *ch)
{
	int a3, a4, b3, b4;

	/* churn_connect() runs rounds: not of these flows, which do not exist yet. */
	ch->renewing = true;
	stream_pair(ch, &a3, &a4);
	stream_pair(ch, &b3, &b4);
	harness_flow_init(&ch->f34, "3->4", ch->g3, a3, ch->g4, a4, 1000 + ch->streams_done,
			  STREAM_BYTES);
	harness_flow_init(&ch->f43, "4->3", ch->g4, b4, ch->g3, b3, 2000 + ch->streams_done,
			  STREAM_BYTES);
	ch->renewing = false;
}

/* One finished pair of streams: checked, closed, and a new pair. */
static bool
stream_intact(const struct harness_flow *f)
{
	if (f->error == 0 && f->rcvd == f->total && f->eof_seen &&
	    harness_sum_final(&f->tx_sum) == harness_sum_final(&f->rx_sum))
		return true;
	harness_flow_check(f); /* says what is wrong */
	return false;
}

static void
streams_renew(struct churn *ch)
{
	ch->streams_bad += !stream_intact(&ch->f34) + !stream_intact(&ch->f43);
	ch->stream_bytes += ch->f34.rcvd + ch->f43.rcvd;
	emu_close(ch->g3, ch->f34.src_conn);
	emu_close(ch->g4, ch->f34.dst_conn);
	emu_close(ch->g4, ch->f43.src_conn);
	emu_close(ch->g3, ch->f43.dst_conn);
	harness_flow_fini(&ch->f34);
	harness_flow_fini(&ch->f43);
	ch->streams_done++;
	streams_start(ch);
}

/* ---- guest 5's probes ---- */

static void
probe_step(struct churn *ch)
{
	int st;
	double ms;

	if (ch->probe_conn < 0) {
		if (ch->no_more_probes)
			return;
		ch->probe_cid = CHURN_FIRST_CID + (uint64_t)(rand_r(&ch->seed) % CHURN_NCIDS);
		ch->probe_conn = emu_connect(ch->g5, ch->probe_cid, PROBE_PORT, VSOCK_TYPE_STREAM);
		ch->probe_t0 = harness_now_ms();
		if (ch->probe_conn < 0)
			return;
		ch->probes++;
		return;
	}
	st = emu_conn_state(ch->g5, ch->probe_conn);
	ms = harness_now_ms() - ch->probe_t0;
	if (st == EMU_CONN_CONNECTING) {
		if (ms > PROBE_LIMIT_MS) {
			ch->probes_stuck++;
			printf("  probe to %llu unanswered after %.0f ms\n",
			       (unsigned long long)ch->probe_cid, ms);
			emu_close(ch->g5, ch->probe_conn);
			ch->probe_conn = -1;
		}
		return;
	}
	if (ms > ch->probe_max_ms)
		ch->probe_max_ms = ms;
	if (st == EMU_CONN_CLOSED)
		ch->probes_reset++;
	else
		ch->probes_connected++;
	emu_close(ch->g5, ch->probe_conn);
	ch->probe_conn = -1;
}

/* ---- the loop ---- */

static int zombies_poll(struct churn *ch);

static int
probe_settled(struct churn *ch, void *p __attribute__((unused)))
{
	return ch->probe_conn < 0;
}

/* Everything that runs all the time: streams, probes, polls. */
static int
churn_round(struct churn *ch)
{
	int64_t moved = 0, n;
	int work = 0, r;

	if (!ch->renewing) {
		n = harness_flow_step(&ch->f34);
		moved += n > 0 ? n : 0;
		n = harness_flow_step(&ch->f43);
		moved += n > 0 ? n : 0;
		if (harness_flow_done(&ch->f34) && harness_flow_done(&ch->f43))
			streams_renew(ch);
	}
	probe_step(ch);
	work += emu_guest_poll(ch->g3) > 0;
	work += emu_guest_poll(ch->g4) > 0;
	work += emu_guest_poll(ch->g5) > 0;
	if (ch->x != NULL && !ch->x_gone) {
		r = emu_guest_poll(ch->x);
		if (r == -ENOTCONN)
			ch->x_gone = true;
		work += r > 0;
	}
	for (unsigned int k = 0; k < CHURN_NCIDS; k++)
		if (ch->waiting[k] != NULL)
			work += emu_guest_poll(ch->waiting[k]) > 0;
	work += zombies_poll(ch);
	return (int)moved + work;
}

/* Run until @cond holds or @timeout_ms; false on timeout. */
static bool
churn_wait(struct churn *ch, int (*cond)(struct churn *, void *), void *arg, int timeout_ms)
{
	struct timespec idle = { .tv_nsec = 50000 };
	double deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		int work = churn_round(ch);

		if (!ch->renewing && (ch->f34.error || ch->f43.error))
			return false;
		if (cond != NULL && cond(ch, arg))
			return true;
		if (harness_now_ms() > deadline)
			return cond == NULL;
		if (work == 0)
			nanosleep(&idle, NULL);
	}
}

struct conn_ref {
	struct emu_guest *g;
	int conn;
	int accepted; /* for accept waits: the accepted id */
	uint32_t port;
	struct emu_guest *acceptor;
};

static int
conn_settled(struct churn *ch __attribute__((unused)), void *p)
{
	struct conn_ref *c = p;

	if (c->acceptor != NULL && c->accepted < 0)
		c->accepted = emu_accept(c->acceptor, c->port);
	if (emu_conn_state(c->g, c->conn) == EMU_CONN_CLOSED)
		return 1;
	return emu_conn_state(c->g, c->conn) == EMU_CONN_CONNECTED &&
	       (c->acceptor == NULL || c->accepted >= 0);
}

static int
conn_closed(struct churn *ch __attribute__((unused)), void *p)
{
	struct conn_ref *c = p;

	return emu_conn_state(c->g, c->conn) == EMU_CONN_CLOSED;
}

/* A connection @from -> @to:@port, both ends; false if it did not come up. */
static bool
churn_connect(struct churn *ch, struct emu_guest *from, struct emu_guest *to, uint32_t port,
	      int *from_conn, int *to_conn)
{
	struct conn_ref c = { .g = from, .accepted = -1, .port = port, .acceptor = to };
	double t0 = harness_now_ms();

	int ret = emu_listen(to, port, VSOCK_TYPE_STREAM);

	if (ret < 0 && ret != -EADDRINUSE)
		return false;
	for (;;) {
		c.conn = emu_connect(from, emu_guest_cid(to), port, VSOCK_TYPE_STREAM);
		if (c.conn < 0)
			return false;
		if (churn_wait(ch, conn_settled, &c, CONNECT_MS) &&
		    emu_conn_state(from, c.conn) == EMU_CONN_CONNECTED && c.accepted >= 0)
			break;
		/* A driver that has just started may not be running in the switch yet
		 * (it learns after acking the last vhost-user message): refused, retry. */
		if (emu_conn_error(from, c.conn) != -ECONNREFUSED ||
		    harness_now_ms() - t0 > CONNECT_MS) {
			printf("  %llu -> %llu:%u: state %d, error %d, accepted %d after %.0f ms\n",
			       (unsigned long long)emu_guest_cid(from),
			       (unsigned long long)emu_guest_cid(to), port,
			       emu_conn_state(from, c.conn), emu_conn_error(from, c.conn),
			       c.accepted, harness_now_ms() - t0);
			emu_close(from, c.conn);
			return false;
		}
		emu_close(from, c.conn);
		churn_wait(ch, NULL, NULL, 5);
	}
	*from_conn = c.conn;
	*to_conn = c.accepted;
	return true;
}

/* Send @len bytes on @conn and wait until they are all read on the other end. */
static bool
churn_transfer(struct churn *ch, struct emu_guest *src, int sc, struct emu_guest *dst, int dc,
	       uint64_t seed, uint64_t len)
{
	struct harness_flow f;
	double deadline = harness_now_ms() + 10000;
	bool ok;

	harness_flow_init(&f, "churn data", src, sc, dst, dc, seed, len);
	f.no_shutdown = true;
	while (!harness_flow_done(&f) && f.error == 0 && harness_now_ms() < deadline) {
		harness_flow_step(&f);
		churn_wait(ch, NULL, NULL, 0);
	}
	ok = harness_flow_done(&f) && f.error == 0 &&
	     harness_sum_final(&f.rx_sum) == harness_sum_final(&f.tx_sum);
	if (!ok)
		printf("  transfer to %llu: %llu of %llu bytes, error %d\n",
		       (unsigned long long)emu_guest_cid(dst), (unsigned long long)f.rcvd,
		       (unsigned long long)len, f.error);
	harness_flow_fini(&f);
	return ok;
}

static bool
ctl_ok(struct churn *ch, const char *line)
{
	char reply[512];
	int n = lc_ctl(ch->s, line, reply, sizeof(reply), 20000);

	if (n > 0 && strcmp(reply, "OK\n") == 0)
		return true;
	printf("  %s -> %s\n", line, n > 0 ? reply : strerror(-n));
	return false;
}

enum phase { PH_ADD, PH_ATTACH, PH_TRAFFIC, PH_END, PH_DEL, PH_RESETS, PH_MAX };
static const char *const phase_names[PH_MAX] = {
	"GUEST-ADD (batch)", "frontends attach (batch)", "traffic", "stop/crash/quit",
	"GUEST-DEL", "peers reset",
};

struct cycle_stats {
	unsigned int cycles, fails, resets_checked, per_mode[END_MODES];
	double reset_max_ms;
	double phase_ms[PH_MAX], phase_max_ms[PH_MAX];
	double mark;
};

/* Time since the last mark goes to phase @ph. */
static void
phase_done(struct cycle_stats *st, enum phase ph)
{
	double now = harness_now_ms(), ms = now - st->mark;

	st->phase_ms[ph] += ms;
	if (ms > st->phase_max_ms[ph])
		st->phase_max_ms[ph] = ms;
	st->mark = now;
}

/* Wait for @c to be reset; false if it is not within PROMPT_MS or not by an RST. */
static bool
expect_reset(struct churn *ch, struct emu_guest *g, int conn, struct cycle_stats *st)
{
	struct conn_ref c = { .g = g, .conn = conn };
	double t0 = harness_now_ms(), ms;
	bool ok;

	ok = churn_wait(ch, conn_closed, &c, PROMPT_MS) &&
	     emu_conn_error(g, conn) == -ECONNRESET;
	ms = harness_now_ms() - t0;
	if (ms > st->reset_max_ms)
		st->reset_max_ms = ms;
	if (!ok)
		printf("  connection of guest %llu not reset (state %d, error %d, %.0f ms)\n",
		       (unsigned long long)emu_guest_cid(g), emu_conn_state(g, conn),
		       emu_conn_error(g, conn), ms);
	emu_close(g, conn);
	st->resets_checked++;
	return ok;
}

/* Spec of cycle @i's guest: CID by lane, lcore 2 or any, a hybrid socket or not. */
static uint64_t
cycle_cid(unsigned int i)
{
	return CHURN_FIRST_CID + i % CHURN_NCIDS;
}

static enum end_mode
cycle_mode(unsigned int i)
{
	return (enum end_mode)(i % END_MODES);
}

static bool
cycle_add(struct churn *ch, unsigned int i)
{
	uint64_t cid = cycle_cid(i);
	char path[320], line[1024];
	int n;

	lc_sock_path(ch->s, cid, path, sizeof(path));
	n = snprintf(line, sizeof(line), "GUEST-ADD cid=%llu,socket=%s", (unsigned long long)cid,
		     path);
	if (i % 2 == 0 && !ch->single)
		n += snprintf(line + n, sizeof(line) - n, ",lcore=2");
	if (i % 3 == 0)
		snprintf(line + n, sizeof(line) - n, ",uds=%s/h%llu", ch->s->h.dir,
			 (unsigned long long)cid);
	return ctl_ok(ch, line);
}

/* Frontends attach on threads of their own: librte_vhost 22.11 takes a new
 * listening socket into its poll set only when its poll times out (up to 1 s),
 * and a batch waits that second once. Nothing else touches these guests meanwhile. */
struct attach_job {
	pthread_t thread;
	struct emu_guest_opts o;
	char path[320];
	struct emu_guest *g;
	int err;
	int done;
};

static void *
attach_main(void *arg)
{
	struct attach_job *j = arg;

	j->g = emu_guest_create(&j->o);
	j->err = j->g == NULL ? errno : 0;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct attach_batch {
	struct attach_job job[CHURN_NCIDS];
	unsigned int n;
};

static int
attach_all_done(struct churn *ch __attribute__((unused)), void *p)
{
	struct attach_batch *b = p;
	unsigned int k;

	for (k = 0; k < b->n; k++)
		if (!__atomic_load_n(&b->job[k].done, __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

/* A deleted guest's frontend, polled until it sees the switch close its socket. */
static void
zombie_add(struct churn *ch, struct emu_guest *g)
{
	unsigned int k;

	for (k = 0; k < RTE_DIM_ZOMBIES; k++) {
		if (ch->zombie[k] == NULL) {
			ch->zombie[k] = g;
			ch->zombie_deadline[k] = harness_now_ms() + ZOMBIE_MS;
			return;
		}
	}
	ch->zombies_lost++;
	emu_guest_destroy(g);
}

static int
zombies_poll(struct churn *ch)
{
	unsigned int k;
	int work = 0;

	for (k = 0; k < RTE_DIM_ZOMBIES; k++) {
		struct emu_guest *g = ch->zombie[k];

		if (g == NULL)
			continue;
		if (emu_guest_poll(g) == -ENOTCONN) {
			double ms = harness_now_ms() - (ch->zombie_deadline[k] - ZOMBIE_MS);

			if (ms > ch->zombie_max_ms)
				ch->zombie_max_ms = ms;
			ch->zombies_gone++;
		} else if (harness_now_ms() > ch->zombie_deadline[k]) {
			printf("  guest %llu: frontend connection still open after GUEST-DEL\n",
			       (unsigned long long)emu_guest_cid(g));
			ch->zombies_lost++;
		} else {
			continue;
		}
		emu_guest_destroy(g);
		ch->zombie[k] = NULL;
		work++;
	}
	return work;
}

static int
zombies_none(struct churn *ch, void *p __attribute__((unused)))
{
	unsigned int k;

	for (k = 0; k < RTE_DIM_ZOMBIES; k++)
		if (ch->zombie[k] != NULL)
			return 0;
	return 1;
}

/* Cycle @i with its frontend @x attached (or NULL): traffic, end, GUEST-DEL, checks. */
static bool
one_cycle(struct churn *ch, unsigned int i, struct emu_guest *x, const char *path,
	  struct cycle_stats *st)
{
	uint64_t cid = cycle_cid(i);
	enum end_mode mode = cycle_mode(i);
	bool traffic = mode != END_NEVER_STARTED && mode != END_QUIT;
	char line[64];
	int c5 = -1, cx = -1, cx3 = -1, c3 = -1;
	bool ok = x != NULL;

	st->mark = harness_now_ms();
	ch->x = x;
	ch->x_gone = false;
	if (x == NULL)
		goto del;
	if (i % 2)
		emu_listen(x, PROBE_PORT, VSOCK_TYPE_STREAM);
	if (traffic) {
		/* 5 -> x and x -> 3: x's connections have ends on both lcores. */
		if (!churn_connect(ch, ch->g5, x, DATA_PORT, &c5, &cx) ||
		    !churn_connect(ch, x, ch->g3, PEER_PORT, &cx3, &c3)) {
			printf("  guest %llu: connections did not come up\n",
			       (unsigned long long)cid);
			ok = false;
			goto end;
		}
		ok &= churn_transfer(ch, ch->g5, c5, x, cx, i, 64 << 10);
		ok &= churn_transfer(ch, x, cx3, ch->g3, c3, i + 1, 32 << 10);
		/* Leave data in flight towards x when it goes. */
		emu_send(ch->g5, c5, "in flight", 9);
	}
end:
	phase_done(st, PH_TRAFFIC);
	switch (mode) {
	case END_CRASH:
		emu_guest_crash(x);
		break;
	case END_STOP:
		ok &= emu_guest_stop(x) == 0;
		break;
	case END_QUIT:
		emu_guest_destroy(x);
		ch->x = x = NULL;
		break;
	default:
		break;
	}
	phase_done(st, PH_END);
del:
	snprintf(line, sizeof(line), "GUEST-DEL %llu", (unsigned long long)cid);
	ok &= ctl_ok(ch, line);
	phase_done(st, PH_DEL);
	if (c5 >= 0)
		ok &= expect_reset(ch, ch->g5, c5, st);
	if (c3 >= 0)
		ok &= expect_reset(ch, ch->g3, c3, st);
	phase_done(st, PH_RESETS);
	if (x != NULL) {
		struct emu_stats es;

		/* A packet meant for an earlier guest in the same port slot would show
		 * up here: another CID's packet (misrouted) or garbage. */
		emu_guest_stats(x, &es);
		ch->x_misrouted += es.rx_misrouted;
		ch->x_bad += es.rx_bad + es.used_bad + es.rx_credit_overflow;
	}
	ch->x = NULL;
	if (x != NULL && mode != END_CRASH && !ch->x_gone)
		zombie_add(ch, x); /* the switch closes its vhost-user connection */
	else
		emu_guest_destroy(x);
	if (access(path, F_OK) == 0) {
		printf("  guest %llu: socket %s left behind\n", (unsigned long long)cid, path);
		ok = false;
	}
	st->per_mode[mode]++;
	return ok;
}

/* Cycles @first .. @first + @n - 1: add all, attach all at once, run each. */
static void
one_batch(struct churn *ch, unsigned int first, unsigned int n, struct cycle_stats *st)
{
	struct attach_batch b = { .n = 0 };
	bool added[CHURN_NCIDS] = { false };
	unsigned int k;

	st->mark = harness_now_ms();
	/* Added in a rotating order: each CID gets the port slot another had. */
	for (unsigned int r = 0; r < n; r++) {
		struct attach_job *j;

		k = (r + first / CHURN_NCIDS) % n;
		j = &b.job[k];

		lc_sock_path(ch->s, cycle_cid(first + k), j->path, sizeof(j->path));
		added[k] = cycle_add(ch, first + k);
		emu_guest_opts_init(&j->o, j->path);
		j->o.queue_size = 64;
		j->o.mem_size = 8u << 20;
		j->o.start_rings = cycle_mode(first + k) != END_NEVER_STARTED;
		j->o.connect_timeout_ms = 5000;
		j->done = !added[k];
	}
	phase_done(st, PH_ADD);
	b.n = n;
	for (k = 0; k < n; k++)
		if (added[k] && pthread_create(&b.job[k].thread, NULL, attach_main, &b.job[k]) != 0)
			added[k] = false, b.job[k].done = 1;
	churn_wait(ch, attach_all_done, &b, 30000);
	for (k = 0; k < n; k++) {
		if (!added[k])
			continue;
		pthread_join(b.job[k].thread, NULL);
		if (b.job[k].g != NULL && emu_guest_cid(b.job[k].g) != cycle_cid(first + k)) {
			emu_guest_destroy(b.job[k].g);
			b.job[k].g = NULL;
		}
		ch->waiting[k] = b.job[k].g; /* answers guest 5's probes meanwhile */
	}
	phase_done(st, PH_ATTACH);
	for (k = 0; k < n; k++) {
		struct attach_job *j = &b.job[k];
		unsigned int i = first + k;
		bool ok;

		if (!added[k]) {
			st->fails++;
			continue;
		}
		ch->waiting[k] = NULL;
		if (j->g == NULL)
			printf("  guest %llu: frontend did not attach (%s)\n",
			       (unsigned long long)cycle_cid(i), strerror(j->err));
		ok = one_cycle(ch, i, j->g, j->path, st);
		if (!ok) {
			st->fails++;
			printf("  cycle %u (guest %llu, %s) failed\n", i,
			       (unsigned long long)cycle_cid(i), end_names[cycle_mode(i)]);
		}
		st->cycles++;
	}
}

static void
print_guests(struct churn *ch, const char *expect)
{
	char reply[4096];
	int n = lc_ctl(ch->s, "GUESTS", reply, sizeof(reply), 10000);

	CHECK(n > 0 && strstr(reply, expect) != NULL, "GUESTS ends with '%s':\n%s", expect,
	      n > 0 ? reply : "(no answer)");
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5 };
	int pin[] = { 1, 1, 1 };
	unsigned int max_cycles = (unsigned int)harness_env_u64("VS_CHURN_CYCLES", 300);
	double seconds = (double)harness_env_u64("VS_CHURN_SECONDS", 40);
	struct cycle_stats st = { 0 };
	struct churn ch = { .probe_conn = -1, .next_port = 5000, .seed = 1 };
	struct lc_switch s;
	struct harness_flow *fs[2];
	struct emu_guest *gs[3];
	double t0;
	int ret;

	/* Three lcores (main, 1, 2) on whatever CPUs there are; or the layout given. */
	ch.single = getenv("VS_TEST_LCORES") != NULL;
	lc_start(&s, sw, ch.single ? getenv("VS_TEST_LCORES") : "(0-2)@(0-1)", cids,
		 ch.single ? NULL : pin, 3, NULL);
	ch.s = &s;
	ch.g3 = harness_guest(&s.h, 3, NULL);
	ch.g4 = harness_guest(&s.h, 4, NULL);
	ch.g5 = harness_guest(&s.h, 5, NULL);
	/* The switch learns a driver started after acking its last message. */
	CHECK(lc_wait_running(&s, 3, 10000) == 0, "guests 3, 4 and 5 run");
	streams_start(&ch);

	t0 = harness_now_ms();
	while (st.cycles < max_cycles && harness_now_ms() - t0 < seconds * 1000 &&
	       ch.f34.error == 0 && ch.f43.error == 0 && st.fails < 5) {
		unsigned int before = st.cycles / 50;

		one_batch(&ch, st.cycles, CHURN_NCIDS < max_cycles - st.cycles ? CHURN_NCIDS :
			  max_cycles - st.cycles, &st);
		if (st.cycles / 50 != before)
			printf("  %u cycles, %.1f s, %u stream pairs done\n", st.cycles,
			       (harness_now_ms() - t0) / 1000, ch.streams_done);
	}
	churn_wait(&ch, zombies_none, NULL, ZOMBIE_MS * 2);
	printf("%u cycles in %.1f s\n", st.cycles, (harness_now_ms() - t0) / 1000);
	CHECK(st.fails == 0, "every cycle passed (%u failed)", st.fails);
	CHECK(st.cycles >= MIN_CYCLES || st.cycles >= max_cycles, "%u cycles (at least %u)",
	      st.cycles, MIN_CYCLES < max_cycles ? MIN_CYCLES : max_cycles);
	for (int m = 0; m < END_MODES; m++)
		printf("  %s: %u cycles\n", end_names[m], st.per_mode[m]);
	for (int p = 0; p < PH_MAX; p++)
		printf("  %-24s %8.1f ms in all, slowest %7.1f ms\n", phase_names[p],
		       st.phase_ms[p], st.phase_max_ms[p]);
	CHECK(st.resets_checked > 0, "%u peer connections reset by deletions (slowest %.1f ms)",
	      st.resets_checked, st.reset_max_ms);
	CHECK(ch.x_misrouted == 0 && ch.x_bad == 0,
	      "churned guests got no packet of another CID (%llu) and no malformed one (%llu)",
	      (unsigned long long)ch.x_misrouted, (unsigned long long)ch.x_bad);
	CHECK(ch.zombies_lost == 0 && ch.zombies_gone > 0,
	      "%u deleted guests' frontends saw their socket closed (slowest %.1f ms), %u not",
	      ch.zombies_gone, ch.zombie_max_ms, ch.zombies_lost);

	/* Guest 5's last probe, then the streams in flight, to their end. */
	churn_wait(&ch, NULL, NULL, 200);
	ch.no_more_probes = true;
	churn_wait(&ch, probe_settled, NULL, PROBE_LIMIT_MS);
	if (ch.probe_conn >= 0) {
		ch.probes_stuck++;
		printf("  last probe to %llu unanswered\n", (unsigned long long)ch.probe_cid);
	}
	CHECK(ch.probes_stuck == 0 && ch.probes > 0,
	      "guest 5: %u probes to churned CIDs, %u reset, %u connected, %u unanswered "
	      "(slowest %.1f ms)", ch.probes, ch.probes_reset, ch.probes_connected,
	      ch.probes_stuck, ch.probe_max_ms);
	fs[0] = &ch.f34;
	fs[1] = &ch.f43;
	gs[0] = ch.g3;
	gs[1] = ch.g4;
	gs[2] = ch.g5;
	ret = harness_flows_run(fs, 2, gs, 3, 20000);
	CHECK(ret == 0, "stable streams finish (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&ch.f34);
	harness_flow_check(&ch.f43);
	ch.stream_bytes += ch.f34.rcvd + ch.f43.rcvd;
	CHECK(ch.streams_bad == 0, "3 <-> 4: %u stream pairs before the last, %llu MiB, all "
	      "intact (%u bad)", ch.streams_done, (unsigned long long)(ch.stream_bytes >> 20),
	      ch.streams_bad);
	harness_flow_fini(&ch.f34);
	harness_flow_fini(&ch.f43);

	print_guests(&ch, "OK 3\n");
	harness_check_clean(ch.g3, "guest 3");
	harness_check_clean(ch.g4, "guest 4");
	harness_check_clean(ch.g5, "guest 5");
	emu_guest_destroy(ch.g3);
	emu_guest_destroy(ch.g4);
	emu_guest_destroy(ch.g5);
	lc_stop(&s);
	return harness_finish(test_name);
}
