# bench/local.mk: helper programs of the shell benchmarks in bench/ that are
# not tied to one module (bench/lag's visibility probe).
noinst_PROGRAMS += bench/lag_probe
bench_lag_probe_SOURCES = bench/lag_probe.c
bench_lag_probe_CPPFLAGS = $(AM_CPPFLAGS) $(LIBPQ_CFLAGS)
bench_lag_probe_LDADD = $(LIBPQ_LIBS)
