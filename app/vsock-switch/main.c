/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vsock-switch: one process serving many guests' virtio-vsock devices over
 * vhost-user, switching their AF_VSOCK traffic.
 *
 * main() reads as the table of contents: EAL, arguments, the switch, the guest
 * ports, the worker lcores (lib/switch/vs_switch.c: vs_worker_main() is the data
 * path), then the control plane waits on the main lcore until a signal.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "args.h"
#include "vhost_port.h"
#include "vs_switch.h"

static volatile sig_atomic_t quit_signal;

static void
on_signal(int sig)
{
	quit_signal = sig;
	vs_switch_stop();
}

/* With no argument at all, run the embedded default. */
static char **
default_argv(int *argc, char *prog)
{
	static char buf[] = VS_DEFAULT_EAL_ARGS;
	static char *argv[32];
	char *save = NULL, *tok;
	int n = 0;

	argv[n++] = prog;
	for (tok = strtok_r(buf, " ", &save); tok != NULL && n < 30;
	     tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	*argc = n;
	return argv;
}

static void
print_banner(const struct vs_args *a)
{
	unsigned int i;

	printf("vsock-switch %s: %u guest%s, %u worker lcore%s\n", VS_VERSION, a->nguests,
	       a->nguests == 1 ? "" : "s", rte_lcore_count() > 1 ? rte_lcore_count() - 1 : 1,
	       rte_lcore_count() > 2 ? "s" : "");
	for (i = 0; i < a->nguests; i++) {
		const struct vhost_port_conf *g = &a->guests[i];
		struct vs_port *p = vs_port_lookup(g->cid);

		printf("  guest cid %" PRIu64 " on lcore %u: %s\n", g->cid,
		       p != NULL ? vs_port_lcore(p) : 0, g->socket);
		printf("    qemu-system-x86_64 ... -object memory-backend-memfd,id=mem%" PRIu64
		       ",size=1G,share=on -numa node,memdev=mem%" PRIu64
		       " -chardev socket,id=vsock%" PRIu64 ",path=%s"
		       " -device vhost-user-vsock-pci,chardev=vsock%" PRIu64 "\n",
		       g->cid, g->cid, g->cid, g->socket, g->cid);
	}
	printf("Ready. Stop with Ctrl-C.\n");
	fflush(stdout);
}

static int
create_ports(const struct vs_args *a)
{
	unsigned int i;

	for (i = 0; i < a->nguests; i++) {
		const struct vhost_port_conf *g = &a->guests[i];
		int ret = vhost_port_create(g);

		if (ret == 0)
			continue;
		switch (ret) {
		case -EADDRINUSE:
			fprintf(stderr, "error: guest %" PRIu64 ": socket %s is in use by a "
				"running process\n", g->cid, g->socket);
			break;
		case -EEXIST:
			fprintf(stderr, "error: guest %" PRIu64 ": %s exists and is not a socket\n",
				g->cid, g->socket);
			break;
		case -ENOENT:
		case -ENOTDIR:
			fprintf(stderr, "error: guest %" PRIu64 ": the directory of %s does not "
				"exist\n", g->cid, g->socket);
			break;
		case -EACCES:
			fprintf(stderr, "error: guest %" PRIu64 ": no permission to create %s\n",
				g->cid, g->socket);
			break;
		case -ENAMETOOLONG:
			fprintf(stderr, "error: guest %" PRIu64 ": socket path %s is longer than "
				"a UNIX socket address allows (107 bytes)\n", g->cid, g->socket);
			break;
		default:
			fprintf(stderr, "error: guest %" PRIu64 ": cannot listen on %s: %s\n",
				g->cid, g->socket, strerror(-ret));
			break;
		}
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct vs_args args;
	unsigned int workers = 0;
	int ret, eal_argc;

	if (argc == 1)
		argv = default_argv(&argc, argv[0]);

	eal_argc = rte_eal_init(argc, argv);
	if (eal_argc < 0) {
		fprintf(stderr, "error: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	argc -= eal_argc;
	argv += eal_argc;

	ret = vs_args_parse(argc, argv, &args);
	if (ret != 0) {
		rte_eal_cleanup();
		return ret > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	ret = vs_switch_init(&args.sw);
	if (ret < 0) {
		fprintf(stderr, "error: switch initialisation failed: %s\n", strerror(-ret));
		goto out_switch;
	}
	if (create_ports(&args) != 0) {
		ret = -1;
		goto out_ports;
	}
	print_banner(&args);

	/* Workers poll; the main lcore keeps the control plane. Alone, it polls too. */
	ret = rte_eal_mp_remote_launch(vs_worker_main, NULL, SKIP_MAIN);
	if (ret == 0)
		workers = rte_lcore_count() - 1;
	if (workers == 0)
		vs_worker_main(NULL);
	while (!vs_switch_stopping())
		usleep(100 * 1000);

	rte_eal_mp_wait_lcore();
	ret = 0;
	printf("vsock-switch: signal %d, shutting down\n", (int)quit_signal);
out_ports:
	vhost_port_destroy_all();
out_switch:
	vs_switch_fini();
	rte_eal_cleanup();
	return ret == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
