/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vsock-switch: one process serving many guests' virtio-vsock devices over
 * vhost-user, switching their AF_VSOCK traffic.
 *
 * main() reads as the table of contents: EAL, arguments, the switch, the guest
 * ports, the host endpoint, the worker lcores (lib/switch/vs_switch.c:
 * vs_worker_main() is the data path), then the main lcore runs the host endpoint
 * (drivers/host_port: guests' connections to host programs) until a signal.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "args.h"
#include "host_port.h"
#include "vs_capture.h"
#include "vhost_port.h"
#include "vs_switch.h"
#include "vsock_proto.h"

/*
 * File descriptors: librte_vhost keeps every vhost-user socket (a server guest's
 * listener and connection, a client guest's connection) in one poll set of
 * VHOST_FDSET_SIZE entries, one of which is its own wake-up pipe. Besides, each
 * guest holds the kick and call eventfds of both queues and one fd per memory
 * region (kept while mapped; QEMU sends one or two), and a hybrid socket two
 * listeners (stream and seqpacket).
 */
#define VHOST_FDSET_SIZE 1024
#define FDS_PER_GUEST_RINGS (2 * VSOCK_NUM_VQ)
#define FDS_PER_GUEST_REGIONS 2
#define FDS_PER_HYBRID 2
#define FDS_PROCESS 256 /* EAL, telemetry, logs, control socket, host connections */

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

/* Fds one guest keeps open in this process. */
static unsigned int
guest_fds(const struct vs_args *a, unsigned int i)
{
	return (a->guests[i].client ? 1 : 2) + FDS_PER_GUEST_RINGS + FDS_PER_GUEST_REGIONS +
	       (a->uds[i][0] != '\0' ? FDS_PER_HYBRID : 0);
}

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit, and refuse a configuration
 * that cannot fit: in the process's fd limit, or in librte_vhost's poll set.
 */
static int
check_fds(const struct vs_args *a)
{
	unsigned int i, clients = 0, vhost_fds = 1;
	uint64_t need = FDS_PROCESS;
	struct rlimit rl;

	for (i = 0; i < a->nguests; i++) {
		need += guest_fds(a, i);
		clients += a->guests[i].client;
		vhost_fds += a->guests[i].client ? 1 : 2;
	}
	if (vhost_fds > VHOST_FDSET_SIZE) {
		fprintf(stderr, "error: %u server-mode and %u client-mode guests need %u of the "
			"%u descriptors librte_vhost polls (2 per server guest: listener and "
			"connection; 1 per client guest); attach guests in client mode "
			"(--guest ...,client) or spread them over several switch processes\n",
			a->nguests - clients, clients, vhost_fds, VHOST_FDSET_SIZE);
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "error: getrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			fprintf(stderr, "error: setrlimit(RLIMIT_NOFILE, %llu): %s\n",
				(unsigned long long)rl.rlim_cur, strerror(errno));
			return -1;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		fprintf(stderr, "error: %u guest%s need about %" PRIu64 " file descriptors (each "
			"guest: 1 vhost-user socket in client mode, 2 in server mode, %u eventfds, "
			"%u memory fds, %u per hybrid socket; %u for the process), but the hard "
			"limit (RLIMIT_NOFILE) is %llu: raise it (ulimit -Hn, or LimitNOFILE= in "
			"the systemd unit) or serve fewer guests\n", a->nguests,
			a->nguests == 1 ? "" : "s", need, FDS_PER_GUEST_RINGS,
			FDS_PER_GUEST_REGIONS, FDS_PER_HYBRID, FDS_PROCESS,
			(unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
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

		if (g->client)
			printf("  guest cid %" PRIu64 " on lcore %u: connects to %s (client mode): "
			       "%s\n", g->cid, p != NULL ? vs_port_lcore(p) : 0, g->socket,
			       vhost_port_attached(g->cid) ? "frontend attached" :
			       "no frontend listening yet, trying every second");
		else
			printf("  guest cid %" PRIu64 " on lcore %u: %s\n", g->cid,
			       p != NULL ? vs_port_lcore(p) : 0, g->socket);
		if (a->uds[i][0] != '\0')
			printf("    host programs: %s (CONNECT <port>), %s_seqpacket; "
			       "guest connects to %s_<port>\n", a->uds[i], a->uds[i], a->uds[i]);
		/* QEMU 7.2's vhost-user-vsock needs the backend while the device is
		 * realized: server=on must wait (wait=off fails with "Failed to set msg
		 * fds"), QEMU starts once the switch has connected. */
		printf("    qemu-system-x86_64 ... -object memory-backend-memfd,id=mem%" PRIu64
		       ",size=1G,share=on -numa node,memdev=mem%" PRIu64
		       " -chardev socket,id=vsock%" PRIu64 ",path=%s%s"
		       " -device vhost-user-vsock-pci,chardev=vsock%" PRIu64 "\n",
		       g->cid, g->cid, g->cid, g->socket, g->client ? ",server=on" : "", g->cid);
	}
	if (a->host.control[0] != '\0')
		printf("  control socket: %s (CONNECT <cid> <port>, LISTEN <port>)\n",
		       a->host.control);
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
			fprintf(stderr, "error: guest %" PRIu64 ": cannot %s %s: %s\n", g->cid,
				g->client ? "connect to" : "listen on", g->socket, strerror(-ret));
			break;
		}
		return -1;
	}
	return 0;
}

