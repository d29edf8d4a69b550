#!/usr/bin/env bash
# HTTP load test of the TechEmpower Framework Benchmarks server (examples/tfb) with wrk,
# against a throwaway PostgreSQL on loopback, both database APIs in one run.
#
#   benchmarks/http.sh [--duration 10s] [--warmup 2s] [--threads 2] [--connections 64]
#                      [--rounds 1] [--apis "zero-hop as-future"] [--build-dir DIR]
#                      [--json FILE] [-- tfb_server options...]
#
# Builds tfb_server in Release (DIR, default build-release next to the sources; JOBS sets
# the build's parallelism), starts PostgreSQL, runs `tfb_server --init` (migrations and
# World rows), starts one server per --db-api, then, per round and endpoint, warms each
# server up and runs `wrk --latency` on it, the APIs one after the other so that they see
# the same machine. Prints, per endpoint and API, requests/s, p99 latency, errors and the
# server's CPU time per request (utime+stime from /proc), the median over the rounds; the
# ratios of the first API to the second; each server's peak RSS (VmHWM); then the same as
# one JSON object (also written to FILE with --json). Everything it started is stopped on
# exit.
set -euo pipefail

# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

duration=10s
warmup=2s
threads=2
connections=64
rounds=1
apis=(zero-hop as-future)
build_dir="$ASIO_SOCI_ROOT/build-release"
json_file=""
server_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --apis) read -ra apis <<<"$2"; shift 2 ;;
        --build-dir) build_dir="$2"; shift 2 ;;
        --json) json_file="$2"; shift 2 ;;
        --) shift; server_args=("$@"); break ;;
        -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, not '$rounds'"
