/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_PROC_H
#define VS_PROC_H

/*
 * The switch as a child process of a test: build its command line (EAL
 * options, "--", switch options), run it in a fresh directory with its output
 * in <dir>/switch.log, wait for the sockets it creates, stop it and check its
 * exit status, and remove what it left behind. Every test harness starts the
 * switch through these functions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** Most arguments a switch command line may have. */
#define VS_ARGV_MAX 128

/** A switch command line under construction. */
struct vs_argv {
	const char *v[VS_ARGV_MAX + 1]; /**< NULL-terminated once built */
	int n;
	char mem[16];
	char level[64];
};

/**
 * Make a fresh directory /tmp/<tag>-XXXXXX in @p dir and the EAL file prefix
 * <tag>-<pid> in @p prefix. Exits the test (status 1) on failure.
 */
void vs_proc_mkdtemp(char *dir, size_t dir_len, char *prefix, size_t prefix_len,
		     const char *tag);

/**
 * Start a command line with the switch @p sw and its EAL options: --no-huge,
 * -m @p mem_mb, @p lcores_opt ("-l" or "--lcores") @p lcores, --no-pci,
 * --file-prefix @p prefix and --log-level=@p level ("notice" if NULL). The
 * caller adds more EAL options, then "--", then the switch's options.
 */
void vs_argv_eal(struct vs_argv *a, const char *sw, unsigned int mem_mb,
		 const char *lcores_opt, const char *lcores, const char *prefix,
		 const char *level);

/** Append one argument (not copied); exits the test if there are too many. */
void vs_argv_add(struct vs_argv *a, const char *arg);

/**
 * Run the command line @p a (argv[0] is the binary) with stdout and stderr in
 * <@p dir>/switch.log. Returns the child's pid; exits the test if fork fails.
 */
pid_t vs_proc_spawn(struct vs_argv *a, const char *dir);

/**
 * True while the process *@p pid is alive. If it has exited, print how, reap
 * it and set *@p pid to 0.
 */
bool vs_proc_alive(pid_t *pid);

/**
 * Wait until @p path is a Unix socket. If the process *@p pid dies or the
 * monotonic clock passes @p deadline_ms (see vs_proc_now_ms()) first, print a
 * FAIL line and the log in @p dir, and exit the test (status 1).
 */
void vs_proc_await_socket(pid_t *pid, const char *dir, const char *path, double deadline_ms);

/** Print <@p dir>/switch.log between markers (nothing if it does not exist). */
void vs_proc_print_log(const char *dir);

/**
 * SIGTERM the process *@p pid and wait up to @p timeout_ms for it to exit
 * (SIGKILL after that); *@p pid becomes 0. Returns true if it exited with
 * status 0; @p how gets "status N", "signal N" or "timeout, killed N".
 */
bool vs_proc_stop(pid_t *pid, int timeout_ms, char *how, size_t how_len);

/** SIGKILL the process *@p pid (if any) and reap it; *@p pid becomes 0. */
void vs_proc_kill(pid_t *pid);

/** Remove directory @p dir and the files in it (not recursive). */
void vs_proc_rm_dir(const char *dir);

/** Remove the EAL runtime directory of file prefix @p prefix. */
void vs_proc_rm_runtime(const char *prefix);

/** Monotonic milliseconds. */
double vs_proc_now_ms(void);

/** Sleep @p ms milliseconds. */
void vs_proc_sleep_ms(unsigned int ms);

#endif /* VS_PROC_H */
