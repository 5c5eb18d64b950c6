/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * The host endpoint's loop and bookkeeping: listening sockets, the connection
 * table, the active, timer and dead lists, epoll, and the poll round itself.
 * The protocol is in hp_conn.c (vsock side) and hp_line.c (command lines).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "host_port_pvt.h"
#include "vs_sockpath.h"
#include "vs_switch.h"

struct hp_state_all hp = { .epfd = -1, .spare_fd = -1, .control = { .fd = -1 } };

static pthread_t hp_thread;
static bool hp_thread_started;
static bool hp_tel_registered;

uint64_t
hp_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
hp_buffered_add(int64_t delta)
{
	hp.st.buffered += delta;
	if (hp.st.buffered > hp.st.buffered_peak)
		hp.st.buffered_peak = hp.st.buffered;
}

/* ---- listening sockets ---- */

static int
hp_listen(struct hp_listener *l, const char *path, int type, enum hp_listener_kind kind,
	  struct hp_guest *g)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, ret;

	ret = vs_sockpath_claim(path);
	if (ret < 0)
		return ret;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, SOMAXCONN) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	l->obj = HP_OBJ_LISTENER;
	l->kind = (uint8_t)kind;
	l->guest = g;
	l->fd = fd;
	strcpy(l->path, path);
	ev.data.ptr = l;
	if (epoll_ctl(hp.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		ret = -errno;
		close(fd);
		unlink(path);
		l->fd = -1;
		return ret;
	}
	return 0;
}

static void
hp_unlisten(struct hp_listener *l)
{
	if (l->fd < 0)
		return;
	epoll_ctl(hp.epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	unlink(l->path);
	l->fd = -1;
}

struct hp_guest *
hp_guest_find(uint64_t cid)
{
	uint32_t i;

	for (i = 0; i < hp.nguests; i++)
		if (hp.guests[i].cid == cid)
			return &hp.guests[i];
	return NULL;
}

/* ---- connections: lists and table ---- */

void
hp_activate(struct hp_conn *c)
{
	if (c->active || c->state == HP_ST_DEAD)
		return;
	c->active = true;
	c->anext = hp.active;
	hp.active = c;
}

void
hp_timer_set(struct hp_conn *c, uint64_t deadline_ms)
{
	c->deadline_ms = deadline_ms;
	if (c->timed)
		return;
	c->timed = true;
	c->tprev = NULL;
	c->tnext = hp.timed;
	if (hp.timed != NULL)
		hp.timed->tprev = c;
	hp.timed = c;
}

void
hp_timer_clear(struct hp_conn *c)
{
	if (!c->timed)
		return;
	if (c->tprev != NULL)
		c->tprev->tnext = c->tnext;
	else
		hp.timed = c->tnext;
	if (c->tnext != NULL)
		c->tnext->tprev = c->tprev;
	c->timed = false;
	c->tnext = c->tprev = NULL;
}

static inline uint32_t
hp_hash(uint64_t cid, uint32_t gport, uint32_t hport)
{
	uint64_t k = (cid * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)gport << 32 | hport);

	k ^= k >> 31;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 29;
	return (uint32_t)k & (HP_HASH_SIZE - 1);
}

struct hp_conn *
hp_conn_lookup(uint64_t cid, uint32_t gport, uint32_t hport)
{
	struct hp_conn *c;

	for (c = hp.hash[hp_hash(cid, gport, hport)]; c != NULL; c = c->hnext)
		if (c->cid == cid && c->gport == gport && c->hport == hport)
			return c;
	return NULL;
}

int
hp_conn_hash_add(struct hp_conn *c)
{
	uint32_t b = hp_hash(c->cid, c->gport, c->hport);

	if (hp_conn_lookup(c->cid, c->gport, c->hport) != NULL)
		return -EEXIST;
	c->hnext = hp.hash[b];
	hp.hash[b] = c;
	c->hashed = true;
	hp.st.conns_open++;
	return 0;
}

