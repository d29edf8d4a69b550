# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo and .ci/run. Source it; don't run it.
#
#   ensure_packages [extra-package...]   install the project's missing Debian packages
#   start_throwaway_postgres             start a private PostgreSQL 15 cluster for the tests
#   section TITLE                        print a step header
#
# Everything here prints its progress to stderr and is safe to call more than once.

if [[ -n "${_ASIO_SOCI_COMMON_SH:-}" ]]; then
    return 0
fi
_ASIO_SOCI_COMMON_SH=1

# The repository root (scripts/lib/../..).
ASIO_SOCI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Debian packages the project needs to build, test and run its examples. Keep this one
# list, under this name: scripts/check-packages reads it. libboost-dev: SOCI's headers
# include Boost's (Debian builds SOCI with SOCI_HAVE_BOOST), but libsoci-dev does not
# depend on them.
ASIO_SOCI_PACKAGES=(
    build-essential cmake ninja-build pkg-config
    libasio-dev libsoci-dev libboost-dev libsqlite3-dev libpq-dev postgresql
    catch2 libspdlog-dev libfmt-dev
    librestinio-dev libhttp-parser-dev libcli11-dev
    curl clang-format
)

log() { printf '%s\n' "-- $*" >&2; }
die() { printf '%s\n' "error: $*" >&2; exit 1; }

section() {
    printf '\n==> %s\n' "$*" >&2
}

# Runs "$@" as root: directly when we are root, else through sudo.
_as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -- "$@"
    else
        die "need root to run '$*' and sudo is not installed"
    fi
}

# Explains what to do when packages are missing and we cannot become root, and exits.
_asio_soci_cannot_install() {
    cat >&2 <<EOF
error: these Debian packages are missing: $*
Installing them needs root; this script runs as $(id -un), and sudo is not installed.
Either run it as root, or install the packages yourself and run it again:
    su -c 'apt-get update && apt-get install --no-install-recommends $*'
Nothing else needs root: with the packages installed, the build, the tests and the
throwaway PostgreSQL all run as $(id -un).
EOF
    exit 1
}

# ensure_packages [extra...]: installs whichever of ASIO_SOCI_PACKAGES (plus the extra
# names given) dpkg does not report as installed. Runs apt-get update first, and only
# when something is missing. Set ASIO_SOCI_SKIP_PACKAGES=1 to skip the check entirely.
# shellcheck disable=SC2120  # the extra package arguments are optional
ensure_packages() {
    if [[ "${ASIO_SOCI_SKIP_PACKAGES:-0}" == 1 ]]; then
        log "skipping the package check (ASIO_SOCI_SKIP_PACKAGES=1)"
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "dpkg-query not found: not a Debian system; install these yourself: ${ASIO_SOCI_PACKAGES[*]} $*"
        return 0
    fi

    local pkg status
    local -a missing=()
    for pkg in "${ASIO_SOCI_PACKAGES[@]}" "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        if [[ "$status" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done

    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all required Debian packages are installed"
        return 0
    fi

    log "about to install these missing Debian packages with apt-get: ${missing[*]}"
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || _asio_soci_cannot_install "${missing[@]}"
        log "not root: apt-get runs through sudo (it may ask for your password)"
    fi
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
        die "apt-get update failed"
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >&2 ||
        die "apt-get install failed for: ${missing[*]}"
}

# --- cleanup on exit ---------------------------------------------------------------------
# One EXIT/INT/TERM/HUP handler per shell runs the registered commands in reverse order,
# once. A subshell does not inherit traps, so it registers its own handler.

_asio_soci_cleanups=()
_asio_soci_cleanup_pid=""