[[ ${#apis[@]} -ge 1 ]] || die "--apis needs at least one of: zero-hop as-future"
for api in "${apis[@]}"; do
    [[ "$api" == zero-hop || "$api" == as-future ]] ||
        die "--apis: unknown API '$api' (zero-hop or as-future)"
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

work="$(mktemp -d "${TMPDIR:-/tmp}/asio-soci-http.XXXXXX")"
add_exit_cleanup "rm -rf -- '$work'"

# start_server API: starts tfb_server with --db-api API; sets pid[API] and base[API].
declare -A pid base
start_server() {
    local api="$1" port=""
    "$server" --database-url "$url" --port 0 --db-api "$api" "${server_args[@]}" \
        >"$work/$api.stdout" 2>"$work/$api.stderr" &
    pid[$api]=$!
    # Registered after PostgreSQL's, so it runs first: the server stops before the database.
    add_exit_cleanup "kill -TERM ${pid[$api]} 2>/dev/null; wait ${pid[$api]} 2>/dev/null"
    for _ in $(seq 1 300); do  # 30 s at most
        port="$(sed -n 's|^listening on http://[0-9.]*:\([0-9]*\)$|\1|p' "$work/$api.stdout")"
        [[ -n "$port" ]] && break
        kill -0 "${pid[$api]}" 2>/dev/null || { cat "$work/$api.stderr" >&2; die "tfb_server ($api) exited"; }
        sleep 0.1
    done
    [[ -n "$port" ]] || die "tfb_server ($api) did not announce its port"
    base[$api]="http://127.0.0.1:$port"
    log "tfb_server --db-api $api (pid ${pid[$api]}) on ${base[$api]}"
}

# cpu_ticks PID: the process's utime+stime, in clock ticks.
cpu_ticks() {
    # Fields after the command name, which is in parentheses: utime and stime are 12 and 13.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
ticks_per_second="$(getconf CLK_TCK)"

section "servers"
for api in "${apis[@]}"; do
    start_server "$api"
done

# One line per measurement: round api endpoint requests/s p99(ms) errors cpu-µs/request.
measurements="$work/measurements"
: >"$measurements"
for round in $(seq 1 "$rounds"); do
    section "round $round of $rounds: wrk -t$threads -c$connections -d$duration --latency (warm-up $warmup)"
    for endpoint in "${endpoints[@]}"; do
        for api in "${apis[@]}"; do
            wrk -t"$threads" -c"$connections" -d"$warmup" "${base[$api]}$endpoint" >/dev/null
            before="$(cpu_ticks "${pid[$api]}")"
            output="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "${base[$api]}$endpoint")"
            after="$(cpu_ticks "${pid[$api]}")"
            awk -v round="$round" -v api="$api" -v endpoint="$endpoint" \
                -v ticks="$((after - before))" -v hz="$ticks_per_second" '
                /requests in/ { requests = $1 }
                /^Requests\/sec:/ { rate = $2 }
                $1 == "99%" {
                    p99 = $2
                    if (p99 ~ /us$/) p99 = p99 / 1000
                    else if (p99 ~ /ms$/) p99 = p99 + 0
                    else if (p99 ~ /s$/) p99 = p99 * 1000
                }
                # Non-2xx responses and socket errors (connect, read, write, timeout).
                /Non-2xx or 3xx responses:/ { errors += $NF }
                /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
                END {
                    cpu = requests > 0 ? ticks * 1e6 / hz / requests : 0
                    printf "%d %s %s %.2f %.3f %d %.1f\n", round, api, endpoint, rate, p99, errors, cpu
                }' <<<"$output" | tee -a "$measurements" | awk '{ printf "  %-9s %-22s %10s req/s  p99 %8s ms  %6s us CPU/request\n", $2, $3, $4, $5, $7 }' >&2
        done
    done
done

declare -A peak_rss
for api in "${apis[@]}"; do
    peak_rss[$api]="$(awk '/^VmHWM:/ { print $2 }' "/proc/${pid[$api]}/status")"
done

# The medians per endpoint and API, the table, and the JSON object.
rss_list=""
for api in "${apis[@]}"; do
    rss_list+="$api=${peak_rss[$api]} "
done
report="$(awk -v apis="${apis[*]}" -v endpoints="${endpoints[*]}" -v rss="$rss_list" \
    -v cpus="$(nproc)" -v threads="$threads" -v connections="$connections" \
    -v duration="$duration" -v rounds="$rounds" '
    function median(key, field,    n, i, j, t, v) {
        n = count[key]
        for (i = 1; i <= n; ++i) v[i] = value[key, i, field]
        for (i = 2; i <= n; ++i)
            for (j = i; j > 1 && v[j - 1] > v[j]; --j) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    {
        key = $2 SUBSEP $3
        n = ++count[key]
        value[key, n, "rate"] = $4; value[key, n, "p99"] = $5; value[key, n, "cpu"] = $7
        errors[key] += $6
    }
    END {
        na = split(apis, api, " "); ne = split(endpoints, endpoint, " ")
        split(rss, pairs, " ")
        for (i in pairs) { split(pairs[i], kv, "="); peak[kv[1]] = kv[2] }
        header = sprintf("%-22s", "endpoint")
        for (a = 1; a <= na; ++a)
            header = header sprintf(" | %-9s %10s %9s %9s %6s", api[a], "req/s", "p99 ms", "CPU us/r", "errors")
        if (na >= 2) header = header sprintf(" | %s/%s: req/s  CPU/r", api[1], api[2])
        print header
        json = sprintf("{\"machine_cpus\":%d,\"wrk\":{\"threads\":%d,\"connections\":%d,\"duration\":\"%s\"},\"rounds\":%d,\"results\":[", cpus, threads, connections, duration, rounds)
        sep = ""
        for (e = 1; e <= ne; ++e) {
            line = sprintf("%-22s", endpoint[e])
            for (a = 1; a <= na; ++a) {
                key = api[a] SUBSEP endpoint[e]
                rate[a] = median(key, "rate"); cpu[a] = median(key, "cpu")
                p99 = median(key, "p99")
                line = line sprintf(" | %-9s %10.0f %9.2f %9.1f %6d", "", rate[a], p99, cpu[a], errors[key])
                json = json sprintf("%s{\"endpoint\":\"%s\",\"api\":\"%s\",\"requests_per_second\":%.1f,\"p99_ms\":%.3f,\"errors\":%d,\"server_cpu_us_per_request\":%.1f}", sep, endpoint[e], api[a], rate[a], p99, errors[key], cpu[a])
                sep = ","
            }
            if (na >= 2)
                line = line sprintf(" | %12.2fx %6.2fx", rate[2] > 0 ? rate[1] / rate[2] : 0, cpu[2] > 0 ? cpu[1] / cpu[2] : 0)
            print line
        }
        json = json "],\"peak_rss_kib\":{"
        sep = ""
        for (a = 1; a <= na; ++a) {
            print "tfb_server --db-api " api[a] " peak RSS (VmHWM): " peak[api[a]] " kB"
            json = json sprintf("%s\"%s\":%d", sep, api[a], peak[api[a]])
            sep = ","
        }
        printf "machine: %d CPUs (shared by wrk, tfb_server and PostgreSQL); wrk -t%d -c%d -d%s; median of %d round(s)\n", cpus, threads, connections, duration, rounds
        print json "}}"
    }' "$measurements")"
printf '\n%s\n' "$report"
if [[ -n "$json_file" ]]; then
    tail -n 1 <<<"$report" >"$json_file"
fi
