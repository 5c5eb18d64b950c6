/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 *
 * vslab-peer: guest side of the host-path VM test (run-host-test.sh), built
 * statically into the lab initramfs by build-lab.sh. It opens one vsock
 * connection, exchanges a known byte pattern both ways, checks every byte
 * (and, for SEQPACKET, every message boundary) and prints one result line:
 *
 *   VSPEER: <name> PASS type=<t> tx=<bytes> txcrc=<crc32> rx=<bytes> rxcrc=<crc32>
 *           msgs=<sent>/<received> tx_ms=<ms> rx_ms=<ms>
 *   VSPEER: <name> FAIL <reason>
 *
 * <name> is "listen:<port>", "connect:<cid>:<port>" or "rst:<cid>:<port>".
 *
 * Usage:
 *   vslab-peer listen <port> stream|seqpacket <tx> <rx> [first|second|duplex]
 *   vslab-peer connect <cid> <port> stream|seqpacket <tx> <rx> [first|second|duplex]
 *   vslab-peer rst <cid> <port> stream|seqpacket
 *
 * <tx>: bytes this side sends; <rx>: bytes it expects (a K or M suffix
 * multiplies by 1024 or 1024*1024). Order: "first" sends everything, shuts
 * down its sending side (SHUT_WR) and then reads until EOF; "second" reads
 * until EOF first and only then sends (so it sends on a connection its peer
 * has half-closed); "duplex" does both at once. Default: the connecting side
 * "first", the listening side "second". "rst" passes when connect() fails
 * with ECONNRESET: Linux's answer to an RST (nobody listens on that port;
 * virtio_transport_recv_connecting()), where TCP says ECONNREFUSED.
 * "listen" prints "VSPEER: <name> ready" once it listens, accepts one
 * connection and closes the listener.
 *
 * The pattern: byte i of what the connecting side sends is pat(seed, i % 65521)
 * (65521 is prime, so a lost, repeated or reordered packet shows), seed = port;
 * the listening side uses seed = port + 65536. pat() is a 32-bit LCG.
 * SEQPACKET message sizes cycle through msg_sizes[] (the last one is cut to
 * reach <tx>); the receiver checks each message's length and MSG_TRUNC.
 * CRC32 is the IEEE one (zlib's crc32()).
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define PAT_PERIOD 65521u
#define PAT_EXTRA (256u * 1024u)	/* longest contiguous window read from the pattern */
#define IO_CHUNK 65536u
#define MSG_BUF (PAT_EXTRA + 4096u)
#define TIMEOUT_S 180

static const uint32_t msg_sizes[] = {
	1, 2, 17, 100, 1000, 1500, 4095, 4096, 4097, 8192, 32768, 65535, 65536, 65537,
	100000, 3, 60000, 12345,
};
#define N_MSG_SIZES (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

static char name[64];
static uint32_t crc_table[256];

struct side {
	uint8_t *pat;		/* PAT_PERIOD + PAT_EXTRA bytes */
	uint64_t bytes;		/* to send / expected */
	uint64_t done;		/* sent / received */
	uint64_t msgs;
	uint32_t crc;
	uint64_t t0_us, t1_us;
	char err[160];
};

struct conn {
	int fd;
	int seq;
	struct side tx, rx;
};

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("VSPEER: %s FAIL %s\n", name, buf);
	fflush(stdout);
	exit(1);
}

