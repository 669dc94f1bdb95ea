#include <sqlite3.h>
#include "mg_sqlite.h"

int mg_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The size SQLite maps the WAL index in (WALINDEX_PGSZ); every mapping of a file must use it. */
#define MG_WAL_INDEX_REGION 32768

const volatile void *mg_sqlite_wal_index(sqlite3 *db) {
    sqlite3_file *file = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file || !file->pMethods) {
        return 0;
    }
    if (file->pMethods->iVersion < 2 || !file->pMethods->xShmMap) return 0;
    volatile void *region = 0;
    /* Not extended: only a region the database already has. */
    if (file->pMethods->xShmMap(file, 0, MG_WAL_INDEX_REGION, 0, &region) != SQLITE_OK) return 0;
    return region;
}

void mg_sqlite_wal_header(const volatile void *region, void *out) {
    const volatile unsigned char *from = region;
    unsigned char *to = out;
    for (int i = 0; i < 48; i++) to[i] = from[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int i = 48; i < 96; i++) to[i] = from[i];
}
