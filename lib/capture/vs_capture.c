/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "vs_capture.h"
#include "vsock_proto.h"

#define CAP_RING_SIZE 4096
#define CAP_POOL_SIZE 8191
#define CAP_SEG_DATA 4096
#define CAP_WRITER_BURST 64
#define CAP_MAX_RECORD (VSOCK_MAX_PKT_PAYLOAD + VS_CAPTURE_MON_HDR_LEN + VSOCK_HDR_LEN)

/* af_vsockmon header values (linux/vsockmon.h). */
enum { MON_OP_UNKNOWN = 0, MON_OP_CONNECT, MON_OP_DISCONNECT, MON_OP_CONTROL, MON_OP_PAYLOAD };
#define MON_TRANSPORT_VIRTIO 2

/* In front of each record in its mbuf chain. */
struct cap_meta {
	uint64_t tsc;
	uint32_t orig_len; /* record length before the snap */
	uint32_t caplen; /* bytes of record that follow */
};

volatile bool vs_capture_on;

static struct {
	pthread_mutex_t lock; /* start/stop against each other */
	bool running;
	bool stop_writer;
	pthread_t writer;
	pcap_t *pcap;
	pcap_dumper_t *dumper;
	struct rte_ring *ring;
	struct rte_mempool *pool;
	char file[256];
	uint64_t cid;
	uint32_t snaplen;
	uint64_t tsc0;
	struct timeval tv0;
	uint64_t hz;
	struct vs_capture_stats stats;
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint16_t
mon_op(uint16_t op)
{
	switch (op) {
	case VSOCK_OP_REQUEST:
	case VSOCK_OP_RESPONSE:
		return MON_OP_CONNECT;
	case VSOCK_OP_RST:
	case VSOCK_OP_SHUTDOWN:
		return MON_OP_DISCONNECT;
	case VSOCK_OP_CREDIT_UPDATE:
	case VSOCK_OP_CREDIT_REQUEST:
		return MON_OP_CONTROL;
	case VSOCK_OP_RW:
		return MON_OP_PAYLOAD;
	default:
		return MON_OP_UNKNOWN;
	}
}

/* Copy @len bytes into the chain from byte @off of the record. */
static void
chain_write(struct rte_mbuf *m, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	while (m != NULL && len > 0) {
		if (off >= CAP_SEG_DATA) {
			off -= CAP_SEG_DATA;
			m = m->next;
			continue;
		}
		uint32_t chunk = RTE_MIN(len, (uint32_t)CAP_SEG_DATA - off);

		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, off), s, chunk);
		s += chunk;
		len -= chunk;
		off = 0;
		m = m->next;
	}
}

