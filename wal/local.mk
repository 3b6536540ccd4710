# wal/: the log on disk (segments, records, group commit, hard state).
# Compiled with only AM_CPPFLAGS: no PostgreSQL, sockets or libev headers.
noinst_LIBRARIES += wal/libpgq_wal.a
wal_libpgq_wal_a_SOURCES = \
	wal/wal.h wal/wal.c \
	wal/wal_int.h \
	wal/wal_format.h wal/wal_format.c \
	wal/wal_io.h wal/wal_io.c \
	wal/wal_read.c \
	wal/wal_recover.c \
	wal/wal_writer.c \
	wal/wal_hardstate.c

# Benchmark (bench/wal runs it): appends/s and latency vs raw fdatasync.
noinst_PROGRAMS += bench/wal_bench
bench_wal_bench_SOURCES = bench/wal_bench.c
bench_wal_bench_LDADD = wal/libpgq_wal.a common/libpgq_common.a
