/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Application command line: "--guest cid=<N>,socket=<path>[,lcore=<N>][,uds=<path>][,client]..."
 * and the knobs of the switch and of the host endpoint. Every mistake is reported
 * with what was given and why it is refused. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <rte_kvargs.h>
#include <rte_lcore.h>

#include "args.h"
#include "config.h"
#include "vsock_proto.h"

/* Room in a UNIX socket address (sun_path), terminating NUL included. */
#define UDS_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

void
vs_args_usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "\n"
	       "Options:\n"
	       "  --guest cid=<N>,socket=<path>[,lcore=<N>][,uds=<path>][,client]\n"
	       "          [,reconnect-grace=<ms>]\n"
	       "        attach a guest: the switch listens as vhost-user backend on <path>\n"
	       "        and gives the guest CID <N> (3 .. 4294967294). Repeatable.\n"
	       "        client: the frontend listens on <path> (QEMU -chardev\n"
	       "        socket,server=on) and the switch connects, and reconnects, to it\n"
	       "        reconnect-grace: a frontend that disconnects keeps the guest's\n"
	       "        connections this long; back with the same memory, they go on\n"
	       "        uds=: hybrid vsock socket for host programs (\"CONNECT <port>\" on\n"
	       "        <path> and <path>_seqpacket; the guest reaches <path>_<port>)\n"
	       "  --control <path>      control socket for host programs (CONNECT, LISTEN)\n"
	       "  --connect-timeout <ms> time a guest has to answer a host's connection,\n"
	       "                        and a host program to send its command (default %u)\n"
	       "  --buf-alloc <bytes>   receive space advertised per host connection\n"
	       "                        (default %u)\n"
	       "  --pcap <file>[,cid=<N>][,snaplen=<bytes>]\n"
	       "        capture vsock packets (all, or from/to one CID) to a pcap file\n"
	       "        that tshark and Wireshark read (LINKTYPE_VSOCK)\n"
	       "  --config <file>       read options from an INI file (see vsock-switch(8))\n"
	       "  --run-dir <dir>       where the default guests' sockets go (default %s)\n"
	       "  --max-flows <N>       connection ends per worker lcore (default %u)\n"
	       "  --backlog-pkts <N>    packets waiting for one guest's rx buffers (default %u)\n"
	       "  --backlog-bytes <N>   bytes after which stream data waits in the sender's\n"
	       "                        tx ring (default %u)\n"
	       "  --mbufs <N>           mbufs in the pool (default %u)\n"
	       "  --max-conns <N>       connections per guest (default %u)\n"
	       "  --handshake-timeout <ms> a connection not answered within it is reset\n"
	       "                        (default %u)\n"
	       "  --linger-timeout <ms> a connection closed both ways and not reset\n"
	       "                        within it is reset (default %u)\n"
	       "  -h, --help            this text\n"
	       "\n"
	       "Without --guest, two guests (CID 3 and 4) are served from <run-dir>.\n"
	       "Without any argument at all, the EAL runs with: %s\n",
	       prog, HOST_PORT_DEFAULT_CONNECT_TIMEOUT_MS, HOST_PORT_DEFAULT_BUF_ALLOC,
	       VS_DEFAULT_RUN_DIR, VS_DEFAULT_MAX_FLOWS, VS_DEFAULT_BACKLOG_PKTS,
	       VS_DEFAULT_BACKLOG_BYTES, VS_DEFAULT_NB_MBUFS, VS_DEFAULT_MAX_CONNS,
	       VS_DEFAULT_HANDSHAKE_TIMEOUT_MS, VS_DEFAULT_LINGER_TIMEOUT_MS, VS_DEFAULT_EAL_ARGS);
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int
kv_u64(const char *key __rte_unused, const char *value, void *opaque)
{
	uint64_t *out = opaque;

	return parse_u64(value, 0, UINT64_MAX, out) == 0 ? 0 : -1;
}

/* "--guest <spec>": vhost_port_spec_parse() checks the spec, here only that it
 * does not repeat another guest's CID or paths. */
static int
parse_guest(const char *arg, struct vs_args *a)
{
	struct vhost_port_spec spec;
	char err[256];
	unsigned int i;

	if (a->nguests >= VS_MAX_GUESTS) {
		fprintf(stderr, "error: more than %u guests\n", VS_MAX_GUESTS);
		return -1;
	}
	if (vhost_port_spec_parse(arg, &spec, err, sizeof(err)) != 0) {
		fprintf(stderr, "error: --guest '%s': %s\n", arg, err);
		return -1;
	}
	for (i = 0; i < a->nguests; i++) {
		if (a->guests[i].cid == spec.conf.cid) {
			fprintf(stderr, "error: --guest '%s': CID %" PRIu64 " given twice\n", arg,
				spec.conf.cid);
			return -1;
		}
		if (spec.uds[0] != '\0' && strcmp(a->uds[i], spec.uds) == 0) {
			fprintf(stderr, "error: --guest '%s': uds %s given twice\n", arg,
				a->uds[i]);
			return -1;
		}
		if (strcmp(a->guests[i].socket, spec.conf.socket) == 0) {
			fprintf(stderr, "error: --guest '%s': socket %s given twice\n", arg,
				spec.conf.socket);
			return -1;
		}
	}
	a->guests[a->nguests] = spec.conf;
	strcpy(a->uds[a->nguests], spec.uds);
	a->nguests++;
	return 0;
}

