/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 *
 * vslab-cid: tiny guest-side helper for the VM lab (built statically into
 * the initramfs). Prints the local vsock CID the transport reported, which
 * tells whether the device answered the CID config read.
 *
 *   vslab-cid            print the local CID (exit 1 if unavailable)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

int main(void)
{
	unsigned int cid = 0;
	int fd = open("/dev/vsock", O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "vslab-cid: open /dev/vsock: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		fprintf(stderr, "vslab-cid: ioctl: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("%u\n", cid);
	return cid == VMADDR_CID_ANY ? 1 : 0;
}