static void
hp_conn_hash_del(struct hp_conn *c)
{
	struct hp_conn **p = &hp.hash[hp_hash(c->cid, c->gport, c->hport)];

	if (!c->hashed)
		return;
	while (*p != c)
		p = &(*p)->hnext;
	*p = c->hnext;
	c->hashed = false;
	hp.st.conns_open--;
}

int
hp_conn_set_fd(struct hp_conn *c, int fd)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = c,
	};

	if (c->fd >= 0) {
		epoll_ctl(hp.epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = fd;
	c->readable = false;
	c->writable = true;
	c->rdhup = false;
	c->hup = false;
	if (fd < 0)
		return 0;
	if (c->type == VSOCK_TYPE_SEQPACKET) {
		/* A guest message (up to buf_alloc bytes) must fit in one send. */
		int sz = (int)RTE_MIN((uint64_t)hp.conf.buf_alloc + 65536, (uint64_t)INT32_MAX);

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (epoll_ctl(hp.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int ret = -errno;

		close(fd);
		c->fd = -1;
		return ret;
	}
	return 0;
}

struct hp_conn *
hp_conn_new(int fd, enum hp_proto proto, uint16_t type)
{
	struct hp_conn *c;

	if (hp.nconns >= HOST_PORT_MAX_CONNS) {
		errno = EMFILE;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->obj = HP_OBJ_CONN;
	hp_conn_set_state(c, HP_ST_LINE);
	c->proto = (uint8_t)proto;
	c->type = type;
	c->fd = -1;
	if (hp_conn_set_fd(c, fd) != 0) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->next = hp.all;
	if (hp.all != NULL)
		hp.all->prev = c;
	hp.all = c;
	hp.nconns++;
	return c;
}

/* Gone at once for everyone; the memory goes at the end of the round. */
void
hp_conn_kill(struct hp_conn *c)
{
	if (c->state == HP_ST_DEAD)
		return;
	hp_conn_release(c);
	hp_conn_hash_del(c);
	hp_timer_clear(c);
	hp_conn_set_fd(c, -1);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		hp.all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	hp.nconns--;
	hp_conn_set_state(c, HP_ST_DEAD);
	c->next = hp.dead;
	c->prev = NULL;
	hp.dead = c;
}

/* Free the dead, except those still linked on the active list (they die there
 * next round, when hp_run_active() unlinks them). */
static void
hp_reap(void)
{
	struct hp_conn *c, **p = &hp.dead;

	while ((c = *p) != NULL) {
		if (c->active) {
			p = &c->next;
			continue;
		}
		*p = c->next;
		free(c);
	}
}

/* ---- the round ---- */

/* How long a listener rests when not even the spare fd lets it accept. */
#define HP_ACCEPT_PAUSE_MS 100

static void
hp_listener_arm(struct hp_listener *l, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = l };

	epoll_ctl(hp.epfd, EPOLL_CTL_MOD, l->fd, &ev);
}

/*
 * accept() failed for lack of file descriptors (EMFILE, ENFILE). The listener is
 * level-triggered: left as it is, epoll would report it again at once and the
 * loop would spin. Take the waiting connection with the spare fd and close it
 * (the program sees its socket closed, not a hang), then get the spare back.
 * If even that fails, stop polling the listener for a while.
 */
static void
hp_accept_shed(struct hp_listener *l, int err)
{
	int fd = -1;

	if (hp.now_ms - hp.emfile_logged_ms >= 1000 || hp.emfile_logged_ms == 0) {
		hp.emfile_logged_ms = hp.now_ms;
		HP_LOG(WARNING, "accept on %s: %s: closing new host sockets at once", l->path,
		       strerror(err));
	}
	if (hp.spare_fd >= 0) {
		close(hp.spare_fd);
		hp.spare_fd = -1;
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			hp.st.accept_refused++;
		}
		hp.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 && l->paused_until_ms == 0) {
		l->paused_until_ms = hp.now_ms + HP_ACCEPT_PAUSE_MS;
		hp.npaused++;
		hp_listener_arm(l, 0);
	}
}

/* Poll again the listeners whose pause is over. */
static void
hp_listener_resume(struct hp_listener *l)
{
	if (l->fd < 0 || l->paused_until_ms == 0 || l->paused_until_ms > hp.now_ms)
		return;
	l->paused_until_ms = 0;
	hp.npaused--;
	hp_listener_arm(l, EPOLLIN);
}

static void
hp_listeners_resume(void)
{
	uint32_t i;

	hp_listener_resume(&hp.control);
	for (i = 0; i < hp.nguests; i++) {
		hp_listener_resume(&hp.guests[i].lst[0]);
		hp_listener_resume(&hp.guests[i].lst[1]);
	}
}

static void
hp_accept(struct hp_listener *l)
{
	struct hp_conn *c;
	unsigned int i;
	int fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				hp_accept_shed(l, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				HP_LOG(WARNING, "accept on %s: %s", l->path, strerror(errno));
			return;
		}
		c = hp_conn_new(fd, l->kind == HP_LST_CONTROL ? HP_PROTO_CONTROL : HP_PROTO_HYBRID,
				l->kind == HP_LST_HYBRID_SEQ ? VSOCK_TYPE_SEQPACKET :
							       VSOCK_TYPE_STREAM);
		if (c == NULL) {
			HP_LOG(WARNING, "%s: connection refused: %s", l->path, strerror(errno));
			close(fd);
			continue;
		}
		c->guest = l->guest;
		c->readable = true;
		hp_timer_set(c, hp.now_ms + hp.conf.connect_timeout_ms);
		hp_activate(c);
	}
}

/* The doorbell's epoll tag: only its first byte (the object kind) is read. */
static const uint8_t hp_doorbell_tag = HP_OBJ_DOORBELL;

static void
hp_event(const struct epoll_event *e)
{
	uint8_t obj = *(const uint8_t *)e->data.ptr;
	struct hp_conn *c;

	if (obj == HP_OBJ_DOORBELL) {
		vs_host_doorbell_clear();
		return;
	}
	if (obj == HP_OBJ_LISTENER) {
		hp_accept(e->data.ptr);
		return;
	}
	c = e->data.ptr;
	if (c->state == HP_ST_DEAD)
		return;
	if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (e->events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;
	if (e->events & EPOLLRDHUP)
		c->rdhup = true;
	if (e->events & EPOLLHUP)
		c->hup = true;
	hp_activate(c);
}

static unsigned int
hp_rx_ring(void)
{
	struct rte_mbuf *m[HP_RX_BURST];
	unsigned int i, n, total = 0;

	do {
		n = rte_ring_sc_dequeue_burst(hp.in, (void **)m, HP_RX_BURST, NULL);
		for (i = 0; i < n; i++)
			hp_guest_rx(m[i]);
		total += n;
	} while (n == HP_RX_BURST && total < HP_RX_BUDGET);
	return total;
}

static unsigned int
hp_run_active(void)
{
	struct hp_conn *c, *list = hp.active;
	unsigned int work = 0;

	hp.active = NULL;
	while ((c = list) != NULL) {
		list = c->anext;
		c->active = false;
		c->anext = NULL;
		if (c->state == HP_ST_DEAD)
			continue;
		work += hp_conn_run(c);
	}
	return work;
}

static void
hp_timers(void)
{
	struct hp_conn *c, *next;

	for (c = hp.timed; c != NULL; c = next) {
		next = c->tnext;
		if (c->state == HP_ST_DIALING && c->deadline_ms > hp.now_ms) {
			hp_conn_dial_retry(c);
			continue;
		}
		if (c->state == HP_ST_CONNECTING && c->deadline_ms > hp.now_ms &&
		    vs_guest_reachable(c->cid) != 0) {
			hp_conn_timeout(c);
			continue;
		}
		if (c->deadline_ms <= hp.now_ms)
			hp_conn_timeout(c);
	}
}

unsigned int
host_port_poll(void)
{
	struct epoll_event ev[HP_EVENTS];
	unsigned int work;
	int i, n, timeout = 0;
	bool armed;
	uint64_t now;

	if (!hp.ready)
		return 0;
	hp.st.rounds++;
	now = hp_clock_ms();
	/* A long gap between two rounds: the thread did not run, or a round was slow. */
	if (hp.round_ms != 0 && now - hp.round_ms > hp.st.max_gap_ms)
		hp.st.max_gap_ms = now - hp.round_ms;
	hp.round_ms = now;
	hp.now_ms = now;
	work = hp_rx_ring();
	/*
	 * Idle, or only retrying what did not move: whoever we wait for (the host
	 * program, a guest's driver) may need this CPU. Give it up at once
	 * (sched_yield(): a no-op when nothing else wants the CPU), and after a few
	 * such rounds sleep until a socket event, the doorbell, or the next timer.
	 * Polling on while data is in flight is what kept a host program sharing
	 * the CPU waiting for its time slice: one window per millisecond.
	 */
	if (work == 0 && hp.idle_rounds > 0 && hp.idle_rounds < HOST_PORT_IDLE_ROUNDS)
		sched_yield();
	armed = work == 0 && hp.idle_rounds >= HOST_PORT_IDLE_ROUNDS;
	if (armed) {
		/* Workers ring the doorbell from now on: packets for us end the sleep. */
		if (vs_host_sleep_prepare()) {
			timeout = HOST_PORT_IDLE_SLEEP_MS;
			hp.st.idle_sleeps++;
		}
	}
	n = epoll_wait(hp.epfd, ev, HP_EVENTS, timeout);
	if (armed)
		vs_host_sleep_done();
	if (timeout > 0)
		hp.now_ms = hp_clock_ms();
	for (i = 0; i < n; i++)
		hp_event(&ev[i]);
	if (n > 0)
		work += (unsigned int)n;
	work += hp_run_active();
	work += hp_loose_flush();
	if (hp.now_ms >= hp.next_timer_ms) {
		if (hp.npaused > 0)
			hp_listeners_resume();
		hp_timers();
		hp.next_timer_ms = hp.now_ms + HP_TIMER_PERIOD_MS;
	}
	hp_reap();
	hp_tel_serve();
	if (work > 0)
		hp.idle_rounds = 0;
	else if (hp.idle_rounds < HOST_PORT_IDLE_ROUNDS)
		hp.idle_rounds++;
	return work;
}

/* ---- telemetry: /vsock/host ---- */

static int
hp_tel_stats(const char *cmd __rte_unused, const char *params __rte_unused,
	     struct rte_tel_data *d)
{
	const struct host_port_stats *s = &hp.st;

	rte_tel_data_start_dict(d);
#define HP_TEL(name) rte_tel_data_add_dict_u64(d, #name, s->name)
	HP_TEL(conns_open);
	HP_TEL(conns_host);
	HP_TEL(conns_guest);
	HP_TEL(rx_pkts);
	HP_TEL(rx_rw);
	HP_TEL(rx_bytes);
	HP_TEL(tx_pkts);
	HP_TEL(tx_rw);
	HP_TEL(tx_bytes);
	HP_TEL(credit_updates);
	HP_TEL(credit_requests);
	HP_TEL(credit_asks);
	HP_TEL(credit_violations);
	HP_TEL(rst_sent);
	HP_TEL(rst_rcvd);
	HP_TEL(refused);
	HP_TEL(connect_timeouts);
	HP_TEL(bad_lines);
	HP_TEL(accept_refused);
	HP_TEL(handshake_timeouts);
	HP_TEL(proto_errors);
	HP_TEL(no_mbuf);
	HP_TEL(lost_ctrl);
	HP_TEL(send_stalls);
	HP_TEL(buffered);
	HP_TEL(buffered_peak);
	HP_TEL(rounds);
	HP_TEL(idle_sleeps);
	HP_TEL(max_gap_ms);
#undef HP_TEL
	return 0;
}

/* ---- set-up ---- */

int
host_port_init(const struct host_port_conf *conf)
{
	struct rlimit rl;
	int ret;

	memset(&hp, 0, sizeof(hp));
	hp.epfd = -1;
	hp.spare_fd = -1;
	hp.control.fd = -1;
	hp.conf = *conf;
	if (hp.conf.connect_timeout_ms == 0)
		hp.conf.connect_timeout_ms = HOST_PORT_DEFAULT_CONNECT_TIMEOUT_MS;
	if (hp.conf.buf_alloc == 0)
		hp.conf.buf_alloc = HOST_PORT_DEFAULT_BUF_ALLOC;
	hp.next_hport = HOST_PORT_EPHEMERAL_FIRST;

	/* Each host connection is a file descriptor: allow as many as we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	hp.guests = calloc(VS_MAX_GUESTS, sizeof(*hp.guests));
	hp.scratch = malloc(HP_MSG_MAX);
	if (hp.guests == NULL || hp.scratch == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	hp.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (hp.epfd < 0) {
		ret = -errno;
		goto fail;
	}
	hp.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	hp.in = vs_host_attach();
	if (hp.in == NULL) {
		ret = -errno;
		HP_LOG(ERR, "cannot attach as CID 2: %s", strerror(errno));
		goto fail;
	}
	ret = vs_host_doorbell_fd();
	if (ret >= 0) {
		struct epoll_event dev = {
			.events = EPOLLIN,
			.data.ptr = (void *)(uintptr_t)&hp_doorbell_tag,
		};

		ret = epoll_ctl(hp.epfd, EPOLL_CTL_ADD, ret, &dev) == 0 ? 0 : -errno;
	}
	if (ret < 0) {
		HP_LOG(ERR, "cannot set up the doorbell: %s", strerror(-ret));
		goto fail;
	}
	if (hp.conf.control[0] != '\0') {
		ret = hp_listen(&hp.control, hp.conf.control, SOCK_STREAM, HP_LST_CONTROL, NULL);
		if (ret < 0) {
			HP_LOG(ERR, "control socket %s: %s", hp.conf.control, strerror(-ret));
			goto fail;
		}
	}
	/* Commands cannot be unregistered: once per process. */
	if (!hp_tel_registered) {
		rte_telemetry_register_cmd("/vsock/host", hp_tel_stats,
					   "Host endpoint (CID 2) counters");
		hp_tel_registered = true;
	}
	hp_tel_init();
	hp.ready = true;
	return 0;
fail:
	if (hp.epfd >= 0)
		close(hp.epfd);
	free(hp.guests);
	free(hp.scratch);
	memset(&hp, 0, sizeof(hp));
	hp.epfd = -1;
	hp.control.fd = -1;
	return ret;
}

int
host_port_add_guest(uint64_t cid, const char *uds)
{
	struct sockaddr_un sa;
	struct hp_guest *g;
	char path[sizeof(sa.sun_path) + 16];
	int ret;

	uint32_t slot;

	if (!hp.ready)
		return -ENODEV;
	if (hp_guest_find(cid) != NULL)
		return -EEXIST;
	/* A slot a deleted guest left (cid 0), or a new one. */
	for (slot = 0; slot < hp.nguests; slot++)
		if (hp.guests[slot].cid == 0)
			break;
	if (slot >= VS_MAX_GUESTS)
		return -ENOSPC;
	/* <uds>_4294967295 must fit, as must <uds>_seqpacket. */
	if (strlen(uds) + 11 >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	g = &hp.guests[slot];
	memset(g, 0, sizeof(*g));
	g->cid = cid;
	g->lst[0].fd = -1;
	g->lst[1].fd = -1;
	strcpy(g->uds, uds);
	ret = hp_listen(&g->lst[0], uds, SOCK_STREAM, HP_LST_HYBRID, g);
	if (ret < 0)
		return ret;
	snprintf(path, sizeof(path), "%s_seqpacket", uds);
	ret = hp_listen(&g->lst[1], path, SOCK_SEQPACKET, HP_LST_HYBRID_SEQ, g);
	if (ret < 0) {
		hp_unlisten(&g->lst[0]);
		g->cid = 0;
		return ret;
	}
	if (slot == hp.nguests)
		hp.nguests++;
	return 0;
}

/* Does host socket @c belong to guest @cid (or to its hybrid socket @g)? */
static bool
hp_conn_of_guest(const struct hp_conn *c, uint64_t cid, const struct hp_guest *g)
{
	if (c->state == HP_ST_LISTEN)
		return c->listen_cid == cid;
	return c->cid == cid || (g != NULL && c->guest == g);
}

int
host_port_del_guest(uint64_t cid)
{
	struct hp_guest *g = hp_guest_find(cid);
	struct hp_conn *c, *next;
	unsigned int n = 0;

	if (!hp.ready)
		return -ENODEV;
	for (c = hp.all; c != NULL; c = next) {
		next = c->next; /* hp_conn_kill() moves c to the dead list */
		if (!hp_conn_of_guest(c, cid, g))
			continue;
		if (c->proto == HP_PROTO_CONTROL && c->state == HP_ST_CONNECTING)
			hp_line_error(c, ECONNRESET, "guest %" PRIu64 " was deleted", cid);
		else
			hp_conn_kill(c);
		n++;
	}
	if (n > 0)
		HP_LOG(INFO, "guest %" PRIu64 ": %u host sockets closed", cid, n);
	if (g == NULL)
		return -ENOENT;
	hp_unlisten(&g->lst[0]);
	hp_unlisten(&g->lst[1]);
	g->cid = 0;
	g->uds[0] = '\0';
	return 0;
}

static void *
hp_thread_main(void *arg __rte_unused)
{
	while (!vs_switch_stopping())
		host_port_poll();
	return NULL;
}

int
host_port_thread_start(void)
{
	int ret = rte_ctrl_thread_create(&hp_thread, "vs-host", NULL, hp_thread_main, NULL);

	if (ret != 0)
		return -ret;
	hp_thread_started = true;
	return 0;
}

void
host_port_thread_join(void)
{
	if (hp_thread_started)
		pthread_join(hp_thread, NULL);
	hp_thread_started = false;
}

void
host_port_fini(void)
{
	uint32_t i;

	if (!hp.ready)
		return;
	while (hp.all != NULL)
		hp_conn_kill(hp.all);
	while (hp.active != NULL) {
		hp.active->active = false;
		hp.active = hp.active->anext;
	}
	hp_reap();
	for (i = 0; i < hp.nloose; i++)
		rte_pktmbuf_free(hp.loose[i]);
	hp.nloose = 0;
	for (i = 0; i < hp.nguests; i++) {
		hp_unlisten(&hp.guests[i].lst[0]);
		hp_unlisten(&hp.guests[i].lst[1]);
	}
	hp_unlisten(&hp.control);
	if (hp.spare_fd >= 0)
		close(hp.spare_fd);
	close(hp.epfd);
	free(hp.guests);
	free(hp.scratch);
	memset(&hp, 0, sizeof(hp));
	hp.epfd = -1;
	hp.spare_fd = -1;
	hp.control.fd = -1;
}

void
host_port_stats_get(struct host_port_stats *s)
{
	*s = hp.st;
}