static const char *const pcap_keys[] = { "cid", "snaplen", NULL };

/* "--pcap <file>[,cid=<N>][,snaplen=<bytes>]" */
static int
parse_pcap(const char *arg, struct vs_args *a)
{
	const char *comma = strchr(arg, ',');
	size_t flen = comma != NULL ? (size_t)(comma - arg) : strlen(arg);
	struct rte_kvargs *kv = NULL;
	uint64_t cid = 0, snaplen = 0;

	if (flen == 0 || flen >= sizeof(a->pcap)) {
		fprintf(stderr, "error: --pcap '%s': expected <file>[,cid=<N>][,snaplen=<bytes>]\n",
			arg);
		return -1;
	}
	if (comma != NULL) {
		kv = rte_kvargs_parse(comma + 1, pcap_keys);
		if (kv == NULL ||
		    (rte_kvargs_count(kv, "cid") == 1 &&
		     rte_kvargs_process(kv, "cid", kv_u64, &cid) < 0) ||
		    (rte_kvargs_count(kv, "snaplen") == 1 &&
		     rte_kvargs_process(kv, "snaplen", kv_u64, &snaplen) < 0)) {
			fprintf(stderr, "error: --pcap '%s': expected <file>[,cid=<N>]"
				"[,snaplen=<bytes>]\n", arg);
			rte_kvargs_free(kv);
			return -1;
		}
		rte_kvargs_free(kv);
	}
	if (cid != 0 && !vsock_cid_is_guest(cid) && cid != VSOCK_CID_HOST) {
		fprintf(stderr, "error: --pcap '%s': cid %" PRIu64 " is not a guest or the host\n",
			arg, cid);
		return -1;
	}
	if (snaplen != 0 && (snaplen < 76 || snaplen > 262144)) {
		fprintf(stderr, "error: --pcap '%s': snaplen must be 76 .. 262144 (the two "
			"headers are 76 bytes)\n", arg);
		return -1;
	}
	memcpy(a->pcap, arg, flen);
	a->pcap[flen] = '\0';
	a->pcap_cid = cid;
	a->pcap_snaplen = (uint32_t)snaplen;
	return 0;
}

