/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs_proc.h"

double
vs_proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void
vs_proc_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void
vs_proc_mkdtemp(char *dir, size_t dir_len, char *prefix, size_t prefix_len, const char *tag)
{
	snprintf(dir, dir_len, "/tmp/%s-XXXXXX", tag);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(prefix, prefix_len, "%s-%d", tag, (int)getpid());
}

void
vs_argv_add(struct vs_argv *a, const char *arg)
{
	if (a->n >= VS_ARGV_MAX) {
		printf("FAIL: more than %d switch arguments\n", VS_ARGV_MAX);
		exit(1);
	}
	a->v[a->n++] = arg;
	a->v[a->n] = NULL;
}

void
vs_argv_eal(struct vs_argv *a, const char *sw, unsigned int mem_mb, const char *lcores_opt,
	    const char *lcores, const char *prefix, const char *level)
{
	a->n = 0;
	snprintf(a->mem, sizeof(a->mem), "%u", mem_mb);
	snprintf(a->level, sizeof(a->level), "--log-level=%s", level ? level : "notice");
	vs_argv_add(a, sw);
	vs_argv_add(a, "--no-huge");
	vs_argv_add(a, "-m");
	vs_argv_add(a, a->mem);
	vs_argv_add(a, lcores_opt);
	vs_argv_add(a, lcores);
	vs_argv_add(a, "--no-pci");
	vs_argv_add(a, "--file-prefix");
	vs_argv_add(a, prefix);
	vs_argv_add(a, a->level);
}

pid_t
vs_proc_spawn(struct vs_argv *a, const char *dir)
{
	char log_path[600];
	pid_t pid;
	int fd;

	a->v[a->n] = NULL;
	snprintf(log_path, sizeof(log_path), "%s/switch.log", dir);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(a->v[0], (char *const *)a->v);
		perror("execv");
		_exit(127);
	}
	return pid;
}

bool
vs_proc_alive(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return false;
	if (waitpid(*pid, &status, WNOHANG) == *pid) {
		printf("  switch exited early: %s %d\n",
		       WIFEXITED(status) ? "status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		*pid = 0;
		return false;
	}
	return true;
}

void
vs_proc_await_socket(pid_t *pid, const char *dir, const char *path, double deadline_ms)
{
	struct stat st;

	while (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		if (!vs_proc_alive(pid) || vs_proc_now_ms() > deadline_ms) {
			printf("FAIL: socket %s did not appear\n", path);
			vs_proc_print_log(dir);
			exit(1);
		}
		vs_proc_sleep_ms(10);
	}
}

void
vs_proc_print_log(const char *dir)
{
	char path[600], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/switch.log", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	printf("---- switch log ----\n");
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	printf("---- end of switch log ----\n");
	fclose(f);
}

bool
vs_proc_stop(pid_t *pid, int timeout_ms, char *how, size_t how_len)
{
	double deadline = vs_proc_now_ms() + timeout_ms;
	bool exited = false;
	int status = 0;

	if (*pid <= 0) {
		snprintf(how, how_len, "not running");
		return false;
	}
	kill(*pid, SIGTERM);
	while (vs_proc_now_ms() < deadline) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			exited = true;
			break;
		}
		vs_proc_sleep_ms(10);
	}
	if (!exited) {
		kill(*pid, SIGKILL);
		waitpid(*pid, &status, 0);
	}
	*pid = 0;
	snprintf(how, how_len, "%s %d",
		 !exited ? "timeout, killed" : WIFEXITED(status) ? "status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return exited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void
vs_proc_kill(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

void
vs_proc_rm_dir(const char *dir)
{
	char path[600];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void
vs_proc_rm_runtime(const char *prefix)
{
	char path[300];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0 || xdg == NULL)
		snprintf(path, sizeof(path), "/var/run/dpdk/%s", prefix);
	else
		snprintf(path, sizeof(path), "%s/dpdk/%s", xdg, prefix);
	vs_proc_rm_dir(path);
}
