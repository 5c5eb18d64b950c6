/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_telemetry.h>
#include <rte_vhost.h>

#include "vhost_port.h"
#include "vhost_port_pvt.h"
#include "vs_sockpath.h"
#include "vs_config.h"
#include "vs_switch.h"
#include "vsock_proto.h"

/* librte_vhost's callbacks (its own thread) and the control plane (guests added
 * and deleted at run time) share the tables below under vp_lock. It is never held
 * while calling into librte_vhost's socket functions: rte_vhost_driver_unregister()
 * waits for running callbacks, which may wait for the lock. */
static pthread_mutex_t vp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhost_port *ports[VS_MAX_GUESTS];
static unsigned int nports;
/* vid -> port, set on new_connection (librte_vhost's vids are < RTE_MAX_VHOST_DEVICE). */
static struct vhost_port *by_vid[VHOST_PORT_MAX_VID];

static struct vhost_port *
port_of_vid(int vid)
{
	struct vhost_port *vp;

	if (vid < 0 || vid >= VHOST_PORT_MAX_VID)
		return NULL;
	pthread_mutex_lock(&vp_lock);
	vp = by_vid[vid];
	pthread_mutex_unlock(&vp_lock);
	return vp;
}

/* The vid of @vp's current frontend, or -1. */
static int
vhost_port_vid(struct vhost_port *vp)
{
	int vid;

	pthread_mutex_lock(&vp_lock);
	vid = vp->vid;
	pthread_mutex_unlock(&vp_lock);
	return vid;
}

static int
op_notify(void *drv, uint16_t qid)
{
	struct vhost_port *vp = drv;
	int ret = rte_vhost_vring_call_nonblock(vp->vid, qid);

	return ret == -EAGAIN ? -EAGAIN : 0;
}

static void
op_sync_bases(void *drv, const uint16_t last_avail[2], const uint16_t last_used[2])
{
	struct vhost_port *vp = drv;
	uint16_t q;

	for (q = 0; q < VSOCK_NUM_VQ; q++)
		rte_vhost_set_vring_base(vp->vid, q, last_avail[q], last_used[q]);
}

static void
op_info(void *drv, struct rte_tel_data *d)
{
	struct vhost_port *vp = drv;

	rte_tel_data_add_dict_string(d, "socket", vp->conf.socket);
	rte_tel_data_add_dict_int(d, "vhost_vid", vp->vid);
	rte_tel_data_add_dict_u64(d, "reconnect_grace_ms", vp->conf.reconnect_grace_ms);
}

static const struct vs_port_ops vhost_port_ops = {
	.notify = op_notify,
	.sync_bases = op_sync_bases,
	.info = op_info,
};