static void
on_alarm(int sig)
{
	static const char msg[] = " FAIL timeout: no result within the time limit\n";
	ssize_t r;

	(void)sig;
	r = write(1, "VSPEER: ", 8);
	r = write(1, name, strlen(name));
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t
crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The pattern for @seed, with PAT_EXTRA bytes repeated past the period. */
static uint8_t *
pat_make(uint32_t seed)
{
	uint8_t *p = malloc(PAT_PERIOD + PAT_EXTRA);
	uint32_t x = seed * 2654435761u + 12345u, i;

	if (p == NULL)
		fail("out of memory");
	for (i = 0; i < PAT_PERIOD; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	for (i = 0; i < PAT_EXTRA; i++)
		p[PAT_PERIOD + i] = p[i % PAT_PERIOD];
	return p;
}

/* Size of SEQPACKET message @k of a @total-byte exchange, @off bytes in. */
static uint32_t
msg_size(uint64_t k, uint64_t off, uint64_t total)
{
	uint64_t s = msg_sizes[k % N_MSG_SIZES];

	return (uint32_t)(s < total - off ? s : total - off);
}

static uint64_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		fail("bad size '%s'", s);
	if (*end == 'K' || *end == 'k')
		v *= 1024;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024;
	else if (*end != '\0')
		fail("bad size '%s'", s);
	return v;
}

static void *
do_tx(void *arg)
{
	struct conn *c = arg;
	struct side *s = &c->tx;
	uint32_t len;
	ssize_t n;

	s->t0_us = now_us();
	while (s->done < s->bytes) {
		const uint8_t *p = s->pat + s->done % PAT_PERIOD;

		if (c->seq)
			len = msg_size(s->msgs, s->done, s->bytes);
		else
			len = (uint32_t)(s->bytes - s->done < IO_CHUNK ? s->bytes - s->done :
					 IO_CHUNK);
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(s->err, sizeof(s->err), "send at %llu: %s",
				 (unsigned long long)s->done, strerror(errno));
			break;
		}
		if (c->seq && (uint32_t)n != len) {
			snprintf(s->err, sizeof(s->err), "send of message %llu: %zd of %u bytes",
				 (unsigned long long)s->msgs, n, len);
			break;
		}
		s->crc = crc_update(s->crc, p, (size_t)n);
		s->done += (uint64_t)n;
		s->msgs++;
	}
	if (s->err[0] == '\0' && shutdown(c->fd, SHUT_WR) != 0)
		snprintf(s->err, sizeof(s->err), "shutdown(SHUT_WR): %s", strerror(errno));
	s->t1_us = now_us();
	return NULL;
}

static void
do_rx(struct conn *c)
{
	struct side *s = &c->rx;
	static uint8_t buf[MSG_BUF];
	struct msghdr mh;
	struct iovec iov;
	uint64_t i;
	uint32_t want;
	ssize_t n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = buf;
		iov.iov_len = c->seq ? sizeof(buf) : IO_CHUNK;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(c->fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(s->err, sizeof(s->err), "recv at %llu: %s",
				 (unsigned long long)s->done, strerror(errno));
			break;
		}
		if (s->t0_us == 0)
			s->t0_us = now_us();
		if (n == 0)
			break;
		if (s->done + (uint64_t)n > s->bytes) {
			snprintf(s->err, sizeof(s->err), "%llu bytes received, %llu expected",
				 (unsigned long long)(s->done + (uint64_t)n),
				 (unsigned long long)s->bytes);
			break;
		}
		if (c->seq) {
			want = msg_size(s->msgs, s->done, s->bytes);
			if ((uint32_t)n != want || (mh.msg_flags & MSG_TRUNC)) {
				snprintf(s->err, sizeof(s->err),
					 "message %llu: %zd bytes%s, %u expected",
					 (unsigned long long)s->msgs, n,
					 (mh.msg_flags & MSG_TRUNC) ? " (MSG_TRUNC)" : "", want);
				break;
			}
		}
		if (memcmp(buf, s->pat + s->done % PAT_PERIOD, (size_t)n) != 0) {
			for (i = 0; i < (uint64_t)n; i++)
				if (buf[i] != s->pat[(s->done + i) % PAT_PERIOD])
					break;
			snprintf(s->err, sizeof(s->err), "data differs at byte %llu",
				 (unsigned long long)(s->done + i));
			break;
		}
		s->crc = crc_update(s->crc, buf, (size_t)n);
		s->done += (uint64_t)n;
		s->msgs++;
	}
	s->t1_us = now_us();
	if (s->err[0] == '\0' && s->done != s->bytes)
		snprintf(s->err, sizeof(s->err), "EOF after %llu of %llu bytes",
			 (unsigned long long)s->done, (unsigned long long)s->bytes);
}

static int
sock_type(const char *t)
{
	if (strcmp(t, "stream") == 0)
		return SOCK_STREAM;
	if (strcmp(t, "seqpacket") == 0)
		return SOCK_SEQPACKET;
	fail("bad type '%s' (stream or seqpacket)", t);
}

static uint32_t
parse_u32(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end != '\0' || v > 0xffffffffUL)
		fail("bad %s '%s'", what, s);
	return (uint32_t)v;
}

