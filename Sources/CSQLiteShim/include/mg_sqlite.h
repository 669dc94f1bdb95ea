#ifndef MG_SQLITE_H
#define MG_SQLITE_H

/// Turns off SQLite's memory statistics for this process. With them on (Debian's default),
/// every sqlite3_malloc and sqlite3_free takes one process-wide mutex. sqlite3_config is
/// variadic, which Swift cannot call. Effective only before SQLite is first initialized;
/// returns SQLite's result code (SQLITE_MISUSE, 21, when it is too late).
int mg_sqlite_disable_memstatus(void);

#endif