/* Messages librte_vhost does not answer the way a vsock frontend needs. */
static enum rte_vhost_msg_result
pre_msg(int vid, void *msg)
{
	struct vhost_port *vp = port_of_vid(vid);
	struct vhost_port_msg *m = msg;

	if (vp == NULL)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	if (vid != vhost_port_vid(vp)) {
		/* Pending (see cb_new_connection()): the first frontend lives on. */
		VS_LOG_RL(&vp->log_rl, ERR, "guest %" PRIu64 ": second frontend on %s refused",
			  vp->conf.cid, vp->conf.socket);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	/* A destroy_device from now until post_msg is the frontend's wish (driver
	 * stop, new memory table, reset), not a disconnect. A message that fails
	 * leaves the mark: the disconnect that follows is then a stop too. */
	vp->in_msg = true;
	switch (m->request) {
	case VHOST_PORT_GET_CONFIG: {
		uint8_t cfg[VHOST_PORT_CONFIG_SPACE];
		uint32_t off = m->config.offset, size = m->config.size;

		/* virtio_vsock_config: le64 guest_cid. */
		vsock_put_le64(cfg, vp->conf.cid);
		if (off > sizeof(cfg) || size > sizeof(cfg) - off ||
		    size > sizeof(m->config.region))
			return RTE_VHOST_MSG_RESULT_ERR;
		memcpy(m->config.region, cfg + off, size);
		m->size = (uint32_t)(offsetof(struct vhost_port_config, region) + size);
		vp->in_msg = false;
		return RTE_VHOST_MSG_RESULT_REPLY;
	}
	case VHOST_PORT_GET_QUEUE_NUM:
		m->u64 = VSOCK_NUM_VQ;
		m->size = sizeof(m->u64);
		vp->in_msg = false;
		return RTE_VHOST_MSG_RESULT_REPLY;
	default:
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	}
}

static enum rte_vhost_msg_result
post_msg(int vid, void *msg __rte_unused)
{
	struct vhost_port *vp = port_of_vid(vid);

	if (vp != NULL)
		vp->in_msg = false;
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static const struct rte_vhost_user_extern_ops extern_ops = {
	.pre_msg_handle = pre_msg,
	.post_msg_handle = post_msg,
};

static int destroy(struct vhost_port *vp);

static int
cb_new_connection(int vid)
{
	char path[PATH_MAX];
	unsigned int i;
	int ret = -1;

	/* Called from librte_vhost's threads (and from rte_vhost_driver_start() for a
	 * client that connects at once): the port list is read under vp_lock. */
	if (vid < 0 || vid >= VHOST_PORT_MAX_VID ||
	    rte_vhost_get_ifname(vid, path, sizeof(path)) != 0)
		return -1;
	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < nports; i++) {
		struct vhost_port *vp = ports[i];

		if (strcmp(vp->conf.socket, path) != 0)
			continue;
		/*
		 * A frontend that restarts may connect before librte_vhost has seen
		 * its old connection close (both events come in one poll round, the
		 * listener's first): the new one waits as pending and takes over in
		 * the old one's destroy_connection. If the old one lives on, the
		 * pending one's first message is refused (pre_msg).
		 */
		if (vp->vid >= 0 && vp->pending_vid >= 0) {
			VS_LOG_RL(&vp->log_rl, ERR,
				  "guest %" PRIu64 ": second frontend on %s refused",
				  vp->conf.cid, path);
			break;
		}
		by_vid[vid] = vp;
		if (rte_vhost_extern_callback_register(vid, &extern_ops, vp) != 0) {
			by_vid[vid] = NULL;
			break;
		}
		ret = 0;
		if (vp->vid >= 0) {
			vp->pending_vid = vid;
			break;
		}
		vp->vid = vid;
		vp->in_msg = false;
		vs_port_set_connected(vp->port, true);
		VS_LOG_RL(&vp->log_rl, INFO, "guest %" PRIu64 ": %s on %s", vp->conf.cid,
			  vp->conf.client ? "connected to the frontend" : "frontend connected",
			  path);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&vp_lock);
	return ret;
}

static void
cb_destroy_connection(int vid)
{
	struct vhost_port *vp = port_of_vid(vid);

	bool next;

	if (vp == NULL)
		return;
	pthread_mutex_lock(&vp_lock);
	by_vid[vid] = NULL;
	if (vid == vp->pending_vid) {
		/* A second frontend refused while the first lived on. */
		vp->pending_vid = -1;
		pthread_mutex_unlock(&vp_lock);
		return;
	}
	pthread_mutex_unlock(&vp_lock);
	vs_port_set_connected(vp->port, false);
	pthread_mutex_lock(&vp_lock);
	/* The frontend that connected while this one was going takes over. */
	vp->vid = vp->pending_vid;
	vp->pending_vid = -1;
	vp->in_msg = false;
	next = vp->vid >= 0;
	pthread_mutex_unlock(&vp_lock);
	if (next)
		vs_port_set_connected(vp->port, true);
	if (vs_port_suspended(vp->port))
		VS_LOG_RL(&vp->log_rl, NOTICE, "guest %" PRIu64 ": frontend disconnected; "
			  "its connections wait up to %u ms for it on %s", vp->conf.cid,
			  vp->conf.reconnect_grace_ms, vp->conf.socket);
	else if (vp->conf.client)
		VS_LOG_RL(&vp->log_rl, NOTICE, "guest %" PRIu64 ": frontend disconnected; "
			  "connecting to %s again every second", vp->conf.cid, vp->conf.socket);
	else
		VS_LOG_RL(&vp->log_rl, INFO, "guest %" PRIu64 ": frontend disconnected",
			  vp->conf.cid);
}

/* NUMA node of the guest's memory: that of its largest region's first page
 * (the kernel faults it in to answer), or -1. */
static int
guest_mem_node(const struct rte_vhost_memory *mem)
{
	const struct rte_vhost_mem_region *big = NULL;
	uint32_t i;
	int node = -1;

	for (i = 0; i < mem->nregions; i++)
		if (big == NULL || mem->regions[i].size > big->size)
			big = &mem->regions[i];
	if (big == NULL || big->host_user_addr == 0 ||
	    get_mempolicy(&node, NULL, 0, (void *)(uintptr_t)big->host_user_addr,
			  MPOL_F_NODE | MPOL_F_ADDR) != 0)
		return -1;
	return node;
}

/* Before the rings start: run the port on a worker of the guest's memory's node
 * (unless it was given an lcore). */
static void
place(struct vhost_port *vp, const struct rte_vhost_memory *mem)
{
	unsigned int before = vs_port_lcore(vp->port), after;
	int node = guest_mem_node(mem);

	after = vs_port_place(vp->port, node, vp->conf.lcore < RTE_MAX_LCORE);
	if (after != before)
		VS_LOG_RL(&vp->log_rl, INFO,
			  "guest %" PRIu64 ": memory on NUMA node %d, moved to lcore %u",
			  vp->conf.cid, node, after);
}

/* A frontend back within the reconnect grace: true if the suspended port
 * continues on @r. Otherwise (other memory or rings, grace over) whatever the
 * suspension kept is reset, and the caller starts the port afresh. Records
 * what identifies this device either way. */
static bool
resume(struct vhost_port *vp, const struct rte_vhost_memory *mem, const struct vs_port_rings *r)
{
	struct vhost_port_ident id;
	const char *why = NULL;
	bool was = vp->suspended;
	int ret;

	vp->suspended = false;
	ret = vhost_port_ident_get(mem, r, &id);
	if (ret != 0)
		memset(&id, 0, sizeof(id));
	if (was) {
		if (ret != 0)
			why = "its memory cannot be identified";
		else
			why = vhost_port_ident_differs(&vp->ident, &id);
		if (why == NULL && vs_port_resume(vp->port, r) == 0) {
			VS_LOG_RL(&vp->log_rl, NOTICE, "guest %" PRIu64 ": frontend came back with "
				  "the same memory and rings; connections continue", vp->conf.cid);
			return true;
		}
		if (why == NULL)
			why = "its reconnect grace was over";
		VS_LOG_RL(&vp->log_rl, NOTICE, "guest %" PRIu64 ": frontend came back with %s: "
			  "its kept connections are reset", vp->conf.cid, why);
		vs_port_unsuspend(vp->port);
	}
	vp->ident = id;
	/* Unidentifiable memory can never be resumed. */
	vp->ident.nregions = ret == 0 ? id.nregions : UINT32_MAX;
	return false;
}

static int
cb_new_device(int vid)
{
	struct vhost_port *vp = port_of_vid(vid);
	struct rte_vhost_memory *mem = NULL;
	struct vs_port_rings r;
	uint64_t features;
	uint32_t i;
	uint16_t q;
	int ret;

	if (vp == NULL || vid != vhost_port_vid(vp))
		return -1;
	memset(&r, 0, sizeof(r));
	if (rte_vhost_get_negotiated_features(vid, &features) != 0)
		return -1;
	r.event_idx = !!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	r.seqpacket = !!(features & (1ULL << VSOCK_F_SEQPACKET));
	if (rte_vhost_get_mem_table(vid, &mem) != 0)
		return -1;
	if (mem->nregions > VIRTQ_MAX_REGIONS) {
		VS_LOG_RL(&vp->log_rl, ERR, "guest %" PRIu64 ": %u memory regions, at most %u",
			  vp->conf.cid, mem->nregions, VIRTQ_MAX_REGIONS);
		free(mem);
		return -1;
	}
	r.mem.nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		r.mem.regions[i].gpa = mem->regions[i].guest_phys_addr;
		r.mem.regions[i].size = mem->regions[i].size;
		r.mem.regions[i].hva = mem->regions[i].host_user_addr;
	}
	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		struct rte_vhost_vring vr;

		if (rte_vhost_get_vhost_vring(vid, q, &vr) != 0 ||
		    rte_vhost_get_vring_base(vid, q, &r.last_avail[q], &r.last_used[q]) != 0) {
			free(mem);
			return -1;
		}
		r.desc[q] = vr.desc;
		r.avail[q] = vr.avail;
		r.used[q] = vr.used;
		r.size[q] = vr.size;
	}
	if (resume(vp, mem, &r)) {
		free(mem);
		return 0;
	}
	place(vp, mem);
	free(mem);
	ret = vs_port_start(vp->port, &r);
	if (ret != 0) {
		VS_LOG_RL(&vp->log_rl, ERR, "guest %" PRIu64 ": rings refused: %s", vp->conf.cid,
			  strerror(-ret));
		return -1;
	}
	VS_LOG_RL(&vp->log_rl, INFO,
		  "guest %" PRIu64 ": driver started (rings %u/%u, event_idx %d, seqpacket %d)",
		  vp->conf.cid, r.size[0], r.size[1], r.event_idx, r.seqpacket);
	return 0;
}

