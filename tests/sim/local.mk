# tests/sim/: the deterministic simulator of sync/core (see docs/sync.md).
check_PROGRAMS += tests/sim/simulate
tests_sim_simulate_SOURCES = tests/sim/sim.h tests/sim/sim.c tests/sim/simulate.c
tests_sim_simulate_LDADD = sync/core/libpgq_sync_core.a common/libpgq_common.a
TESTS += tests/sim/run_sim.sh tests/sim/run_sim_selftest.sh
EXTRA_DIST += tests/sim/run_sim.sh tests/sim/run_sim_selftest.sh
