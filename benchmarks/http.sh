#!/usr/bin/env bash
# HTTP load test of the TechEmpower Framework Benchmarks server (examples/tfb) with wrk,
# against a throwaway PostgreSQL on loopback.
#
#   benchmarks/http.sh [--duration 10s] [--warmup 2s] [--threads 2] [--connections 64]
#                      [--build-dir DIR] [-- tfb_server options...]
#
# Builds tfb_server in Release (DIR, default build-release next to the sources; JOBS sets
# the build's parallelism), starts PostgreSQL, runs `tfb_server --init` (migrations and
# World rows), starts the server, warms each endpoint up, then runs `wrk --latency` on
# each and prints requests/s, p99 latency and errors, and the server's peak RSS (VmHWM).
# Everything it started is stopped on exit.
set -euo pipefail

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

duration=10s
warmup=2s
threads=2
connections=64
build_dir="$ASIO_SOCI_ROOT/build-release"
server_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --build-dir) build_dir="$2"; shift 2 ;;
        --) shift; server_args=("$@"); break ;;
        -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

endpoints=(/plaintext /json /db "/queries?queries=20" /fortunes "/updates?queries=20")

section "packages"
ensure_packages wrk  # wrk is not among the project's own packages

section "building tfb_server (Release) in $build_dir"
configure_build "$build_dir" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build "$build_dir" --target tfb_server -j "${JOBS:-$(nproc)}" >&2
server="$build_dir/examples/tfb/tfb_server"

section "database"
start_throwaway_postgres
url="$ASIO_SOCI_TEST_POSTGRESQL_URL"
"$server" --database-url "$url" --init

section "server"
work="$(mktemp -d "${TMPDIR:-/tmp}/asio-soci-http.XXXXXX")"
add_exit_cleanup "rm -rf -- '$work'"
"$server" --database-url "$url" --port 0 "${server_args[@]}" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
# Registered after PostgreSQL's, so it runs first: the server stops before the database.
add_exit_cleanup "kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null"
port=""
for _ in $(seq 1 300); do  # 30 s at most
    port="$(sed -n 's|^listening on http://[0-9.]*:\([0-9]*\)$|\1|p' "$work/stdout")"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; die "tfb_server exited"; }
    sleep 0.1
done
[[ -n "$port" ]] || die "tfb_server did not announce its port"
base="http://127.0.0.1:$port"
log "tfb_server (pid $server_pid) on $base"

section "warm-up ($warmup per endpoint)"
for endpoint in "${endpoints[@]}"; do
    wrk -t"$threads" -c"$connections" -d"$warmup" "$base$endpoint" >/dev/null
done

section "wrk -t$threads -c$connections -d$duration --latency"
results=()
for endpoint in "${endpoints[@]}"; do
    log "$endpoint"
    output="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$base$endpoint")"
    requests="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$output")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$output")"
    # Non-2xx responses and socket errors (connect, read, write, timeout) together.
    errors="$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                   /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                   END { print n + 0 }' <<<"$output")"
    results+=("$(printf '%-22s %12s %10s %8s' "$endpoint" "$requests" "$p99" "$errors")")
done
peak_rss="$(awk '/^VmHWM:/ { print $2 " " $3 }' "/proc/$server_pid/status")"

printf '\n%-22s %12s %10s %8s\n' "endpoint" "requests/s" "p99" "errors"
printf '%s\n' "${results[@]}"
printf '\ntfb_server peak RSS (VmHWM): %s\n' "$peak_rss"
printf 'machine: %s CPUs (shared by wrk, tfb_server and PostgreSQL); wrk -t%s -c%s -d%s\n' \
    "$(nproc)" "$threads" "$connections" "$duration"
