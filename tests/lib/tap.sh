# tests/lib/tap.sh: a tiny TAP producer for the shell integration tests,
# run by prove.  Source it, call `ok`/`is`/`like`, end with `done_testing`.
# Cleanup functions registered with `at_exit` run on any exit, including a
# failure, a signal or prove's timeout.

TAP_N=0
TAP_FAILED=0
TAP_CLEANUPS=()

at_exit() { TAP_CLEANUPS+=("$*"); }

_tap_cleanup() {
	local rc=$? i
	for ((i = ${#TAP_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${TAP_CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	exit $rc
}
trap _tap_cleanup EXIT
trap 'exit 143' TERM INT HUP

ok() {	# ok CONDITION_STATUS NAME
	local status=$1; shift
	TAP_N=$((TAP_N + 1))
	if [[ $status -eq 0 ]]; then
		echo "ok $TAP_N - $*"
	else
		echo "not ok $TAP_N - $*"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

is() {	# is GOT EXPECTED NAME
	local got=$1 expected=$2; shift 2
	[[ $got == "$expected" ]]
	ok $? "$*"
	[[ $got == "$expected" ]] || { echo "#   got:      '$got'"; echo "#   expected: '$expected'"; }
}

like() {	# like GOT REGEX NAME
	local got=$1 re=$2; shift 2
	[[ $got =~ $re ]]
	ok $? "$*"
	[[ $got =~ $re ]] || { echo "#   got:      '$got'"; echo "#   expected to match: '$re'"; }
}

diag() { echo "# $*"; }

skip_all() { echo "1..0 # SKIP $*"; exit 0; }

done_testing() {
	echo "1..$TAP_N"
	[[ $TAP_FAILED -eq 0 ]]
}

# The build the tests use (scripts/test sets it).
PGQ_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGQ_BUILD=${PGQ_BUILD:-$PGQ_TOP/build}
PGQ=$PGQ_BUILD/pgquorum
source "$PGQ_TOP/scripts/lib/pg.sh"

# A scratch directory that is removed at exit.  Callers use d=$(scratch_dir),
# a subshell, where at_exit would not reach this shell's list: so every
# scratch directory lives under one root made (and registered) here.
_TAP_SCRATCH=
scratch_dir() {
	local d
	[[ -n $_TAP_SCRATCH ]] || { echo "scratch_dir: no scratch root" >&2; return 1; }
	d=$(mktemp -d "$_TAP_SCRATCH/d.XXXXXX")
	chmod 755 "$d"
	echo "$d"
}
_TAP_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pgq-test.XXXXXX")
chmod 755 "$_TAP_SCRATCH"
at_exit "rm -rf '$_TAP_SCRATCH'"

# cluster_up N DIR [args]: a cluster that is torn down at exit.
cluster_up() {
	local n=$1 dir=$2; shift 2
	at_exit "'$PGQ_TOP/scripts/cluster' down --dir '$dir'"
	"$PGQ_TOP/scripts/cluster" up --nodes "$n" --dir "$dir" --build "$PGQ_BUILD" "$@" >/dev/null
}
