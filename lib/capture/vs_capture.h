/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_CAPTURE_H
#define VS_CAPTURE_H

/**
 * @file
 * Capture of vsock packets to a pcap file that Wireshark and tshark read.
 *
 * Records use LINKTYPE_VSOCK (271): the 32-byte af_vsockmon header Linux's
 * vsockmon device produces, then the 44-byte virtio-vsock header, then payload,
 * cut at the snap length. libpcap writes them (rte_pcapng 22.11 cannot set this
 * link type).
 *
 * The data path only copies: vs_capture_packet() takes a record from the
 * capture's own mempool (the switch's packet pool is never touched), copies
 * header and payload into it and enqueues it on a ring. A control thread takes
 * the records off the ring and writes the file. A full ring or an empty pool
 * drops the record and counts it; the switch never waits for the disk.
 * When no capture runs, the cost on the data path is one load and one branch
 * per packet (4 instructions, measured: doc/telemetry.rst).
 */

#include <stdbool.h>
#include <stdint.h>

#include "virtq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** pcap link type of the records. */
#define VS_CAPTURE_LINKTYPE 271
/** Size of the af_vsockmon header. */
#define VS_CAPTURE_MON_HDR_LEN 32
/** Default snap length: a whole 64 KiB packet with its headers. */
#define VS_CAPTURE_DEFAULT_SNAPLEN (65536 + 32 + 44)

/** Settings of a capture. */
struct vs_capture_conf {
	const char *file; /**< pcap file to write (truncated) */
	uint64_t cid; /**< only packets from or to this CID; 0 for all */
	uint32_t snaplen; /**< bytes kept of each record; 0 for the default */
};

/** Counters of the running (or last) capture. */
struct vs_capture_stats {
	uint64_t captured; /**< records written to the file */
	uint64_t dropped; /**< records lost: ring full or pool empty */
	uint64_t bytes; /**< bytes written, records' headers included */
};

/** True while a capture runs (read on the data path). */
extern volatile bool vs_capture_on;

/**
 * Start capturing. Called from the control plane.
 * @return 0; -EBUSY if one runs; -EINVAL for a bad setting; -errno if the file
 *   cannot be created.
 */
int vs_capture_start(const struct vs_capture_conf *conf);

/**
 * Stop capturing: after it returns no packet is added, everything queued is in
 * the file and the file is closed. The caller makes sure no data-path thread is
 * still inside vs_capture_packet() (an RCU grace period).
 * @return 0, or -ENOENT if none runs.
 */
int vs_capture_stop(void);

/** Counters of the current or last capture. */
void vs_capture_stats_get(struct vs_capture_stats *s);

/** True if a capture runs; and its file name, CID filter and snap length. */
bool vs_capture_info(char *file, unsigned int len, uint64_t *cid, uint32_t *snaplen);

/**
 * Capture one packet (any thread; multi-producer).
 *
 * @param wire
 *   The 44-byte virtio-vsock header as on the wire.
 * @param iov, niov, soff
 *   Payload: @p len bytes from offset @p soff of the pieces.
 */
void vs_capture_record(const uint8_t *wire, const struct virtq_iov *iov, unsigned int niov,
		       uint32_t soff, uint32_t len);

/** Data-path entry: vs_capture_record() if a capture runs. */
static inline void
vs_capture_packet(const uint8_t *wire, const struct virtq_iov *iov, unsigned int niov,
		  uint32_t soff, uint32_t len)
{
	if (__builtin_expect(vs_capture_on, 0))
		vs_capture_record(wire, iov, niov, soff, len);
}

#ifdef __cplusplus
}
#endif

#endif /* VS_CAPTURE_H */
