/*
 * A power-cut recorder, preloaded (LD_PRELOAD) into the real `wdo` binary by
 * tests/integration/power_cut.rs. It records, in order, every change the process makes to
 * files under $WDO_POWERCUT_ROOT and every sync, with the bytes written, into the trace file
 * $WDO_POWERCUT_TRACE. From a prefix of that trace the test rebuilds what a disk would hold
 * if the power had been cut there: what was synced, and only some of what was not.
 *
 * Each traced call runs with one lock held from before the call until its record is
 * written, so the trace's order is an order in which the calls happened (a write that
 * finished before a sync started comes before it). Records are written with write(2) on a
 * descriptor opened with O_APPEND: a process killed with SIGKILL leaves whole records, and a
 * record reaches the trace after its call returned.
 *
 * Record: op (1 byte), path length (u32) and path, [second path for rename], a (u64),
 * b (u64), then b bytes of data for writes. Little-endian, as the host.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static char root[PATH_MAX];
static size_t root_len;
static char *paths[MAX_FD];

static void init(void) __attribute__((constructor));
static void init(void) {
    const char *trace = getenv("WDO_POWERCUT_TRACE");
    const char *r = getenv("WDO_POWERCUT_ROOT");
    if (!trace || !r) return;
    strncpy(root, r, sizeof root - 1);
    root_len = strlen(root);
    trace_fd = (int)syscall(SYS_openat, AT_FDCWD, trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "powercut shim: no %s\n", name);
        abort();
    }
    return f;
}

/* The absolute path of `path` opened relative to `dirfd`, if it is under the root. */
static char *resolve(int dirfd, const char *path) {
    char buf[PATH_MAX * 2];
    if (trace_fd < 0 || !path) return NULL;
    if (path[0] == '/') {
        snprintf(buf, sizeof buf, "%s", path);
    } else if (dirfd == AT_FDCWD) {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return NULL;
        snprintf(buf, sizeof buf, "%s/%s", cwd, path);
    } else if (dirfd >= 0 && dirfd < MAX_FD && paths[dirfd]) {
        snprintf(buf, sizeof buf, "%s/%s", paths[dirfd], path);
    } else {
        return NULL;
    }
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    if (strncmp(buf, root, root_len) != 0 || (buf[root_len] != 0 && buf[root_len] != '/'))
        return NULL;
    return strdup(buf);
}

static const char *tracked(int fd) {
    return (trace_fd >= 0 && fd >= 0 && fd < MAX_FD) ? paths[fd] : NULL;
}

static void put(char **at, const void *bytes, size_t n) {
    memcpy(*at, bytes, n);
    *at += n;
}

