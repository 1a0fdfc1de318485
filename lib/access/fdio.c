/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Zero-copy I/O between guest memory and file descriptors: one readv,
 * preadv, writev or pwritev over the regions the range crosses. */
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "access/view.h"
#include "dirty/dirty.h"
#include "space/table.h"

/* Pieces per syscall; a range crossing more regions transfers the first
 * FDIO_MAX_IOV of them, a short count the caller handles as with readv. */
#define FDIO_MAX_IOV 64

struct fdio {
	struct iovec iov[FDIO_MAX_IOV];
	struct vmmem_region *held[FDIO_MAX_IOV];
	uint64_t placed_at[FDIO_MAX_IOV];   /* the GPA held[i] was at */
	struct view views[FDIO_MAX_IOV];
	int count;
};

/* Gathers the backed prefix of the range and references its regions, so a
 * region removed during a blocking syscall stays mapped until it returns. */
static int fdio_prepare(struct vmmem *m, uint64_t gpa, size_t len,
			bool into_guest, struct fdio *io)
{
	const struct table *t = space_enter(m);
	uint64_t done = 0;
	int ret = 0;

	io->count = 0;
	while (done < len && io->count < FDIO_MAX_IOV) {
		const struct slot *s = table_lookup(t, gpa + done);
		struct view *v = &io->views[io->count];
		int64_t n;

		if (!s)
			break;
		n = view_begin(s, gpa + done, len - done, into_guest, COVER_SOME,
			       v);
		if (n < 0) {
			if (!io->count)
				ret = (int)n;
			break;
		}
		io->iov[io->count].iov_base = v->p;
		io->iov[io->count].iov_len = (size_t)n;
		io->placed_at[io->count] = s->gpa;
		io->held[io->count++] = vmmem_region_ref(s->region);
		done += (uint64_t)n;
	}
	if (!io->count && !ret)
		ret = -EFAULT;
	space_exit();
	return ret;
}

/* Logs the done bytes read into guest memory from gpa on, piece by
 * piece, where each piece's region still is (dirty_note_placed()): marked
 * after the data landed, as a harvest between a mark and the write would
 * send the old contents and lose the new ones. */
static void fdio_log(struct vmmem *m, const struct fdio *io, uint64_t gpa,
		     uint64_t done)
{
	const struct table *t = space_enter(m);

	for (int i = 0; i < io->count && done; i++) {
		uint64_t n = io->iov[i].iov_len < done ? io->iov[i].iov_len : done;

		dirty_note_placed(t, io->held[i], io->placed_at[i], gpa, n);
		gpa += n;
		done -= n;
	}
	space_exit();
}

static void fdio_release(struct fdio *io)
{
	for (int i = 0; i < io->count; i++) {
		view_end(&io->views[i]);
		vmmem_region_unref(io->held[i]);
	}
}

static int check_args(struct vmmem *m, uint64_t gpa, int fd, size_t len)
{
	if (!m || len > SSIZE_MAX || range_wraps(gpa, len))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return 0;
}

/* The API takes int64_t offsets and hands them to preadv/pwritev: the
 * library itself is built with a 64-bit off_t (AC_SYS_LARGEFILE). */
_Static_assert(sizeof(off_t) == sizeof(int64_t), "off_t must be 64-bit");

enum fdio_op { FD_READ, FD_PREAD, FD_WRITE, FD_PWRITE };

static ssize_t fdio(struct vmmem *m, enum fdio_op op, uint64_t gpa, int fd,
		    size_t len, int64_t offset)
{
	struct fdio io;
	ssize_t n;
	int ret = check_args(m, gpa, fd, len);

	if (ret)
		return ret;
	if ((op == FD_PREAD || op == FD_PWRITE) && offset < 0)
		return -EINVAL;
	if (!len)
		return 0;
	ret = fdio_prepare(m, gpa, len, op == FD_READ || op == FD_PREAD, &io);
	if (ret)
		return ret;
	switch (op) {
	case FD_READ:   n = readv(fd, io.iov, io.count); break;
	case FD_PREAD:  n = preadv(fd, io.iov, io.count, offset); break;
	case FD_WRITE:  n = writev(fd, io.iov, io.count); break;
	default:        n = pwritev(fd, io.iov, io.count, offset); break;
	}
	if (n < 0)
		n = -errno;
	if (n > 0 && (op == FD_READ || op == FD_PREAD))
		fdio_log(m, &io, gpa, (uint64_t)n);
	fdio_release(&io);
	return n;
}

VMMEM_EXPORT ssize_t vmmem_read_fd(struct vmmem *m, uint64_t gpa, int fd,
				   size_t len)
{
	return fdio(m, FD_READ, gpa, fd, len, 0);
}

VMMEM_EXPORT ssize_t vmmem_pread_fd(struct vmmem *m, uint64_t gpa, int fd,
				    size_t len, int64_t offset)
{
	return fdio(m, FD_PREAD, gpa, fd, len, offset);
}

VMMEM_EXPORT ssize_t vmmem_write_fd(struct vmmem *m, uint64_t gpa, int fd,
				    size_t len)
{
	return fdio(m, FD_WRITE, gpa, fd, len, 0);
}

VMMEM_EXPORT ssize_t vmmem_pwrite_fd(struct vmmem *m, uint64_t gpa, int fd,
				     size_t len, int64_t offset)
{
	return fdio(m, FD_PWRITE, gpa, fd, len, offset);
}