static void
cb_destroy_device(int vid)
{
	struct vhost_port *vp = port_of_vid(vid);

	if (vp == NULL || vid != vhost_port_vid(vp))
		return;
	/* Outside a message, librte_vhost destroys the device because the
	 * connection went: with a reconnect grace, the guest may come back. */
	if (vp->conf.reconnect_grace_ms > 0 && !vp->in_msg &&
	    !__atomic_load_n(&vp->deleting, __ATOMIC_ACQUIRE) &&
	    vs_port_state_get(vp->port) == VS_PORT_RUNNING) {
		vp->suspended = vs_port_suspend(vp->port, vp->conf.reconnect_grace_ms);
		if (vp->suspended)
			return;
	}
	vs_port_stop(vp->port);
	VS_LOG_RL(&vp->log_rl, INFO, "guest %" PRIu64 ": driver stopped", vp->conf.cid);
}

static const struct rte_vhost_device_ops device_ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.new_connection = cb_new_connection,
	.destroy_connection = cb_destroy_connection,
};

static struct vhost_port *
find_cid(uint64_t cid)
{
	unsigned int i;

	for (i = 0; i < nports; i++)
		if (ports[i]->conf.cid == cid)
			return ports[i];
	return NULL;
}

bool
vhost_port_socket_used(const char *path)
{
	unsigned int i;
	bool used = false;

	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < nports && !used; i++)
		used = strcmp(ports[i]->conf.socket, path) == 0;
	pthread_mutex_unlock(&vp_lock);
	return used;
}

