/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_ARGS_H
#define VS_ARGS_H

#include <stdbool.h>

#include "host_port.h"
#include "vhost_port.h"
#include "vs_config.h"
#include "vs_switch.h"

/** Everything the command line after "--" says. */
struct vs_args {
	struct vhost_port_conf guests[VS_MAX_GUESTS];
	unsigned int nguests;
	struct vs_switch_conf sw;
	struct host_port_conf host; /* host endpoint: control socket, timeouts, credit */
	char uds[VS_MAX_GUESTS][PATH_MAX]; /* guests[i]'s hybrid socket, "" for none */
	char run_dir[PATH_MAX];
	bool defaults; /* no --guest given: the embedded default guests */
	char pcap[PATH_MAX]; /* --pcap: capture from start to exit, "" for none */
	uint64_t pcap_cid; /* only this CID, 0 for all */
	uint32_t pcap_snaplen; /* 0 for the default */
};

/** EAL arguments used when the switch is started with no argument at all. */
#define VS_DEFAULT_EAL_ARGS \
	"-l 0-1 --no-huge -m 512 --no-pci --file-prefix vsock-switch --log-level=lib.vhost.*:warning"

/** Default run directory for the embedded configuration. */
#define VS_DEFAULT_RUN_DIR "/tmp/vsock-switch"

/**
 * Parse the application arguments (those after EAL's).
 * @return 0, 1 if --help was printed, or -1 after printing what is wrong.
 */
int vs_args_parse(int argc, char **argv, struct vs_args *a);

/** Print usage to stdout. */
void vs_args_usage(const char *prog);

#endif /* VS_ARGS_H */
