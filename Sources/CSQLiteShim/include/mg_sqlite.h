#ifndef MG_SQLITE_H
#define MG_SQLITE_H

/* Declared, not included: Swift sees SQLite through GRDB's module, and the handle is opaque. */
typedef struct sqlite3 sqlite3;

/// Turns off SQLite's memory statistics for this process. With them on (Debian's default),
/// every sqlite3_malloc and sqlite3_free takes one process-wide mutex. sqlite3_config is
/// variadic, which Swift cannot call. Effective only before SQLite is first initialized;
/// returns SQLite's result code (SQLITE_MISUSE, 21, when it is too late).
int mg_sqlite_disable_memstatus(void);

/// The first region of the WAL index of `db`'s main database, as SQLite itself maps it for
/// its readers and writers; NULL when there is none (not in WAL mode, the index not opened on
/// this connection yet, or a VFS without shared memory). It stays mapped while `db` is open.
const volatile void *mg_sqlite_wal_index(sqlite3 *db);

/// Copies the two copies of the WAL index header (96 bytes) from `region` into `out`: the
/// first copy, a memory barrier, then the second, the order SQLite's readers use (a commit
/// writes the second copy first, so equal copies were not being written).
void mg_sqlite_wal_header(const volatile void *region, void *out);

#endif