/*
 * Stop listening on @path; a live frontend is detached: librte_vhost calls
 * destroy_device (rings stopped) on this thread, but not destroy_connection.
 * In 22.11 (and up to 24.11) the call retries by itself while a callback runs on
 * the socket or one of its connections (fdset_try_del() busy): never call it
 * from a librte_vhost callback, it would wait for itself. It fails only for a
 * path it does not know.
 */
static void
unregister(const char *path)
{
	if (rte_vhost_driver_unregister(path) != 0)
		VS_LOG(ERR, "%s: librte_vhost does not know the socket", path);
}

int
vhost_port_create(const struct vhost_port_conf *conf)
{
	struct vhost_port *vp;
	const char *path = conf->socket;
	uint64_t flags = conf->client ? RTE_VHOST_USER_CLIENT : 0;
	int ret;

	pthread_mutex_lock(&vp_lock);
	ret = nports >= VS_MAX_GUESTS ? -ENOSPC : find_cid(conf->cid) != NULL ? -EEXIST : 0;
	pthread_mutex_unlock(&vp_lock);
	if (ret == 0 && vhost_port_socket_used(path))
		ret = -EADDRINUSE;
	if (ret < 0)
		return ret;
	/* A client socket belongs to the frontend: nothing to claim. */
	if (!conf->client) {
		ret = vs_sockpath_claim(path);
		if (ret < 0)
			return ret;
	}
	vp = calloc(1, sizeof(*vp));
	if (vp == NULL)
		return -ENOMEM;
	vp->conf = *conf;
	vp->vid = -1;
	vp->pending_vid = -1;
	vp->port = vs_port_add(conf->cid, conf->lcore, &vhost_port_ops, vp);
	if (vp->port == NULL) {
		ret = -errno;
		free(vp);
		return ret;
	}
	/* Listed before librte_vhost may call back (cb_new_connection looks here; a
	 * client may connect inside rte_vhost_driver_start()). */
	pthread_mutex_lock(&vp_lock);
	ports[nports++] = vp;
	pthread_mutex_unlock(&vp_lock);
	if (rte_vhost_driver_register(path, flags) != 0) {
		ret = -EINVAL;
		goto fail;
	}
	vp->registered = true;
	if (rte_vhost_driver_set_features(path, VHOST_PORT_FEATURES) != 0 ||
	    rte_vhost_driver_set_protocol_features(path, VHOST_PORT_PROTOCOL_FEATURES) != 0 ||
	    rte_vhost_driver_callback_register(path, &device_ops) != 0) {
		ret = -EINVAL;
		goto fail;
	}
	if (rte_vhost_driver_start(path) != 0) {
		ret = -EIO;
		goto fail;
	}
	if (conf->client && !vhost_port_attached(conf->cid))
		VS_LOG(NOTICE, "guest %" PRIu64 ": no frontend listening on %s yet; "
		       "connecting again every second", conf->cid, path);
	return 0;
fail:
	destroy(vp);
	return ret;
}