_asio_soci_run_cleanups() {
    local i
    for ((i = ${#_asio_soci_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_asio_soci_cleanups[i]}" || true
    done
    _asio_soci_cleanups=()
}

_asio_soci_on_signal() {
    local sig="$1" code="$2"
    _asio_soci_run_cleanups
    trap - "$sig" EXIT
    # Re-raise so our parent sees that we were interrupted.
    kill -s "$sig" "$BASHPID" 2>/dev/null
    exit "$code"
}

# add_exit_cleanup CMD: evaluates CMD when this shell exits, even on failure or a signal.
add_exit_cleanup() {
    if [[ "$_asio_soci_cleanup_pid" != "$BASHPID" ]]; then
        _asio_soci_cleanups=()
        _asio_soci_cleanup_pid="$BASHPID"
        trap '_asio_soci_run_cleanups' EXIT
        trap '_asio_soci_on_signal INT 130' INT
        trap '_asio_soci_on_signal TERM 143' TERM
        trap '_asio_soci_on_signal HUP 129' HUP
    fi
    _asio_soci_cleanups+=("$1")
}

# --- throwaway PostgreSQL ----------------------------------------------------------------

# Prints the directory holding PostgreSQL 15's server binaries (initdb, pg_ctl, postgres).
_asio_soci_find_pgbin() {
    local dir
    for dir in "${ASIO_SOCI_PGBIN:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
_asio_soci_free_port() {
    local py port i
    for py in /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1 &&
            port="$("$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null)" && [[ -n "$port" ]]; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 40000))
        # A refused connection means nobody listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

# Runs "$@" as the cluster's owner: the postgres user when we are root, else ourselves.
_asio_soci_as_pg_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_asio_soci_stop_postgres() {
    local pgbin="$1" tmp="$2"
    if [[ -f "$tmp/data/postmaster.pid" ]]; then
        log "stopping throwaway PostgreSQL ($tmp)"
        _asio_soci_as_pg_owner "$pgbin/pg_ctl" stop -D "$tmp/data" -m immediate -w -t 30 \
            >/dev/null 2>&1 || true
    fi
    rm -rf -- "$tmp"
}

# start_throwaway_postgres: starts a private PostgreSQL 15 cluster on a free loopback port
# with trust authentication, creates the database asio_soci_test and exports
#   ASIO_SOCI_TEST_POSTGRESQL_URL=postgresql://postgres@127.0.0.1:PORT/asio_soci_test
#   ASIO_SOCI_TEST_PGBIN   directory of the server binaries
#   ASIO_SOCI_TEST_PGDATA  the cluster's data directory
# The cluster is stopped and its files deleted when the calling shell exits. Calling it
# again while the cluster runs does nothing.
start_throwaway_postgres() {
    if [[ -n "${_asio_soci_pg_tmp:-}" && -n "${ASIO_SOCI_TEST_PGDATA:-}" &&
        -f "${ASIO_SOCI_TEST_PGDATA}/postmaster.pid" ]] &&
        _asio_soci_as_pg_owner "${ASIO_SOCI_TEST_PGBIN}/pg_ctl" status -D "$ASIO_SOCI_TEST_PGDATA" \
            >/dev/null 2>&1; then
        log "throwaway PostgreSQL already running: $ASIO_SOCI_TEST_POSTGRESQL_URL"
        return 0
    fi

    local pgbin
    pgbin="$(_asio_soci_find_pgbin)" ||
        die "PostgreSQL 15 server binaries not found (install the postgresql package)"

    local base="${TMPDIR:-/tmp}"
    if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (install the postgresql package)"
        # The postgres user must be able to reach the directory; /tmp always works.
        base=/tmp
    fi

    local tmp
    tmp="$(mktemp -d "$base/asio-soci-pg.XXXXXX")" || die "mktemp failed"
    local cleanup
    printf -v cleanup '_asio_soci_stop_postgres %q %q' "$pgbin" "$tmp"
    add_exit_cleanup "$cleanup"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown postgres: "$tmp"
    fi
    chmod 700 "$tmp"

    local data="$tmp/data"
    log "initialising throwaway PostgreSQL cluster in $data"
    if ! _asio_soci_as_pg_owner "$pgbin/initdb" -D "$data" -A trust --username=postgres \
        -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1; then
        cat "$tmp/initdb.log" >&2
        die "initdb failed"
    fi
    cat >>"$data/postgresql.conf" <<EOF

# asio-soci throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

    # Another process may take the port between choosing and binding it: retry.
    local port attempt started=0
    for attempt in 1 2 3 4 5; do
        port="$(_asio_soci_free_port)" || die "no free TCP port found"
        log "starting throwaway PostgreSQL on 127.0.0.1:$port"
        if _asio_soci_as_pg_owner "$pgbin/pg_ctl" start -D "$data" -w -t 60 -s \
            -l "$tmp/postgres.log" -o "-p $port" >/dev/null 2>&1; then
            started=1
            break
        fi
        log "start attempt $attempt failed"
        _asio_soci_as_pg_owner "$pgbin/pg_ctl" stop -D "$data" -m immediate -w \
            >/dev/null 2>&1 || true
    done
    if [[ "$started" -ne 1 ]]; then
        tail -n 30 "$tmp/postgres.log" >&2 2>/dev/null || true
        die "could not start PostgreSQL"
    fi

    if ! "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres asio_soci_test >&2; then
        die "createdb asio_soci_test failed"
    fi

    _asio_soci_pg_tmp="$tmp"
    export ASIO_SOCI_TEST_PGBIN="$pgbin"
    export ASIO_SOCI_TEST_PGDATA="$data"
    export ASIO_SOCI_TEST_POSTGRESQL_URL="postgresql://postgres@127.0.0.1:$port/asio_soci_test"
    log "throwaway PostgreSQL ready: $ASIO_SOCI_TEST_POSTGRESQL_URL"
}

# configure_build DIR [cmake args...]: configures DIR with Ninja (keeping the generator of
# an existing build directory) from the repository root.
configure_build() {
    local dir="$1"
    shift
    local -a gen=()
    if [[ ! -f "$dir/CMakeCache.txt" ]]; then
        gen=(-G Ninja)
    fi
    log "configuring $dir"
    cmake -S "$ASIO_SOCI_ROOT" -B "$dir" "${gen[@]}" "$@"
}