static void record(char op, const char *path, const char *path2, uint64_t a, uint64_t b,
                   const void *data) {
    uint32_t plen = (uint32_t)strlen(path), plen2 = path2 ? (uint32_t)strlen(path2) : 0;
    size_t data_len = data ? (size_t)b : 0;
    size_t total = 1 + 4 + plen + (path2 ? 4 + plen2 : 0) + 16 + data_len;
    char *buf = malloc(total), *at = buf;
    if (!buf) abort();
    put(&at, &op, 1);
    put(&at, &plen, 4);
    put(&at, path, plen);
    if (path2) {
        put(&at, &plen2, 4);
        put(&at, path2, plen2);
    }
    put(&at, &a, 8);
    put(&at, &b, 8);
    if (data_len) put(&at, data, data_len);
    size_t done = 0;
    while (done < total) {
        long n = syscall(SYS_write, trace_fd, buf + done, total - done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    free(buf);
}

static void remember(int fd, char *path) {
    if (fd >= 0 && fd < MAX_FD) {
        free(paths[fd]);
        paths[fd] = path;
    } else {
        free(path);
    }
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode, const char *name) {
    int (*f)(int, const char *, int, ...) = real(name);
    char *abs = resolve(dirfd, path);
    if (!abs) return f(dirfd, path, flags, mode);
    pthread_mutex_lock(&lock);
    int fd = f(dirfd, path, flags, mode);
    int saved = errno;
    if (fd >= 0) {
        if (flags & (O_CREAT | O_TRUNC)) record('C', abs, NULL, (flags & O_TRUNC) ? 1 : 0, 0, NULL);
        remember(fd, abs);
    } else {
        free(abs);
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return fd;
}

static mode_t mode_of(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    return do_openat(AT_FDCWD, path, flags, m, "openat");
}
int open64(const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    return do_openat(AT_FDCWD, path, flags, m, "openat64");
}
int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    return do_openat(dirfd, path, flags, m, "openat");
}
int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap; va_start(ap, flags); mode_t m = mode_of(flags, ap); va_end(ap);
    return do_openat(dirfd, path, flags, m, "openat64");
}

int close(int fd) {
    int (*f)(int) = real("close");
    if (fd >= 0 && fd < MAX_FD && paths[fd]) {
        pthread_mutex_lock(&lock);
        free(paths[fd]);
        paths[fd] = NULL;
        int r = f(fd);
        pthread_mutex_unlock(&lock);
        return r;
    }
    return f(fd);
}

ssize_t write(int fd, const void *buf, size_t n) {
    ssize_t (*f)(int, const void *, size_t) = real("write");
    const char *p = tracked(fd);
    if (!p) return f(fd, buf, n);
    pthread_mutex_lock(&lock);
    off_t at = lseek(fd, 0, SEEK_CUR);
    ssize_t r = f(fd, buf, n);
    int saved = errno;
    if (r > 0) {
        if (fcntl(fd, F_GETFL) & O_APPEND) at = lseek(fd, 0, SEEK_CUR) - r;
        record('W', p, NULL, (uint64_t)at, (uint64_t)r, buf);
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t at, const char *name) {
    ssize_t (*f)(int, const void *, size_t, off_t) = real(name);
    const char *p = tracked(fd);
    if (!p) return f(fd, buf, n, at);
    pthread_mutex_lock(&lock);
    ssize_t r = f(fd, buf, n, at);
    int saved = errno;
    if (r > 0) record('W', p, NULL, (uint64_t)at, (uint64_t)r, buf);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t at) { return do_pwrite(fd, buf, n, at, "pwrite"); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at) { return do_pwrite(fd, buf, n, at, "pwrite64"); }

static int do_ftruncate(int fd, off_t len, const char *name) {
    int (*f)(int, off_t) = real(name);
    const char *p = tracked(fd);
    if (!p) return f(fd, len);
    pthread_mutex_lock(&lock);
    int r = f(fd, len);
    int saved = errno;
    if (r == 0) record('T', p, NULL, (uint64_t)len, 0, NULL);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}
int ftruncate(int fd, off_t len) { return do_ftruncate(fd, len, "ftruncate"); }
int ftruncate64(int fd, off_t len) { return do_ftruncate(fd, len, "ftruncate64"); }

static int do_sync(int fd, const char *name, char op) {
    int (*f)(int) = real(name);
    const char *p = tracked(fd);
    if (!p) return f(fd);
    pthread_mutex_lock(&lock);
    int r = f(fd);
    int saved = errno;
    if (r == 0) record(op, p, NULL, 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}
int fsync(int fd) { return do_sync(fd, "fsync", 'S'); }
int fdatasync(int fd) { return do_sync(fd, "fdatasync", 'S'); }
int syncfs(int fd) { return do_sync(fd, "syncfs", 'F'); }

int unlink(const char *path) {
    int (*f)(const char *) = real("unlink");
    char *abs = resolve(AT_FDCWD, path);
    if (!abs) return f(path);
    pthread_mutex_lock(&lock);
    int r = f(path);
    int saved = errno;
    if (r == 0) record('U', abs, NULL, 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    free(abs);
    errno = saved;
    return r;
}

int unlinkat(int dirfd, const char *path, int flags) {
    int (*f)(int, const char *, int) = real("unlinkat");
    char *abs = resolve(dirfd, path);
    if (!abs) return f(dirfd, path, flags);
    pthread_mutex_lock(&lock);
    int r = f(dirfd, path, flags);
    int saved = errno;
    if (r == 0) record((flags & AT_REMOVEDIR) ? 'D' : 'U', abs, NULL, 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    free(abs);
    errno = saved;
    return r;
}

int rmdir(const char *path) {
    int (*f)(const char *) = real("rmdir");
    char *abs = resolve(AT_FDCWD, path);
    if (!abs) return f(path);
    pthread_mutex_lock(&lock);
    int r = f(path);
    int saved = errno;
    if (r == 0) record('D', abs, NULL, 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    free(abs);
    errno = saved;
    return r;
}

int mkdir(const char *path, mode_t mode) {
    int (*f)(const char *, mode_t) = real("mkdir");
    char *abs = resolve(AT_FDCWD, path);
    if (!abs) return f(path, mode);
    pthread_mutex_lock(&lock);
    int r = f(path, mode);
    int saved = errno;
    if (r == 0) record('M', abs, NULL, 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    free(abs);
    errno = saved;
    return r;
}

int rename(const char *from, const char *to) {
    int (*f)(const char *, const char *) = real("rename");
    char *a = resolve(AT_FDCWD, from), *b = resolve(AT_FDCWD, to);
    if (!a && !b) return f(from, to);
    pthread_mutex_lock(&lock);
    int r = f(from, to);
    int saved = errno;
    if (r == 0) record('R', a ? a : "", b ? b : "", 0, 0, NULL);
    pthread_mutex_unlock(&lock);
    free(a);
    free(b);
    errno = saved;
    return r;
}

/* Not used by the host on its data directory; refused loudly so that the trace is never
 * silently incomplete. */
static void unsupported(const char *name, int fd) {
    if (tracked(fd)) {
        fprintf(stderr, "powercut shim: %s on a traced file is not recorded\n", name);
        abort();
    }
}
ssize_t writev(int fd, const struct iovec *iov, int n) {
    unsupported("writev", fd);
    return ((ssize_t(*)(int, const struct iovec *, int))real("writev"))(fd, iov, n);
}
ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t at) {
    unsupported("pwritev", fd);
    return ((ssize_t(*)(int, const struct iovec *, int, off_t))real("pwritev"))(fd, iov, n, at);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t at) {
    unsupported("pwritev64", fd);
    return ((ssize_t(*)(int, const struct iovec *, int, off_t))real("pwritev64"))(fd, iov, n, at);
}
int fallocate(int fd, int mode, off_t at, off_t len) {
    unsupported("fallocate", fd);
    return ((int (*)(int, int, off_t, off_t))real("fallocate"))(fd, mode, at, len);
}