static int
vsock_socket(int type)
{
	struct timeval tv = { .tv_sec = 120 };
	int fd = socket(AF_VSOCK, type, 0);

	if (fd < 0)
		fail("socket(AF_VSOCK): %s", strerror(errno));
	/* blocking I/O, but never forever */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static unsigned long
ms(const struct side *s)
{
	return s->t1_us > s->t0_us && s->t0_us ? (unsigned long)((s->t1_us - s->t0_us) / 1000u) : 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	const char *mode, *order;
	struct conn c = { .fd = -1 };
	uint32_t cid = 0, port, seed_tx, seed_rx;
	int a, type, lfd;
	pthread_t th;

	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	snprintf(name, sizeof(name), "vslab-peer");
	if (argc < 2)
		fail("usage: vslab-peer listen|connect|rst ...");
	mode = argv[1];
	a = 2;
	if (strcmp(mode, "listen") != 0) {
		if (argc < 3)
			fail("missing cid");
		cid = parse_u32(argv[a++], "cid");
	}
	if (argc < a + 2)
		fail("missing port or type");
	port = parse_u32(argv[a++], "port");
	type = sock_type(argv[a++]);
	if (strcmp(mode, "listen") == 0)
		snprintf(name, sizeof(name), "listen:%u", port);
	else
		snprintf(name, sizeof(name), "%s:%u:%u", mode, cid, port);
	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT_S);

	sa.svm_port = port;
	if (strcmp(mode, "rst") == 0) {
		c.fd = vsock_socket(type);
		sa.svm_cid = cid;
		if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			fail("connect succeeded, ECONNRESET expected");
		if (errno != ECONNRESET)
			fail("connect: %s, ECONNRESET expected", strerror(errno));
		printf("VSPEER: %s PASS type=%s ECONNRESET\n", name, argv[a - 1]);
		return 0;
	}
	if (argc < a + 2)
		fail("missing tx or rx size");
	c.tx.bytes = parse_size(argv[a++]);
	c.rx.bytes = parse_size(argv[a++]);
	order = argc > a ? argv[a] : (strcmp(mode, "listen") == 0 ? "second" : "first");
	c.seq = type == SOCK_SEQPACKET;

	if (strcmp(mode, "listen") == 0) {
		lfd = vsock_socket(type);
		sa.svm_cid = VMADDR_CID_ANY;
		if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			fail("bind port %u: %s", port, strerror(errno));
		if (listen(lfd, 1) != 0)
			fail("listen: %s", strerror(errno));
		printf("VSPEER: %s ready\n", name);
		do
			c.fd = accept(lfd, NULL, NULL);
		while (c.fd < 0 && errno == EINTR);
		if (c.fd < 0)
			fail("accept: %s", strerror(errno));
		close(lfd);
		seed_tx = port + 65536u;
		seed_rx = port;
	} else if (strcmp(mode, "connect") == 0) {
		c.fd = vsock_socket(type);
		sa.svm_cid = cid;
		if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			fail("connect to %u:%u: %s", cid, port, strerror(errno));
		seed_tx = port;
		seed_rx = port + 65536u;
	} else {
		fail("unknown mode '%s'", mode);
	}
	c.tx.pat = pat_make(seed_tx);
	c.rx.pat = pat_make(seed_rx);

	if (strcmp(order, "first") == 0) {
		do_tx(&c);
		do_rx(&c);
	} else if (strcmp(order, "second") == 0) {
		do_rx(&c);
		do_tx(&c);
	} else if (strcmp(order, "duplex") == 0) {
		if (pthread_create(&th, NULL, do_tx, &c) != 0)
			fail("pthread_create failed");
		do_rx(&c);
		pthread_join(th, NULL);
	} else {
		fail("bad order '%s' (first, second or duplex)", order);
	}
	close(c.fd);
	if (c.tx.err[0] != '\0' || c.rx.err[0] != '\0')
		fail("%s%s%s", c.tx.err, c.tx.err[0] && c.rx.err[0] ? "; " : "", c.rx.err);
	printf("VSPEER: %s PASS type=%s tx=%llu txcrc=%08x rx=%llu rxcrc=%08x msgs=%llu/%llu "
	       "tx_ms=%lu rx_ms=%lu\n", name, c.seq ? "seqpacket" : "stream",
	       (unsigned long long)c.tx.done, c.tx.crc, (unsigned long long)c.rx.done, c.rx.crc,
	       (unsigned long long)c.tx.msgs, (unsigned long long)c.rx.msgs, ms(&c.tx), ms(&c.rx));
	return 0;
}
