# tests/sim/: rules for this module (included from the top Makefile.am).
