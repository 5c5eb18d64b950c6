/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Guests at run time, from the control socket: "GUEST-ADD <spec>" (the words of
 * --guest), "GUEST-DEL <cid>" and "GUESTS". hp_line.c parses the line and calls
 * these; they run on the host endpoint's thread, the only one that adds or
 * deletes guests once the switch runs.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port_pvt.h"
#include "vhost_port.h"
#include "vs_switch.h"

/* Longest GUESTS line: two socket paths and the numbers. */
#define HP_GUEST_LINE_MAX (2 * PATH_MAX + 128)

static const char *const hp_port_states[] = {
	[VS_PORT_CONFIGURED] = "configured",
	[VS_PORT_CONNECTED] = "frontend_connected",
	[VS_PORT_RUNNING] = "running",
	[VS_PORT_STOPPING] = "stopping",
	[VS_PORT_SUSPENDED] = "suspended",
};

void
hp_control_guest_add(struct hp_conn *c, const char *spec_text)
{
	struct vhost_port_spec spec;
	char err[HP_LINE_MAX];
	uint32_t i;
	int ret;

	if (vhost_port_spec_parse(spec_text, &spec, err, sizeof(err)) != 0) {
		hp.st.bad_lines++;
		hp_line_error(c, EINVAL, "%s", err);
		return;
	}
	if (vs_port_lookup(spec.conf.cid) != NULL) {
		hp_line_error(c, EEXIST, "CID %" PRIu64 " is in use", spec.conf.cid);
		return;
	}
	for (i = 0; spec.uds[0] != '\0' && i < hp.nguests; i++) {
		if (hp.guests[i].cid != 0 && strcmp(hp.guests[i].uds, spec.uds) == 0) {
			hp_line_error(c, EADDRINUSE, "uds %s is guest %" PRIu64 "'s", spec.uds,
				      hp.guests[i].cid);
			return;
		}
	}
	ret = vhost_port_create(&spec.conf);
	if (ret < 0) {
		hp_line_error(c, -ret, "socket %s: %s", spec.conf.socket, strerror(-ret));
		return;
	}
	if (spec.uds[0] != '\0') {
		ret = host_port_add_guest(spec.conf.cid, spec.uds);
		if (ret < 0) {
			vhost_port_delete(spec.conf.cid);
			hp_line_error(c, -ret, "uds %s: %s", spec.uds, strerror(-ret));
			return;
		}
	}
	HP_LOG(INFO, "guest %" PRIu64 " added on %s", spec.conf.cid, spec.conf.socket);
	hp_line_reply(c, "OK\n");
	hp_conn_kill(c);
}

void
hp_control_guest_del(struct hp_conn *c, uint64_t cid)
{
	int ret;

	if (!vsock_cid_is_guest(cid) || vs_port_lookup(cid) == NULL) {
		hp_line_error(c, ENODEV, "no guest with CID %" PRIu64, cid);
		return;
	}
	/* Host programs first (EOF or reset on their sockets), then the guest's port:
	 * its peers get an RST. */
	host_port_del_guest(cid);
	ret = vhost_port_delete(cid);
	if (ret < 0) {
		hp_line_error(c, -ret, "guest %" PRIu64 ": %s", cid, strerror(-ret));
		return;
	}
	HP_LOG(INFO, "guest %" PRIu64 " deleted", cid);
	hp_line_reply(c, "OK\n");
	hp_conn_kill(c);
}

struct hp_guest_list {
	char *buf;
	size_t cap;
	size_t len;
	uint32_t n;
};

static void
hp_guest_line(const struct vhost_port_conf *conf, const struct vs_port *p, void *arg)
{
	struct hp_guest_list *l = arg;
	const struct hp_guest *g = hp_guest_find(conf->cid);
	unsigned int state = vs_port_state_get(p);
	int n;

	if (l->cap - l->len < HP_GUEST_LINE_MAX)
		return;
	n = snprintf(l->buf + l->len, l->cap - l->len,
		     "GUEST cid=%" PRIu64 " state=%s lcore=%u numa_node=%d socket=%s%s%s\n",
		     conf->cid, state < RTE_DIM(hp_port_states) ? hp_port_states[state] : "unknown",
		     vs_port_lcore(p), vs_port_numa_get(p), conf->socket,
		     g != NULL ? " uds=" : "", g != NULL ? g->uds : "");
	if (n > 0 && (size_t)n < l->cap - l->len) {
		l->len += (size_t)n;
		l->n++;
	}
}

void
hp_control_guests(struct hp_conn *c)
{
	struct hp_guest_list l = { .cap = (size_t)(VS_MAX_GUESTS + 1) * HP_GUEST_LINE_MAX };

	l.buf = malloc(l.cap);
	if (l.buf == NULL) {
		hp_line_error(c, ENOMEM, "no memory for the list");
		return;
	}
	vhost_port_foreach(hp_guest_line, &l);
	l.len += (size_t)snprintf(l.buf + l.len, l.cap - l.len, "OK %u\n", l.n);
	hp_line_send(c, l.buf, l.len);
	free(l.buf);
	hp_conn_kill(c);
}
