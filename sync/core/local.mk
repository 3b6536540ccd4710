# sync/core/: the replication core, a pure state machine.  Compiled with the
# top-level include flags only: no libev, libpq or libpg_query.
noinst_LIBRARIES += sync/core/libpgq_sync_core.a
sync_core_libpgq_sync_core_a_SOURCES = \
	sync/core/sync_core.h sync/core/sync_core_int.h \
	sync/core/sync_core.c sync/core/sync_elect.c sync/core/sync_repl.c \
	sync/core/sync_follow.c sync/core/sync_primary.c sync/core/sync_read.c \
	sync/core/sync_config.c