void
vs_capture_record(const uint8_t *wire, const struct virtq_iov *iov, unsigned int niov,
		  uint32_t soff, uint32_t len)
{
	struct rte_mbuf *segs[CAP_MAX_RECORD / CAP_SEG_DATA + 2];
	uint8_t mon[VS_CAPTURE_MON_HDR_LEN] = { 0 };
	uint64_t src = vsock_get_le64(wire + VSOCK_OFF_SRC_CID);
	uint64_t dst = vsock_get_le64(wire + VSOCK_OFF_DST_CID);
	uint32_t orig = VS_CAPTURE_MON_HDR_LEN + VSOCK_HDR_LEN + len;
	uint32_t caplen = RTE_MIN(orig, cap.snaplen);
	uint32_t total = sizeof(struct cap_meta) + caplen, done, i, nseg;
	struct cap_meta meta;

	if (!vs_capture_on || (cap.cid != 0 && src != cap.cid && dst != cap.cid))
		return;
	nseg = (total + CAP_SEG_DATA - 1) / CAP_SEG_DATA;
	if (nseg > RTE_DIM(segs) || rte_pktmbuf_alloc_bulk(cap.pool, segs, nseg) != 0)
		goto drop;
	for (i = 0; i < nseg; i++) {
		segs[i]->data_len = (uint16_t)RTE_MIN(total - i * CAP_SEG_DATA,
						      (uint32_t)CAP_SEG_DATA);
		segs[i]->next = i + 1 < nseg ? segs[i + 1] : NULL;
	}
	segs[0]->nb_segs = (uint16_t)nseg;
	segs[0]->pkt_len = total;

	meta = (struct cap_meta){ .tsc = rte_rdtsc(), .orig_len = orig, .caplen = caplen };
	vsock_put_le64(mon + 0, src);
	vsock_put_le64(mon + 8, dst);
	memcpy(mon + 16, wire + VSOCK_OFF_SRC_PORT, 4);
	memcpy(mon + 20, wire + VSOCK_OFF_DST_PORT, 4);
	vsock_put_le16(mon + 24, mon_op(vsock_get_le16(wire + VSOCK_OFF_OP)));
	vsock_put_le16(mon + 26, MON_TRANSPORT_VIRTIO);
	vsock_put_le16(mon + 28, VSOCK_HDR_LEN);

	chain_write(segs[0], 0, &meta, sizeof(meta));
	done = sizeof(meta);
	chain_write(segs[0], done, mon, RTE_MIN((uint32_t)sizeof(mon), caplen));
	if (caplen > sizeof(mon))
		chain_write(segs[0], done + sizeof(mon), wire,
			    RTE_MIN((uint32_t)VSOCK_HDR_LEN, caplen - (uint32_t)sizeof(mon)));
	if (caplen > sizeof(mon) + VSOCK_HDR_LEN) {
		uint32_t want = caplen - (uint32_t)sizeof(mon) - VSOCK_HDR_LEN;
		uint32_t off = done + (uint32_t)sizeof(mon) + VSOCK_HDR_LEN;
		unsigned int k;
		uint32_t skip = soff;

		/* Payload, piece by piece, into the chain. */
		for (k = 0; k < niov && want > 0; k++) {
			uint32_t chunk;

			if (skip >= iov[k].len) {
				skip -= iov[k].len;
				continue;
			}
			chunk = RTE_MIN(iov[k].len - skip, want);
			chain_write(segs[0], off, iov[k].base + skip, chunk);
			off += chunk;
			want -= chunk;
			skip = 0;
		}
	}
	if (rte_ring_mp_enqueue(cap.ring, segs[0]) == 0)
		return;
	rte_pktmbuf_free(segs[0]);
drop:
	__atomic_fetch_add(&cap.stats.dropped, 1, __ATOMIC_RELAXED);
}

static void
write_record(struct rte_mbuf *m, uint8_t *buf)
{
	struct pcap_pkthdr ph;
	struct cap_meta meta;
	const void *p;
	uint64_t us;

	p = rte_pktmbuf_read(m, 0, sizeof(meta), &meta);
	if (p == NULL)
		return;
	if (p != &meta)
		memcpy(&meta, p, sizeof(meta));
	if (meta.caplen > CAP_MAX_RECORD || m->pkt_len < sizeof(meta) + meta.caplen)
		return;
	p = rte_pktmbuf_read(m, sizeof(meta), meta.caplen, buf);
	if (p == NULL)
		return;
	us = (meta.tsc - cap.tsc0) * 1000000ULL / cap.hz;
	ph.ts.tv_sec = cap.tv0.tv_sec + (time_t)((cap.tv0.tv_usec + us) / 1000000);
	ph.ts.tv_usec = (suseconds_t)((cap.tv0.tv_usec + us) % 1000000);
	ph.caplen = meta.caplen;
	ph.len = meta.orig_len;
	pcap_dump((u_char *)cap.dumper, &ph, p);
	cap.stats.captured++;
	cap.stats.bytes += meta.caplen;
}

static void *
writer_main(void *arg __rte_unused)
{
	static uint8_t buf[CAP_MAX_RECORD];
	struct rte_mbuf *m[CAP_WRITER_BURST];
	unsigned int idle = 0;

	for (;;) {
		unsigned int i, n = rte_ring_sc_dequeue_burst(cap.ring, (void **)m,
							      CAP_WRITER_BURST, NULL);

		for (i = 0; i < n; i++) {
			write_record(m[i], buf);
			rte_pktmbuf_free(m[i]);
		}
		if (n > 0) {
			idle = 0;
			continue;
		}
		if (__atomic_load_n(&cap.stop_writer, __ATOMIC_ACQUIRE))
			break;
		if (++idle == 100)
			pcap_dump_flush(cap.dumper);
		usleep(1000);
	}
	pcap_dump_flush(cap.dumper);
	return NULL;
}

