/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vs_sockpath.h"

/* The directory of @path must exist and let us create the socket. */
static int
check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (stat(dir, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (access(dir, W_OK | X_OK) != 0)
		return -EACCES;
	return 0;
}

/* True if something accepts connections at @sa, as stream or seqpacket. */
static int
listener_alive(const struct sockaddr_un *sa)
{
	static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0), ret, err;

		if (fd < 0)
			return -errno;
		ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
		err = errno;
		close(fd);
		if (ret == 0)
			return 1;
		/* A listener of the other type answers EPROTOTYPE: try it. */
		if (err != EPROTOTYPE)
			return 0;
	}
	return 0;
}

int
vs_sockpath_claim(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ret = check_dir(path);
	if (ret < 0)
		return ret;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	strcpy(sa.sun_path, path);
	ret = listener_alive(&sa);
	if (ret != 0)
		return ret > 0 ? -EADDRINUSE : ret;
	/* Nobody listens: a leftover of a process that died. */
	return unlink(path) == 0 ? 0 : -errno;
}
