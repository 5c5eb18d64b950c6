/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Frontend side of vhost-user, in the order QEMU 7.2's vhost-user-vsock-pci
 * sends it: device init (owner, features, protocol features, config) when the
 * guest is created, device start (features, memory table, vrings, enable) when
 * the guest driver starts, and SET_VRING_ENABLE 0 + GET_VRING_BASE on stop.
 * Ring addresses are this process's virtual addresses (the "userspace_addr"
 * space of the memory table); descriptors carry guest physical addresses.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "emu_guest_pvt.h"

#define EMU_VU_IO_TIMEOUT_S 5

/* Virtio features a Linux 6.1 guest with QEMU 7.2's vhost-user-vsock accepts. */
#define EMU_GUEST_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | \
			    (1ULL << VSOCK_F_SEQPACKET) | \
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			    (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
			    (1ULL << EMU_VU_F_PROTOCOL_FEATURES))

#define EMU_GUEST_PROTOCOL_FEATURES ((1ULL << EMU_VU_PROTOCOL_F_MQ) | \
				     (1ULL << EMU_VU_PROTOCOL_F_REPLY_ACK) | \
				     (1ULL << EMU_VU_PROTOCOL_F_CONFIG))

static const char *
emu_vu_name(uint32_t req)
{
	switch (req) {
	case EMU_VU_GET_FEATURES: return "GET_FEATURES";
	case EMU_VU_SET_FEATURES: return "SET_FEATURES";
	case EMU_VU_SET_OWNER: return "SET_OWNER";
	case EMU_VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case EMU_VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case EMU_VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case EMU_VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case EMU_VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case EMU_VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case EMU_VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case EMU_VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case EMU_VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case EMU_VU_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case EMU_VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	case EMU_VU_GET_CONFIG: return "GET_CONFIG";
	default: return "?";
	}
}