static int
parse_num(const char *opt, const char *arg, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(arg, min, max, &v) != 0) {
		fprintf(stderr, "error: %s '%s': expected a number in [%" PRIu64 ", %" PRIu64 "]\n",
			opt, arg, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* The embedded default: two guests under the run directory. */
static int
default_guests(struct vs_args *a)
{
	static const uint64_t cids[] = { 3, 4 };
	unsigned int i;

	if (mkdir(a->run_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "error: cannot create run directory %s: %s\n", a->run_dir,
			strerror(errno));
		return -1;
	}
	for (i = 0; i < RTE_DIM(cids); i++) {
		struct vhost_port_conf *g = &a->guests[i];

		g->cid = cids[i];
		g->lcore = RTE_MAX_LCORE;
		if ((size_t)snprintf(g->socket, sizeof(g->socket), "%s/guest%" PRIu64 ".sock",
				     a->run_dir, cids[i]) >= sizeof(g->socket)) {
			fprintf(stderr, "error: run directory path too long\n");
			return -1;
		}
	}
	a->nguests = RTE_DIM(cids);
	a->defaults = true;
	return 0;
}

/* One pass of getopt over @argv (the command line, or a configuration file's
 * options). @from names the source in messages. */
static int
parse_opts(int argc, char **argv, struct vs_args *a, const char *from)
{
	enum { OPT_GUEST = 256, OPT_RUN_DIR, OPT_MAX_FLOWS, OPT_BACKLOG_PKTS,
	       OPT_BACKLOG_BYTES, OPT_MBUFS, OPT_CONTROL, OPT_CONNECT_TIMEOUT, OPT_BUF_ALLOC,
	       OPT_PCAP, OPT_CONFIG, OPT_MAX_CONNS, OPT_HANDSHAKE_TIMEOUT, OPT_LINGER_TIMEOUT };
	static const struct option opts[] = {
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "backlog-pkts", required_argument, NULL, OPT_BACKLOG_PKTS },
		{ "backlog-bytes", required_argument, NULL, OPT_BACKLOG_BYTES },
		{ "mbufs", required_argument, NULL, OPT_MBUFS },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
		{ "linger-timeout", required_argument, NULL, OPT_LINGER_TIMEOUT },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "buf-alloc", required_argument, NULL, OPT_BUF_ALLOC },
		{ "pcap", required_argument, NULL, OPT_PCAP },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int ret = 0;

		switch (c) {
		case OPT_GUEST:
			ret = parse_guest(optarg, a);
			break;
		case OPT_RUN_DIR:
			if (strlen(optarg) >= sizeof(a->run_dir) - 32) {
				fprintf(stderr, "error: --run-dir: path too long\n");
				ret = -1;
			} else {
				strcpy(a->run_dir, optarg);
			}
			break;
		case OPT_MAX_FLOWS:
			ret = parse_num("--max-flows", optarg, 64, 1 << 24,
					&a->sw.max_flows_per_lcore);
			break;
		case OPT_BACKLOG_PKTS:
			ret = parse_num("--backlog-pkts", optarg, 16, 1 << 20, &a->sw.backlog_pkts);
			break;
		case OPT_BACKLOG_BYTES:
			ret = parse_num("--backlog-bytes", optarg, 65536, 1U << 30,
					&a->sw.backlog_bytes);
			break;
		case OPT_MBUFS:
			ret = parse_num("--mbufs", optarg, 1024, 1 << 24, &a->sw.nb_mbufs);
			break;
		case OPT_MAX_CONNS:
			ret = parse_num("--max-conns", optarg, 1, 1 << 24, &a->sw.max_conns);
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			ret = parse_num("--handshake-timeout", optarg, 100, 3600 * 1000,
					&a->sw.handshake_timeout_ms);
			break;
		case OPT_LINGER_TIMEOUT:
			ret = parse_num("--linger-timeout", optarg, 100, 3600 * 1000,
					&a->sw.linger_timeout_ms);
			break;
		case OPT_CONTROL:
			if (optarg[0] == '\0' || strlen(optarg) >= UDS_PATH_MAX) {
				fprintf(stderr, "error: --control '%s': empty, or longer than a UNIX "
					"socket address allows (107 bytes)\n", optarg);
				ret = -1;
			} else {
				strcpy(a->host.control, optarg);
			}
			break;
		case OPT_CONNECT_TIMEOUT:
			ret = parse_num("--connect-timeout", optarg, 1, 3600 * 1000,
					&a->host.connect_timeout_ms);
			break;
		case OPT_BUF_ALLOC:
			ret = parse_num("--buf-alloc", optarg, HOST_PORT_MIN_BUF_ALLOC,
					HOST_PORT_MAX_BUF_ALLOC, &a->host.buf_alloc);
			break;
		case OPT_PCAP:
			ret = parse_pcap(optarg, a);
			break;
		case OPT_CONFIG:
			if (from != NULL) {
				fprintf(stderr, "error: %s: a configuration file cannot name "
					"another\n", from);
				ret = -1;
			}
			/* Otherwise it was read first, by vs_args_parse(). */
			break;
		case 'h':
			vs_args_usage(argv[0]);
			return 1;
		default:
			fprintf(stderr, "error: unknown option%s%s; see --help\n",
				from != NULL ? " in " : "", from != NULL ? from : "");
			return -1;
		}
		if (ret != 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s'%s%s; see --help\n", argv[optind],
			from != NULL ? " in " : "", from != NULL ? from : "");
		return -1;
	}
	return 0;
}

/* The file named by --config, if any. */
static const char *
config_file(int argc, char **argv)
{
	const char *file = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
		else if (strcmp(argv[i], "--") == 0)
			break;
	}
	return file;
}

int
vs_args_parse(int argc, char **argv, struct vs_args *a)
{
	const char *file = config_file(argc, argv);
	int ret;

	memset(a, 0, sizeof(*a));
	a->sw = (struct vs_switch_conf){
		.max_flows_per_lcore = VS_DEFAULT_MAX_FLOWS,
		.backlog_pkts = VS_DEFAULT_BACKLOG_PKTS,
		.backlog_bytes = VS_DEFAULT_BACKLOG_BYTES,
		.nb_mbufs = VS_DEFAULT_NB_MBUFS,
		.ring_size = VS_DEFAULT_RING_SIZE,
		.max_conns = VS_DEFAULT_MAX_CONNS,
		.handshake_timeout_ms = VS_DEFAULT_HANDSHAKE_TIMEOUT_MS,
		.linger_timeout_ms = VS_DEFAULT_LINGER_TIMEOUT_MS,
	};
	a->host.connect_timeout_ms = HOST_PORT_DEFAULT_CONNECT_TIMEOUT_MS;
	a->host.buf_alloc = HOST_PORT_DEFAULT_BUF_ALLOC;
	strcpy(a->run_dir, VS_DEFAULT_RUN_DIR);
	/* The file first, the command line after it: the command line adds guests and
	 * overrides settings. */
	if (file != NULL) {
		char **fargv;
		int n = vs_config_load(file, &fargv);

		if (n < 0)
			return -1;
		/* getopt wants argv[0]. */
		char *pargv[n + 2];

		pargv[0] = argv[0];
		memcpy(&pargv[1], fargv, (size_t)(n + 1) * sizeof(char *));
		ret = parse_opts(n + 1, pargv, a, file);
		vs_config_free(fargv);
		if (ret != 0)
			return ret;
	}
	ret = parse_opts(argc, argv, a, NULL);
	if (ret != 0)
		return ret;
	if (a->nguests == 0)
		return default_guests(a);
	return 0;
}