/* Take @vp out of the tables, stop librte_vhost's use of it, delete its port. */
static int
destroy(struct vhost_port *vp)
{
	unsigned int i;
	int ret;

	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < nports; i++) {
		if (ports[i] == vp) {
			ports[i] = ports[--nports];
			break;
		}
	}
	__atomic_store_n(&vp->deleting, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vp_lock);
	/* A frontend still attached gets destroy_device (rings stopped) but no
	 * destroy_connection: its vid is forgotten below. */
	if (vp->registered)
		unregister(vp->conf.socket);
	/* A client's socket is the frontend's. */
	if (!vp->conf.client)
		unlink(vp->conf.socket);
	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < VHOST_PORT_MAX_VID; i++)
		if (by_vid[i] == vp)
			by_vid[i] = NULL;
	vp->vid = -1;
	vp->pending_vid = -1;
	pthread_mutex_unlock(&vp_lock);
	ret = vs_port_del(vp->port);
	/* -ESHUTDOWN: the switch frees the port itself; the driver data goes. */
	free(vp);
	return ret;
}

bool
vhost_port_attached(uint64_t cid)
{
	struct vhost_port *vp;
	bool attached;

	pthread_mutex_lock(&vp_lock);
	vp = find_cid(cid);
	attached = vp != NULL && vp->vid >= 0;
	pthread_mutex_unlock(&vp_lock);
	return attached;
}

int
vhost_port_delete(uint64_t cid)
{
	struct vhost_port *vp;

	pthread_mutex_lock(&vp_lock);
	vp = find_cid(cid);
	pthread_mutex_unlock(&vp_lock);
	if (vp == NULL)
		return -ENOENT;
	VS_LOG(INFO, "guest %" PRIu64 ": deleting (socket %s)", cid, vp->conf.socket);
	return destroy(vp);
}

void
vhost_port_foreach(void (*fn)(const struct vhost_port_conf *conf, const struct vs_port *p,
			      void *arg), void *arg)
{
	unsigned int i;

	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < nports; i++)
		fn(&ports[i]->conf, ports[i]->port, arg);
	pthread_mutex_unlock(&vp_lock);
}

void
vhost_port_destroy_all(void)
{
	unsigned int i;

	pthread_mutex_lock(&vp_lock);
	for (i = 0; i < nports; i++) {
		struct vhost_port *vp = ports[i];

		__atomic_store_n(&vp->deleting, true, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&vp_lock);
		rte_vhost_driver_unregister(vp->conf.socket);
		/* A client's socket is the frontend's. */
		if (!vp->conf.client)
			unlink(vp->conf.socket);
		free(vp);
		pthread_mutex_lock(&vp_lock);
	}
	nports = 0;
	memset(by_vid, 0, sizeof(by_vid));
	pthread_mutex_unlock(&vp_lock);
}
