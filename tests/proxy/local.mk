# tests/proxy/: rules for this module (included from the top Makefile.am).