/* CID 2: the control socket and each guest's hybrid socket. */
static int
create_host(const struct vs_args *a)
{
	unsigned int i;
	int ret;

	ret = host_port_init(&a->host);
	if (ret < 0) {
		fprintf(stderr, "error: host endpoint: %s%s%s\n", strerror(-ret),
			a->host.control[0] != '\0' ? ", control socket " : "", a->host.control);
		return -1;
	}
	for (i = 0; i < a->nguests; i++) {
		if (a->uds[i][0] == '\0')
			continue;
		ret = host_port_add_guest(a->guests[i].cid, a->uds[i]);
		if (ret < 0) {
			fprintf(stderr, "error: guest %" PRIu64 ": hybrid socket %s: %s\n",
				a->guests[i].cid, a->uds[i],
				ret == -EADDRINUSE ? "in use by a running process" : strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* --pcap: capture from now until exit. */
static int
start_capture(const struct vs_args *a)
{
	struct vs_capture_conf cc = {
		.file = a->pcap,
		.cid = a->pcap_cid,
		.snaplen = a->pcap_snaplen,
	};
	int ret;

	if (a->pcap[0] == '\0')
		return 0;
	ret = vs_capture_start(&cc);
	if (ret < 0) {
		fprintf(stderr, "error: --pcap %s: %s\n", a->pcap, strerror(-ret));
		return -1;
	}
	printf("capturing to %s\n", a->pcap);
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
		fprintf(stderr, "error: EAL initialisation failed: %s\n", rte_errno != 0 ?
			rte_strerror(rte_errno) : "see the EAL messages above (another switch "
			"with the same --file-prefix?)");
		if (rte_errno == ENOMEM || rte_errno == EACCES)
			fprintf(stderr, "hint: without hugepages, run with --no-huge -m 512; to use "
				"them, reserve some as root: echo 256 > "
				"/proc/sys/vm/nr_hugepages\n");
		return EXIT_FAILURE;
	}
	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		fprintf(stderr, "error: another DPDK process already runs with this --file-prefix; "
			"give each switch its own\n");
		rte_eal_cleanup();
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
	if (check_fds(&args) != 0) {
		ret = -1;
		goto out_switch;
	}
	if (create_ports(&args) != 0 || create_host(&args) != 0 || start_capture(&args) != 0) {
		ret = -1;
		goto out_ports;
	}
	print_banner(&args);

	/*
	 * Workers poll guests; the main lcore runs the host endpoint. Alone, the main
	 * lcore polls guests and the host endpoint gets a control thread.
	 */
	ret = rte_eal_mp_remote_launch(vs_worker_main, NULL, SKIP_MAIN);
	if (ret == 0)
		workers = rte_lcore_count() - 1;
	if (workers == 0) {
		ret = host_port_thread_start();
		if (ret < 0)
			fprintf(stderr, "error: host endpoint thread: %s\n", strerror(-ret));
		vs_worker_main(NULL);
		host_port_thread_join();
	}
	while (!vs_switch_stopping())
		host_port_poll();

	rte_eal_mp_wait_lcore();
	ret = 0;
	printf("vsock-switch: signal %d, shutting down\n", (int)quit_signal);
out_ports:
	host_port_fini();
	vhost_port_destroy_all();
out_switch:
	vs_switch_fini();
	rte_eal_cleanup();
	return ret == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