int
emu_vu_connect(struct emu_guest *g)
{
	struct timeval tv = { .tv_sec = EMU_VU_IO_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = emu_now_ns() + (uint64_t)g->o.connect_timeout_ms * 1000000;
	int fd, err;

	if (strlen(g->o.socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, g->o.socket_path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		err = errno;
		close(fd);
		if ((err != ENOENT && err != ECONNREFUSED) || emu_now_ns() >= deadline) {
			emu_log(g, "connect %s: %s", g->o.socket_path, strerror(err));
			return err == ENOENT || err == ECONNREFUSED ? -ETIMEDOUT : -err;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	g->sock = fd;
	return 0;
}

static int
emu_vu_send(struct emu_guest *g, const struct emu_vu_msg *m, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * EMU_VU_MAX_REGIONS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = EMU_VU_HDR_LEN + m->size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(g->sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len) {
		emu_log(g, "send %s: %s", emu_vu_name(m->request),
			n < 0 ? strerror(errno) : "short");
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

static int
emu_vu_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		got += n;
	}
	return 0;
}

static int
emu_vu_recv_reply(struct emu_guest *g, uint32_t request, struct emu_vu_msg *r)
{
	int ret;

	ret = emu_vu_read_all(g->sock, r, EMU_VU_HDR_LEN);
	if (ret == 0 && (r->request != request ||
			 (r->flags & (EMU_VU_FLAG_REPLY | EMU_VU_VERSION_MASK)) !=
			 (EMU_VU_FLAG_REPLY | EMU_VU_VERSION) ||
			 r->size > sizeof(r->payload)))
		ret = -EPROTO;
	if (ret == 0)
		ret = emu_vu_read_all(g->sock, &r->payload, r->size);
	if (ret < 0)
		emu_log(g, "reply to %s: %s (request %u flags %#x size %u)", emu_vu_name(request),
			strerror(-ret), r->request, r->flags, r->size);
	return ret;
}

/* A request the backend answers (GET_*): @m is replaced by the reply. */
static int
emu_vu_get(struct emu_guest *g, struct emu_vu_msg *m)
{
	uint32_t req = m->request;
	int ret;

	m->flags = EMU_VU_VERSION;
	ret = emu_vu_send(g, m, NULL, 0);
	return ret < 0 ? ret : emu_vu_recv_reply(g, req, m);
}

/* A set-type request; with REPLY_ACK, wait for the backend's status. */
static int
emu_vu_set(struct emu_guest *g, struct emu_vu_msg *m, const int *fds, int nfds)
{
	struct emu_vu_msg r;
	int ret;

	m->flags = EMU_VU_VERSION | (g->reply_ack ? EMU_VU_FLAG_NEED_REPLY : 0);
	ret = emu_vu_send(g, m, fds, nfds);
	if (ret < 0 || !g->reply_ack)
		return ret;
	ret = emu_vu_recv_reply(g, m->request, &r);
	if (ret < 0)
		return ret;
	if (r.size != sizeof(uint64_t))
		return -EPROTO;
	if (r.payload.u64 != 0) {
		emu_log(g, "%s refused by the backend (%#llx)", emu_vu_name(m->request),
			(unsigned long long)r.payload.u64);
		return -EIO;
	}
	return 0;
}

static int
emu_vu_get_u64(struct emu_guest *g, uint32_t req, uint64_t *v)
{
	struct emu_vu_msg m = { .request = req };
	int ret = emu_vu_get(g, &m);

	if (ret == 0 && m.size != sizeof(uint64_t))
		ret = -EPROTO;
	if (ret == 0)
		*v = m.payload.u64;
	return ret;
}

static int
emu_vu_set_u64(struct emu_guest *g, uint32_t req, uint64_t v)
{
	struct emu_vu_msg m = { .request = req, .size = sizeof(uint64_t), .payload.u64 = v };

	return emu_vu_set(g, &m, NULL, 0);
}

static int
emu_vu_set_state(struct emu_guest *g, uint32_t req, uint32_t index, uint32_t num)
{
	struct emu_vu_msg m = {
		.request = req,
		.size = sizeof(struct emu_vu_vring_state),
		.payload.state = { .index = index, .num = num },
	};

	return emu_vu_set(g, &m, NULL, 0);
}

static int
emu_vu_set_vring_fd(struct emu_guest *g, uint32_t req, uint32_t index, int fd)
{
	struct emu_vu_msg m = { .request = req, .size = sizeof(uint64_t), .payload.u64 = index };

	return emu_vu_set(g, &m, &fd, 1);
}

static int
emu_vu_get_cid(struct emu_guest *g)
{
	struct emu_vu_msg m = {
		.request = EMU_VU_GET_CONFIG,
		.size = EMU_VU_CONFIG_HDR_LEN + EMU_VSOCK_CONFIG_LEN,
		.payload.cfg = { .offset = 0, .size = EMU_VSOCK_CONFIG_LEN, .flags = 0 },
	};
	int ret = emu_vu_get(g, &m);

	if (ret < 0)
		return ret;
	if (m.size != EMU_VU_CONFIG_HDR_LEN + EMU_VSOCK_CONFIG_LEN ||
	    m.payload.cfg.size != EMU_VSOCK_CONFIG_LEN) {
		emu_log(g, "GET_CONFIG: reply of %u bytes, config size %u", m.size,
			m.size >= EMU_VU_CONFIG_HDR_LEN ? m.payload.cfg.size : 0);
		return -EPROTO;
	}
	g->cid = vsock_get_le64(m.payload.cfg.region);
	if (!vsock_cid_is_guest(g->cid)) {
		emu_log(g, "GET_CONFIG: CID %llu is not a guest CID", (unsigned long long)g->cid);
		return -EPROTO;
	}
	return 0;
}

/* Device init, as QEMU does when the vhost-user-vsock device is realized. */
int
emu_vu_handshake(struct emu_guest *g)
{
	uint64_t pf, qnum;
	int ret;

	g->reply_ack = false;
	ret = emu_vu_set(g, &(struct emu_vu_msg){ .request = EMU_VU_SET_OWNER }, NULL, 0);
	if (ret < 0)
		return ret;
	ret = emu_vu_get_u64(g, EMU_VU_GET_FEATURES, &g->backend_features);
	if (ret < 0)
		return ret;
	if (!(g->backend_features & (1ULL << EMU_VU_F_PROTOCOL_FEATURES)) ||
	    !(g->backend_features & (1ULL << VIRTIO_F_VERSION_1))) {
		emu_log(g, "backend features %#llx lack PROTOCOL_FEATURES or VERSION_1",
			(unsigned long long)g->backend_features);
		return -ENOTSUP;
	}
	ret = emu_vu_get_u64(g, EMU_VU_GET_PROTOCOL_FEATURES, &pf);
	if (ret < 0)
		return ret;
	if (!(pf & (1ULL << EMU_VU_PROTOCOL_F_CONFIG))) {
		emu_log(g, "backend protocol features %#llx lack CONFIG", (unsigned long long)pf);
		return -ENOTSUP;
	}
	g->protocol_features = pf & EMU_GUEST_PROTOCOL_FEATURES;
	ret = emu_vu_set_u64(g, EMU_VU_SET_PROTOCOL_FEATURES, g->protocol_features);
	if (ret < 0)
		return ret;
	g->reply_ack = g->protocol_features & (1ULL << EMU_VU_PROTOCOL_F_REPLY_ACK);
	if (g->protocol_features & (1ULL << EMU_VU_PROTOCOL_F_MQ)) {
		ret = emu_vu_get_u64(g, EMU_VU_GET_QUEUE_NUM, &qnum);
		if (ret < 0)
			return ret;
		if (qnum < VSOCK_NUM_VQ) {
			emu_log(g, "backend has %llu queues", (unsigned long long)qnum);
			return -EPROTO;
		}
	}
	return emu_vu_get_cid(g);
}

static int
emu_vu_set_mem_table(struct emu_guest *g)
{
	struct emu_vu_msg m = { .request = EMU_VU_SET_MEM_TABLE };
	int fds[EMU_VU_MAX_REGIONS];
	int i;

	m.payload.mem.nregions = g->mem.nregions;
	for (i = 0; i < g->mem.nregions; i++) {
		const struct emu_mem_region *r = &g->mem.r[i];

		m.payload.mem.regions[i] = (struct emu_vu_region){
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
			.mmap_offset = r->offset,
		};
		fds[i] = g->mem.fd;
	}
	m.size = 8 + sizeof(struct emu_vu_region) * g->mem.nregions;
	return emu_vu_set(g, &m, fds, g->mem.nregions);
}

static int
emu_vu_setup_vring(struct emu_guest *g, uint32_t i)
{
	struct emu_vring *vr = &g->vq[i];
	struct emu_vu_msg m = {
		.request = EMU_VU_SET_VRING_ADDR,
		.size = sizeof(struct emu_vu_vring_addr),
		.payload.addr = {
			.index = i,
			.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
			.used_user_addr = (uint64_t)(uintptr_t)vr->used,
			.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
		},
	};
	int ret;

	ret = emu_vu_set_state(g, EMU_VU_SET_VRING_NUM, i, vr->num);
	if (ret == 0)
		ret = emu_vu_set(g, &m, NULL, 0);
	/* Where the device is to go on: 0 after a reset, and after a frontend
	 * restart what the device last published (it completes in order). */
	if (ret == 0)
		ret = emu_vu_set_state(g, EMU_VU_SET_VRING_BASE, i,
				       __atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE));
	if (ret == 0)
		ret = emu_vu_set_vring_fd(g, EMU_VU_SET_VRING_KICK, i, vr->kickfd);
	if (ret == 0)
		ret = emu_vu_set_vring_fd(g, EMU_VU_SET_VRING_CALL, i, vr->callfd);
	return ret;
}

/* Device start, as QEMU does when the guest driver sets DRIVER_OK (rings not enabled yet). */
int
emu_vu_start_device(struct emu_guest *g)
{
	uint32_t i;
	int ret;

	ret = emu_vu_set_u64(g, EMU_VU_SET_FEATURES, g->features);
	if (ret == 0)
		ret = emu_vu_set_mem_table(g);
	for (i = 0; ret == 0 && i < VSOCK_NUM_VQ; i++)
		ret = emu_vu_setup_vring(g, i);
	return ret;
}

int
emu_vu_enable_rings(struct emu_guest *g, bool enable)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < VSOCK_NUM_VQ; i++)
		ret = emu_vu_set_state(g, EMU_VU_SET_VRING_ENABLE, i, enable);
	return ret;
}

int
emu_vu_get_vring_base(struct emu_guest *g, uint32_t index, uint32_t *base)
{
	struct emu_vu_msg m = {
		.request = EMU_VU_GET_VRING_BASE,
		.size = sizeof(struct emu_vu_vring_state),
		.payload.state = { .index = index },
	};
	int ret = emu_vu_get(g, &m);

	if (ret == 0 && (m.size != sizeof(struct emu_vu_vring_state) ||
			 m.payload.state.index != index))
		ret = -EPROTO;
	if (ret == 0)
		*base = m.payload.state.num;
	return ret;
}

/* Features the guest asks for: what it wants, what the backend offers, minus what it refuses. */
uint64_t
emu_vu_wanted_features(const struct emu_guest *g)
{
	return g->backend_features & EMU_GUEST_FEATURES & ~g->o.features_clear;
}
