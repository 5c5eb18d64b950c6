/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lc.h"

#define LC_START_TIMEOUT_MS 30000

static struct lc_switch *lc_running;

static void
lc_atexit(void)
{
	struct lc_switch *s = lc_running;

	if (s == NULL || s->h.pid <= 0)
		return;
	kill(s->h.pid, SIGKILL);
	waitpid(s->h.pid, NULL, 0);
	s->h.pid = 0;
}

static void
lc_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
lc_print_log(const struct lc_switch *s)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/switch.log", s->h.dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	printf("---- switch log ----\n");
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	printf("---- end of switch log ----\n");
	fclose(f);
}

static bool
lc_is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
lc_start(struct lc_switch *s, const char *sw, const char *lcores, const uint64_t *cids,
	 const int *pin, int n, const char *const *extra)
{
	static char guest_args[HARNESS_MAX_GUESTS][400];
	char log_level[64], log_path[300];
	const char *argv[64];
	const char *level = getenv("VS_TEST_LOG_LEVEL");
	double deadline;
	int a = 0, i, fd;

	memset(s, 0, sizeof(*s));
	snprintf(s->h.dir, sizeof(s->h.dir), "/tmp/vs-lc-XXXXXX");
	if (mkdtemp(s->h.dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(s->h.prefix, sizeof(s->h.prefix), "vs-lc-%d", (int)getpid());
	snprintf(s->control, sizeof(s->control), "%s/control", s->h.dir);
	snprintf(log_level, sizeof(log_level), "--log-level=%s", level ? level : "notice");
	s->h.nguests = n;
	argv[a++] = sw;
	argv[a++] = "--no-huge";
	argv[a++] = "-m";
	argv[a++] = "256";
	argv[a++] = "--lcores";
	argv[a++] = lcores;
	argv[a++] = "--no-pci";
	argv[a++] = "--file-prefix";
	argv[a++] = s->h.prefix;
	argv[a++] = log_level;
	argv[a++] = "--log-level=lib.vhost.*:warning";
	argv[a++] = "--";
	argv[a++] = "--control";
	argv[a++] = s->control;
	for (i = 0; i < n && i < HARNESS_MAX_GUESTS; i++) {
		int k;

		s->h.cid[i] = cids[i];
		snprintf(s->h.sock[i], sizeof(s->h.sock[i]), "%s/g%llu.sock", s->h.dir,
			 (unsigned long long)cids[i]);
		k = snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s",
			     (unsigned long long)cids[i], s->h.sock[i]);
		if (pin != NULL && pin[i] >= 0)
			snprintf(guest_args[i] + k, sizeof(guest_args[i]) - k, ",lcore=%d", pin[i]);
		argv[a++] = "--guest";
		argv[a++] = guest_args[i];
	}
	for (i = 0; extra != NULL && extra[i] != NULL && a < 62; i++)
		argv[a++] = extra[i];
	argv[a] = NULL;
	snprintf(log_path, sizeof(log_path), "%s/switch.log", s->h.dir);
	fflush(stdout);
	s->h.pid = fork();
	if (s->h.pid < 0) {
		perror("fork");
		exit(1);
	}
	if (s->h.pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(sw, (char *const *)argv);
		perror("execv");
		_exit(127);
	}
	if (lc_running == NULL)
		atexit(lc_atexit);
	lc_running = s;
	printf("switch %s pid %d (--lcores %s), control %s\n", sw, (int)s->h.pid, lcores,
	       s->control);
	deadline = harness_now_ms() + LC_START_TIMEOUT_MS;
	for (i = -1; i < n; i++) {
		const char *path = i < 0 ? s->control : s->h.sock[i];

		while (!lc_is_socket(path)) {
			if (!harness_alive(&s->h) || harness_now_ms() > deadline) {
				printf("FAIL: socket %s did not appear\n", path);
				lc_print_log(s);
				exit(1);
			}
			lc_sleep_ms(10);
		}
	}
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
		lc_sleep_ms(10);
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
