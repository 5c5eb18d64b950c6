/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* A guest spec (VHOST_PORT_SPEC_USAGE): the same words
 * on the command line (--guest) and on the control socket (GUEST-ADD). */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <rte_common.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>

#include "vhost_port.h"
#include "vsock_proto.h"

/* Room in a UNIX socket address (sun_path), terminating NUL included. */
#define UDS_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

static const char *const spec_keys[] = {
	"cid", "socket", "lcore", "uds", "client", "reconnect-grace", NULL
};

static int
spec_u64(const char *key __rte_unused, const char *value, void *opaque)
{
	uint64_t *out = opaque;
	char *end;

	if (value == NULL || *value == '\0' || *value == '-')
		return -1;
	errno = 0;
	*out = strtoull(value, &end, 0);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
spec_str(const char *key __rte_unused, const char *value, void *opaque)
{
	char *out = opaque;

	if (value == NULL || strlen(value) >= PATH_MAX)
		return -1;
	strcpy(out, value);
	return 0;
}

/* "client", "client=yes|1|true|on" or "client=no|0|false|off". */
static int
spec_bool(const char *key __rte_unused, const char *value, void *opaque)
{
	static const char *const yes[] = { "", "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	bool *out = opaque;
	unsigned int i;

	if (value == NULL) {
		*out = true;
		return 0;
	}
	for (i = 0; i < RTE_DIM(yes); i++)
		if (strcmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (i = 0; i < RTE_DIM(no); i++)
		if (strcmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

static int __attribute__((format(printf, 3, 4)))
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
vhost_port_spec_parse(const char *arg, struct vhost_port_spec *s, char *err, size_t errlen)
{
	struct rte_kvargs *kv;
	uint64_t cid = 0, lcore = RTE_MAX_LCORE, grace = 0;
	bool client = false;
	int ret = -EINVAL;

	memset(s, 0, sizeof(*s));
	kv = rte_kvargs_parse(arg, spec_keys);
	if (kv == NULL)
		return refuse(err, errlen, "expected " VHOST_PORT_SPEC_USAGE);
	if (rte_kvargs_count(kv, "cid") != 1 || rte_kvargs_count(kv, "socket") != 1) {
		refuse(err, errlen, "needs exactly one cid= and one socket=");
		goto out;
	}
	if (rte_kvargs_process(kv, "cid", spec_u64, &cid) < 0) {
		refuse(err, errlen, "cid is not a number");
		goto out;
	}
	if (!vsock_cid_is_guest(cid)) {
		refuse(err, errlen, "CID %" PRIu64 " is reserved (0 hypervisor, 1 local, 2 host, "
		       "4294967295 any); use 3 .. 4294967294", cid);
		goto out;
	}
	if (rte_kvargs_process(kv, "socket", spec_str, s->conf.socket) < 0 ||
	    s->conf.socket[0] == '\0') {
		refuse(err, errlen, "bad socket path");
		goto out;
	}
	if (rte_kvargs_count(kv, "uds") > 1 ||
	    (rte_kvargs_count(kv, "uds") == 1 &&
	     (rte_kvargs_process(kv, "uds", spec_str, s->uds) < 0 || s->uds[0] == '\0' ||
	      strlen(s->uds) + sizeof("_4294967295") > UDS_PATH_MAX))) {
		refuse(err, errlen, "uds path empty or too long (at most %zu bytes, to leave room "
		       "for _<port>)", UDS_PATH_MAX - sizeof("_4294967295"));
		goto out;
	}
	if (rte_kvargs_count(kv, "lcore") > 1 ||
	    (rte_kvargs_count(kv, "lcore") == 1 &&
	     (rte_kvargs_process(kv, "lcore", spec_u64, &lcore) < 0 || lcore >= RTE_MAX_LCORE ||
	      !rte_lcore_is_enabled((unsigned int)lcore)))) {
		refuse(err, errlen, "lcore is not one of the EAL's lcores");
		goto out;
	}
	if (rte_kvargs_count(kv, "client") > 1 ||
	    (rte_kvargs_count(kv, "client") == 1 &&
	     rte_kvargs_process(kv, "client", spec_bool, &client) < 0)) {
		refuse(err, errlen, "client takes no value, or yes/no");
		goto out;
	}
	if (rte_kvargs_count(kv, "reconnect-grace") > 1 ||
	    (rte_kvargs_count(kv, "reconnect-grace") == 1 &&
	     (rte_kvargs_process(kv, "reconnect-grace", spec_u64, &grace) < 0 ||
	      grace > VHOST_PORT_MAX_GRACE_MS))) {
		refuse(err, errlen, "reconnect-grace is milliseconds, 0 .. %u",
		       VHOST_PORT_MAX_GRACE_MS);
		goto out;
	}
	if (client && strlen(s->conf.socket) >= UDS_PATH_MAX) {
		refuse(err, errlen, "socket path longer than a UNIX socket address allows "
		       "(%zu bytes)", UDS_PATH_MAX - 1);
		goto out;
	}
	s->conf.cid = cid;
	s->conf.lcore = (unsigned int)lcore;
	s->conf.client = client;
	s->conf.reconnect_grace_ms = (uint32_t)grace;
	ret = 0;
out:
	rte_kvargs_free(kv);
	if (ret != 0)
		memset(s, 0, sizeof(*s));
	return ret;
}
