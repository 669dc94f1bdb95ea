#define _GNU_SOURCE
#include "mg_file.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture */
#endif

/* The kernel's struct cachestat_range and struct cachestat (include/uapi/linux/mman.h),
   declared here because Debian 12's headers predate them. */
struct mg_cachestat_range {
    uint64_t off;
    uint64_t len;
};

struct mg_cachestat {
    uint64_t nr_cache;
    uint64_t nr_dirty;
    uint64_t nr_writeback;
    uint64_t nr_evicted;
    uint64_t nr_recently_evicted;
};

static int cached_by_mincore(int fd, int64_t length, uint64_t pages) {
    void *map = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return -1;
    unsigned char stack[1024];
    unsigned char *vector = pages <= sizeof stack ? stack : malloc(pages);
    int answer = -1;
    if (vector != NULL && mincore(map, (size_t)length, vector) == 0) {
        answer = 1;
        for (uint64_t i = 0; i < pages; i++) {
            if ((vector[i] & 1) == 0) {
                answer = 0;
                break;
            }
        }
    }
    if (vector != stack) free(vector);
    munmap(map, (size_t)length);
    return answer;
}

int mg_file_cached(int fd, int64_t length) {
    if (length <= 0) return 1;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return -1;
    uint64_t pages = ((uint64_t)length + (uint64_t)page - 1) / (uint64_t)page;
    struct mg_cachestat_range range = {0, (uint64_t)length};
    struct mg_cachestat stat;
    if (syscall(__NR_cachestat, fd, &range, &stat, 0) == 0) return stat.nr_cache >= pages;
    if (errno != ENOSYS) return -1;
    return cached_by_mincore(fd, length, pages);
}
