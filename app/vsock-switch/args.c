/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Application command line: "--guest cid=<N>,socket=<path>[,lcore=<N>]" and the
 * switch's knobs. Every mistake is reported with what was given and why it is
 * refused. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_kvargs.h>
#include <rte_lcore.h>

#include "args.h"
#include "vsock_proto.h"

static const char *const guest_keys[] = { "cid", "socket", "lcore", NULL };

void
vs_args_usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "\n"
	       "Options:\n"
	       "  --guest cid=<N>,socket=<path>[,lcore=<N>]\n"
	       "        attach a guest: the switch listens as vhost-user backend on <path>\n"
	       "        and gives the guest CID <N> (3 .. 4294967294). Repeatable.\n"
	       "  --run-dir <dir>       where the default guests' sockets go (default %s)\n"
	       "  --max-flows <N>       connection ends per worker lcore (default %u)\n"
	       "  --backlog-pkts <N>    packets waiting for one guest's rx buffers (default %u)\n"
	       "  --backlog-bytes <N>   bytes after which stream data waits in the sender's\n"
	       "                        tx ring (default %u)\n"
	       "  --mbufs <N>           mbufs in the pool (default %u)\n"
	       "  -h, --help            this text\n"
	       "\n"
	       "Without --guest, two guests (CID 3 and 4) are served from <run-dir>.\n"
	       "Without any argument at all, the EAL runs with: %s\n",
	       prog, VS_DEFAULT_RUN_DIR, VS_DEFAULT_MAX_FLOWS, VS_DEFAULT_BACKLOG_PKTS,
	       VS_DEFAULT_BACKLOG_BYTES, VS_DEFAULT_NB_MBUFS, VS_DEFAULT_EAL_ARGS);
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

static int
kv_str(const char *key __rte_unused, const char *value, void *opaque)
{
	char *out = opaque;

	if (strlen(value) >= PATH_MAX)
		return -1;
	strcpy(out, value);
	return 0;
}

static int
parse_guest(const char *arg, struct vs_args *a)
{
	struct vhost_port_conf *g;
	struct rte_kvargs *kv;
	uint64_t cid = 0, lcore = RTE_MAX_LCORE;
	unsigned int i;
	int ret = -1;

	if (a->nguests >= VS_MAX_GUESTS) {
		fprintf(stderr, "error: more than %u guests\n", VS_MAX_GUESTS);
		return -1;
	}
	g = &a->guests[a->nguests];
	memset(g, 0, sizeof(*g));
	kv = rte_kvargs_parse(arg, guest_keys);
	if (kv == NULL) {
		fprintf(stderr, "error: --guest '%s': expected cid=<N>,socket=<path>[,lcore=<N>]\n",
			arg);
		return -1;
	}
	if (rte_kvargs_count(kv, "cid") != 1 || rte_kvargs_count(kv, "socket") != 1) {
		fprintf(stderr, "error: --guest '%s': needs exactly one cid= and one socket=\n",
			arg);
		goto out;
	}
	if (rte_kvargs_process(kv, "cid", kv_u64, &cid) < 0) {
		fprintf(stderr, "error: --guest '%s': cid is not a number\n", arg);
		goto out;
	}
	if (!vsock_cid_is_guest(cid)) {
		fprintf(stderr,
			"error: --guest '%s': CID %" PRIu64 " is reserved (0 hypervisor, 1 local, "
			"2 host, 4294967295 any); use 3 .. 4294967294\n", arg, cid);
		goto out;
	}
	if (rte_kvargs_process(kv, "socket", kv_str, g->socket) < 0 || g->socket[0] == '\0') {
		fprintf(stderr, "error: --guest '%s': bad socket path\n", arg);
		goto out;
	}
	if (rte_kvargs_count(kv, "lcore") == 1 &&
	    (rte_kvargs_process(kv, "lcore", kv_u64, &lcore) < 0 || lcore >= RTE_MAX_LCORE ||
	     !rte_lcore_is_enabled((unsigned int)lcore))) {
		fprintf(stderr, "error: --guest '%s': lcore is not one of the EAL's lcores\n", arg);
		goto out;
	}
	for (i = 0; i < a->nguests; i++) {
		if (a->guests[i].cid == cid) {
			fprintf(stderr, "error: --guest '%s': CID %" PRIu64 " given twice\n", arg,
				cid);
			goto out;
		}
		if (strcmp(a->guests[i].socket, g->socket) == 0) {
			fprintf(stderr, "error: --guest '%s': socket %s given twice\n", arg,
				g->socket);
			goto out;
		}
	}
	g->cid = cid;
	g->lcore = (unsigned int)lcore;
	a->nguests++;
	ret = 0;
out:
	rte_kvargs_free(kv);
	return ret;
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

int
vs_args_parse(int argc, char **argv, struct vs_args *a)
{
	enum { OPT_GUEST = 256, OPT_RUN_DIR, OPT_MAX_FLOWS, OPT_BACKLOG_PKTS,
	       OPT_BACKLOG_BYTES, OPT_MBUFS };
	static const struct option opts[] = {
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "backlog-pkts", required_argument, NULL, OPT_BACKLOG_PKTS },
		{ "backlog-bytes", required_argument, NULL, OPT_BACKLOG_BYTES },
		{ "mbufs", required_argument, NULL, OPT_MBUFS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->sw = (struct vs_switch_conf){
		.max_flows_per_lcore = VS_DEFAULT_MAX_FLOWS,
		.backlog_pkts = VS_DEFAULT_BACKLOG_PKTS,
		.backlog_bytes = VS_DEFAULT_BACKLOG_BYTES,
		.nb_mbufs = VS_DEFAULT_NB_MBUFS,
		.ring_size = VS_DEFAULT_RING_SIZE,
	};
	strcpy(a->run_dir, VS_DEFAULT_RUN_DIR);
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
		case 'h':
			vs_args_usage(argv[0]);
			return 1;
		default:
			fprintf(stderr, "error: unknown option; see --help\n");
			return -1;
		}
		if (ret != 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s'; see --help\n", argv[optind]);
		return -1;
	}
	if (a->nguests == 0)
		return default_guests(a);
	return 0;
}
