/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lc.h"
#include "vs_proc.h"

#define LC_START_TIMEOUT_MS 30000

static struct lc_switch *lc_running;

static void
lc_atexit(void)
{
	if (lc_running != NULL)
		vs_proc_kill(&lc_running->h.pid);
}

void
lc_start(struct lc_switch *s, const char *sw, const char *lcores, const uint64_t *cids,
	 const int *pin, int n, const char *const *extra)
{
	static char guest_args[HARNESS_MAX_GUESTS][400];
	struct vs_argv a;
	double deadline;
	int i;

	memset(s, 0, sizeof(*s));
	vs_proc_mkdtemp(s->h.dir, sizeof(s->h.dir), s->h.prefix, sizeof(s->h.prefix), "vs-lc");
	snprintf(s->control, sizeof(s->control), "%s/control", s->h.dir);
	s->h.nguests = n;
	vs_argv_eal(&a, sw, 256, "--lcores", lcores, s->h.prefix, getenv("VS_TEST_LOG_LEVEL"));
	vs_argv_add(&a, "--log-level=lib.vhost.*:warning");
	vs_argv_add(&a, "--");
	vs_argv_add(&a, "--control");
	vs_argv_add(&a, s->control);
	for (i = 0; i < n && i < HARNESS_MAX_GUESTS; i++) {
		int k;

		s->h.cid[i] = cids[i];
		snprintf(s->h.sock[i], sizeof(s->h.sock[i]), "%s/g%llu.sock", s->h.dir,
			 (unsigned long long)cids[i]);
		k = snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s",
			     (unsigned long long)cids[i], s->h.sock[i]);
		if (pin != NULL && pin[i] >= 0)
			snprintf(guest_args[i] + k, sizeof(guest_args[i]) - k, ",lcore=%d", pin[i]);
		vs_argv_add(&a, "--guest");
		vs_argv_add(&a, guest_args[i]);
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		vs_argv_add(&a, extra[i]);
	s->h.pid = vs_proc_spawn(&a, s->h.dir);
	if (lc_running == NULL)
		atexit(lc_atexit);
	lc_running = s;
	printf("switch %s pid %d (--lcores %s), control %s\n", sw, (int)s->h.pid, lcores,
	       s->control);
	deadline = harness_now_ms() + LC_START_TIMEOUT_MS;
	vs_proc_await_socket(&s->h.pid, s->h.dir, s->control, deadline);
	for (i = 0; i < n; i++)
		vs_proc_await_socket(&s->h.pid, s->h.dir, s->h.sock[i], deadline);
}

int
lc_ctl_open(const struct lc_switch *s, const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[1024];
	int fd, n, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (strlen(s->control) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, s->control, strlen(s->control) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int
lc_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	double deadline = harness_now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - harness_now_ms());
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) <= 0)
			continue;
		r = recv(fd, buf + len, 1, 0);
		if (r <= 0)
			break;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = '\0';
	return (int)len;
}

int
lc_ctl(const struct lc_switch *s, const char *line, char *reply, size_t size, int timeout_ms)
{
	double deadline = harness_now_ms() + timeout_ms;
	size_t len = 0;
	int fd = lc_ctl_open(s, line);

	if (fd < 0)
		return fd;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - harness_now_ms());
		ssize_t r;

		if (left <= 0 || len + 1 >= size) {
			close(fd);
			reply[len] = '\0';
			return left <= 0 ? -ETIMEDOUT : (int)len;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		r = recv(fd, reply + len, size - len - 1, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	reply[len] = '\0';
	return (int)len;
}

void
lc_sock_path(const struct lc_switch *s, uint64_t cid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/rt%llu.sock", s->h.dir, (unsigned long long)cid);
}

void
lc_stop(struct lc_switch *s)
{
	harness_stop(&s->h);
	lc_running = NULL;
}

int
lc_wait_running(const struct lc_switch *s, int n, int timeout_ms)
{
	double deadline = harness_now_ms() + timeout_ms;
	char reply[8192];

	for (;;) {
		int running = 0;
		const char *p = reply;

		if (lc_ctl(s, "GUESTS", reply, sizeof(reply), 5000) > 0)
			while ((p = strstr(p, "state=running")) != NULL) {
				running++;
				p++;
			}
		if (running >= n)
			return 0;
		if (harness_now_ms() > deadline)
			return -ETIMEDOUT;
		vs_proc_sleep_ms(10);
	}
}

int
lc_telemetry(const struct lc_switch *s, const char *cmd, char *out, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	ssize_t n;
	int fd, ret;

	if (geteuid() == 0 || xdg == NULL)
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/var/run/dpdk/%s/dpdk_telemetry.v2",
			 s->h.prefix);
	else
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dpdk/%s/dpdk_telemetry.v2", xdg,
			 s->h.prefix);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    recv(fd, out, size - 1, 0) <= 0 || /* the greeting */
	    send(fd, cmd, strlen(cmd), 0) != (ssize_t)strlen(cmd)) {
		ret = -errno;
		close(fd);
		return ret != 0 ? ret : -EIO;
	}
	n = recv(fd, out, size - 1, 0);
	ret = n < 0 ? -errno : (int)n;
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}
