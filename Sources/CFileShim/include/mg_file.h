#ifndef MG_FILE_H
#define MG_FILE_H

#include <stdint.h>

/// Whether the first `length` bytes of the open file `fd` are all in the page cache, so that
/// reading or sending them does not wait for the disk: 1 yes, 0 no, -1 unknown (the checks
/// failed). Asks the kernel with cachestat(2) (Linux 6.5; no glibc wrapper, and syscall(2) is
/// variadic, which Swift cannot call), and, where the kernel has no cachestat, with mincore(2)
/// over a mapping of the file that is never touched.
int mg_file_cached(int fd, int64_t length);

#endif