static void
release(void)
{
	if (cap.dumper != NULL)
		pcap_dump_close(cap.dumper);
	if (cap.pcap != NULL)
		pcap_close(cap.pcap);
	rte_ring_free(cap.ring);
	rte_mempool_free(cap.pool);
	cap.dumper = NULL;
	cap.pcap = NULL;
	cap.ring = NULL;
	cap.pool = NULL;
}

int
vs_capture_start(const struct vs_capture_conf *conf)
{
	int ret = 0;

	if (conf->file == NULL || conf->file[0] == '\0' || strlen(conf->file) >= sizeof(cap.file))
		return -EINVAL;
	if (conf->snaplen != 0 && conf->snaplen < VS_CAPTURE_MON_HDR_LEN + VSOCK_HDR_LEN)
		return -EINVAL;
	pthread_mutex_lock(&cap.lock);
	if (cap.running) {
		ret = -EBUSY;
		goto out;
	}
	memset(&cap.stats, 0, sizeof(cap.stats));
	cap.snaplen = conf->snaplen != 0 ? RTE_MIN(conf->snaplen, (uint32_t)CAP_MAX_RECORD) :
					   VS_CAPTURE_DEFAULT_SNAPLEN;
	cap.cid = conf->cid;
	strcpy(cap.file, conf->file);
	cap.pcap = pcap_open_dead(VS_CAPTURE_LINKTYPE, (int)cap.snaplen);
	if (cap.pcap == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	cap.dumper = pcap_dump_open(cap.pcap, conf->file);
	if (cap.dumper == NULL) {
		ret = errno != 0 ? -errno : -EIO;
		release();
		goto out;
	}
	cap.ring = rte_ring_create("vs_cap_ring", CAP_RING_SIZE, SOCKET_ID_ANY, RING_F_SC_DEQ);
	cap.pool = rte_pktmbuf_pool_create("vs_cap_pool", CAP_POOL_SIZE, 64, 0,
					   RTE_PKTMBUF_HEADROOM + CAP_SEG_DATA, SOCKET_ID_ANY);
	if (cap.ring == NULL || cap.pool == NULL) {
		ret = -ENOMEM;
		release();
		goto out;
	}
	cap.hz = rte_get_tsc_hz();
	gettimeofday(&cap.tv0, NULL);
	cap.tsc0 = rte_rdtsc();
	cap.stop_writer = false;
	if (pthread_create(&cap.writer, NULL, writer_main, NULL) != 0) {
		ret = -EAGAIN;
		release();
		goto out;
	}
	pthread_setname_np(cap.writer, "vs-capture");
	cap.running = true;
	__atomic_store_n(&vs_capture_on, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&cap.lock);
	return ret;
}

int
vs_capture_stop(void)
{
	pthread_mutex_lock(&cap.lock);
	if (!cap.running) {
		pthread_mutex_unlock(&cap.lock);
		return -ENOENT;
	}
	__atomic_store_n(&cap.stop_writer, true, __ATOMIC_RELEASE);
	pthread_join(cap.writer, NULL);
	release();
	cap.running = false;
	pthread_mutex_unlock(&cap.lock);
	return 0;
}

void
vs_capture_stats_get(struct vs_capture_stats *s)
{
	s->captured = cap.stats.captured;
	s->bytes = cap.stats.bytes;
	s->dropped = __atomic_load_n(&cap.stats.dropped, __ATOMIC_RELAXED);
}

bool
vs_capture_info(char *file, unsigned int len, uint64_t *cid, uint32_t *snaplen)
{
	bool on;

	pthread_mutex_lock(&cap.lock);
	on = cap.running;
	if (file != NULL && len > 0)
		snprintf(file, len, "%s", cap.file);
	if (cid != NULL)
		*cid = cap.cid;
	if (snaplen != NULL)
		*snaplen = cap.snaplen;
	pthread_mutex_unlock(&cap.lock);
	return on;
}
