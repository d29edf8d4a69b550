// asio_soci_bench: what asio-soci costs on top of hand-written Asio and raw SOCI.
//
// Every figure is the median of R repetitions (with min..max), and every comparison is
// measured in the same run:
//   1. offload round trip of a no-op: as_future vs inline, a hand-written post round
//      trip (raw_post: the physical limit of the design) and std::async;
//   2. pool acquire + release;
//   3. primary-key selects on SQLite (and PostgreSQL with a URL) vs a synchronous loop
//      and thread-per-connection raw SOCI;
//   4. the models' typed get_by_key vs a hand-written statement kept per connection;
//   5. (PostgreSQL) the zero-hop API vs raw threads and pgbench.
// `--case NAME --iterations N` runs one case alone, for callgrind.
#include <asio_soci/asio_soci.hpp>
#include <asio_soci/model.hpp>
#include <asio_soci/postgresql.hpp>

#include <asio/associated_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using bench_clock = std::chrono::steady_clock;

// The measured loop of --case runs inside this function (io_context::run() on the
// calling thread), so `valgrind --tool=callgrind --toggle-collect='run_case_loop*'`
// counts the io thread's share of the loop and nothing of the setup.
[[gnu::noinline]] void run_case_loop(asio::io_context& io) {
    io.run();
}

namespace {

// ---------------------------------------------------------------------------------------
// The work being offloaded.

// Opaque to the optimiser, so the inline baseline is a real call.
[[gnu::noinline]] int noop_work() {
    asm volatile("");
    return 1;
}

constexpr int world_rows = 10'000;

// The query of section 3, in the one form every variant (and baseline) uses.
int select_random_number(soci::session& sql, int id) {
    int random_number = 0;
    sql << "select randomnumber from world where id = :id", soci::use(id),
        soci::into(random_number);
    return random_number;
}

// Keeps results alive so no call is optimised away.
volatile int result_sink = 0;

// ---------------------------------------------------------------------------------------
// Baseline round trips, written as Asio async operations like as_future.

// raw_post: posts fn to the pool, then posts the completion back to the handler's
// associated executor (tracked, so its io_context stays busy meanwhile). Nothing else:
// no strand, no pool of connections, no cancellation, which is the floor for as_future.
template <class Fn>
auto raw_post(asio::thread_pool& pool, Fn fn) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, int)>(
        [&pool](auto handler, Fn fn) {
            auto home = asio::prefer(asio::get_associated_executor(handler),
                                     asio::execution::outstanding_work.tracked);
            asio::post(pool, [handler = std::move(handler), fn = std::move(fn), home]() mutable {
                std::exception_ptr error;
                int result = 0;
                try {
                    result = fn();
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(home, [handler = std::move(handler), error, result]() mutable {
                    std::move(handler)(error, result);
                });
            });
        },
        asio::use_awaitable, std::move(fn));
}

// std_async: one std::async thread per call, its result delivered by posting back to
// the handler's executor (waiting on the future would block the io thread). The
// completion destroys the future, which joins the (by then finishing) thread.
template <class Fn>
auto std_async(Fn fn) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, int)>(
        [](auto handler, Fn fn) {
            using handler_type = decltype(handler);
            struct call {
                handler_type handler;
                std::future<void> thread;
                std::exception_ptr error;
                int result = 0;
            };
            auto home = asio::prefer(asio::get_associated_executor(handler),
                                     asio::execution::outstanding_work.tracked);
            auto* pending = new call{std::move(handler), {}, {}, 0};
            // The completion runs on the io thread, so never before this assignment.
            pending->thread = std::async(std::launch::async, [pending, fn, home]() mutable {
                try {
                    pending->result = fn();
                } catch (...) {
                    pending->error = std::current_exception();
                }
                asio::post(home, [pending] {
                    std::unique_ptr<call> done{pending};
                    done->thread = {};
                    std::move(done->handler)(done->error, done->result);
                });
            });
        },
        asio::use_awaitable, std::move(fn));
}

// ---------------------------------------------------------------------------------------
// Running coroutines and timing them.

template <class T>
struct is_awaitable : std::false_type {};
template <class T>
struct is_awaitable<asio::awaitable<T>> : std::true_type {};

// One coroutine's sequential calls. `call(i)` either returns the result (inline) or an
// awaitable; a latency is recorded per call when `latencies_ns` is given.
template <class Call>
asio::awaitable<void> call_loop(std::size_t calls, Call call, std::vector<double>* latencies_ns) {
    for (std::size_t i = 0; i < calls; ++i) {
        auto started = latencies_ns ? bench_clock::now() : bench_clock::time_point{};
        if constexpr (is_awaitable<decltype(call(i))>::value)
            result_sink = co_await call(i);
        else
            result_sink = call(i);
        if (latencies_ns)
            latencies_ns->push_back(
                std::chrono::duration<double, std::nano>(bench_clock::now() - started).count());
    }
}

// Spawns one coroutine per `make_loop(index)` on `io`; rethrows the first failure.
template <class MakeLoop>
void spawn_all(asio::io_context& io, std::size_t coroutines, MakeLoop make_loop,
               std::exception_ptr& failure) {
    for (std::size_t index = 0; index < coroutines; ++index)
        asio::co_spawn(io, make_loop(index), [&failure](std::exception_ptr error) {
            if (error && !failure)
                failure = error;
        });
}

// One timed run: how long it took, how many calls, and per-call latencies if recorded.
struct run_result {
    double seconds = 0;
    std::size_t calls = 0;
    std::vector<double> latencies_ns;
};

// Runs `coroutines` coroutines of `calls_each` calls on a fresh single-threaded
// io_context and times the whole.
template <class MakeCall>
run_result time_coroutines(std::size_t coroutines, std::size_t calls_each, MakeCall make_call,
                           bool record_latencies) {
    run_result run;
    run.calls = coroutines * calls_each;
    if (record_latencies)
        run.latencies_ns.reserve(run.calls);
    asio::io_context io{1};
    std::exception_ptr failure;
    auto* latencies = record_latencies ? &run.latencies_ns : nullptr;
    auto started = bench_clock::now();
    spawn_all(
        io, coroutines,
        [&](std::size_t index) { return call_loop(calls_each, make_call(index), latencies); },
        failure);
    io.run();
    run.seconds = std::chrono::duration<double>(bench_clock::now() - started).count();
    if (failure)
        std::rethrow_exception(failure);
    return run;
}

// Runs `coroutines` coroutines of `calls_each` calls on `executor` (e.g. a factory's
// worker threads), recording every call's latency, and times the whole.
template <class Executor, class MakeCall>
run_result time_coroutines_on(const Executor& executor, std::size_t coroutines,
                              std::size_t calls_each, MakeCall make_call) {
    run_result run;
    run.calls = coroutines * calls_each;
    std::vector<std::vector<double>> latencies(coroutines);  // one per coroutine: no sharing
    std::latch finished{static_cast<std::ptrdiff_t>(coroutines)};
    std::mutex failure_mutex;
    std::exception_ptr failure;
    auto started = bench_clock::now();
    for (std::size_t index = 0; index < coroutines; ++index) {
        latencies[index].reserve(calls_each);
        asio::co_spawn(executor, call_loop(calls_each, make_call(index), &latencies[index]),
                       [&](std::exception_ptr error) {
                           if (error) {
                               std::lock_guard lock{failure_mutex};
                               if (!failure)
                                   failure = error;
                           }
                           finished.count_down();
                       });
    }
    finished.wait();
    run.seconds = std::chrono::duration<double>(bench_clock::now() - started).count();
    if (failure)
        std::rethrow_exception(failure);
    for (auto& l : latencies)
        run.latencies_ns.insert(run.latencies_ns.end(), l.begin(), l.end());
    return run;
}

// ---------------------------------------------------------------------------------------
// Statistics over repetitions.

struct spread {
    double median = 0, min = 0, max = 0;
};

spread spread_of(std::vector<double> values) {
    if (values.empty())
        return {};
    std::sort(values.begin(), values.end());
    auto n = values.size();
    double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    return {median, values.front(), values.back()};
}

double percentile(std::vector<double>& values, double fraction) {
    auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank),
                     values.end());
    return values[rank];
}

// The figures of one benchmark row.
struct figures {
    spread ns_per_call, calls_per_second;
    std::optional<spread> p50_us, p99_us;  // only where latencies were recorded
};

figures summarise(std::vector<run_result> runs) {
    std::vector<double> ns_per_call, per_second, p50, p99;
    for (auto& run : runs) {
        ns_per_call.push_back(run.seconds * 1e9 / static_cast<double>(run.calls));
        per_second.push_back(static_cast<double>(run.calls) / run.seconds);
        if (!run.latencies_ns.empty()) {
            p50.push_back(percentile(run.latencies_ns, 0.50) / 1000);
            p99.push_back(percentile(run.latencies_ns, 0.99) / 1000);
        }
    }
    figures result{spread_of(ns_per_call), spread_of(per_second), {}, {}};
    if (!p50.empty()) {
        result.p50_us = spread_of(p50);
        result.p99_us = spread_of(p99);
    }
    return result;
}

// Runs `run_once` once to warm up, then `repetitions` times, and summarises.
template <class RunOnce>
figures measure(int repetitions, RunOnce run_once) {
    run_once();
    std::vector<run_result> runs;
    for (int r = 0; r < repetitions; ++r)
        runs.push_back(run_once());
    return summarise(std::move(runs));
}

// Two cases whose ratio is the figure: their repetitions alternate, so that a slow phase
// of a noisy machine weighs on both alike.
template <class RunA, class RunB>
std::pair<figures, figures> measure_alternately(int repetitions, RunA run_a, RunB run_b) {
    run_a();
    run_b();
    std::vector<run_result> a, b;
    for (int r = 0; r < repetitions; ++r) {
        a.push_back(run_a());
        b.push_back(run_b());
    }
    return {summarise(std::move(a)), summarise(std::move(b))};
}

// ---------------------------------------------------------------------------------------
// Report: a table on stdout, the same rows as JSON.

struct row {
    std::string section;  // e.g. "offload", "query sqlite"
    std::string name;
    std::size_t concurrency = 1;
    std::size_t connections = 0;  // 0: not applicable
    figures measured;
    std::optional<double> ratio;  // this row's throughput relative to `ratio_to`
    std::string ratio_to;
};

std::string with_commas(double value) {
    auto digits = std::to_string(static_cast<long long>(value + 0.5));
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

class report {
public:
    void add(row r) {
        if (rows_.empty() || rows_.back().section != r.section)
            print_header(r);
        print_row(r);
        rows_.push_back(std::move(r));
    }

    // Throughput of `name` in `section` at `concurrency` (and `connections`), if run.
    std::optional<double> throughput(const std::string& section, const std::string& name,
                                     std::size_t concurrency, std::size_t connections) const {
        for (const auto& r : rows_)
            if (r.section == section && r.name == name && r.concurrency == concurrency &&
                r.connections == connections)
                return r.measured.calls_per_second.median;
        return std::nullopt;
    }

    void note(const std::string& text) {
        std::cout << text << '\n' << std::flush;
        notes_.push_back(text);
    }

    void write_json(const std::string& path, const std::string& title) const {
        std::ofstream out(path);
        if (!out)
            throw std::runtime_error("cannot write " + path);
        out << "{\n  \"title\": " << quoted(title) << ",\n  \"notes\": [";
        for (std::size_t i = 0; i < notes_.size(); ++i)
            out << (i ? ", " : "") << quoted(notes_[i]);
        out << "],\n  \"results\": [\n";
        for (std::size_t i = 0; i < rows_.size(); ++i) {
            const row& r = rows_[i];
            out << "    {\"section\": " << quoted(r.section) << ", \"case\": " << quoted(r.name)
                << ", \"concurrency\": " << r.concurrency;
            if (r.connections)
                out << ", \"connections\": " << r.connections;
            out << ", \"ns_per_call\": " << json(r.measured.ns_per_call)
                << ", \"calls_per_second\": " << json(r.measured.calls_per_second);
            if (r.measured.p50_us)
                out << ", \"p50_us\": " << json(*r.measured.p50_us)
                    << ", \"p99_us\": " << json(*r.measured.p99_us);
            if (r.ratio)
                out << ", \"ratio\": " << fixed(*r.ratio, 4)
                    << ", \"ratio_to\": " << quoted(r.ratio_to);
            out << "}" << (i + 1 < rows_.size() ? "," : "") << "\n";
        }
        out << "  ]\n}\n";
        if (!out)
            throw std::runtime_error("cannot write " + path);
    }

private:
    static std::string quoted(const std::string& text) {
        std::string out = "\"";
        for (char c : text) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        return out + '"';
    }

    static std::string json(const spread& s) {
        return "{\"median\": " + fixed(s.median, 3) + ", \"min\": " + fixed(s.min, 3) +
               ", \"max\": " + fixed(s.max, 3) + "}";
    }

    static std::string range(const spread& s, int decimals = 0) {
        return decimals ? fixed(s.min, decimals) + ".." + fixed(s.max, decimals)
                        : with_commas(s.min) + ".." + with_commas(s.max);
    }

    static void print_header(const row& r) {
        std::printf("\n[%s]\n", r.section.c_str());
        if (r.measured.p50_us)
            std::printf("%-34s %3s %5s %12s %-22s %8s %9s %8s\n", "case", "C", "conns",
                        "median q/s", "min..max", "p50 us", "p99 us", "ratio");
        else
            std::printf("%-34s %3s %15s %-18s %12s %8s\n", "case", "K", "median ns/call",
                        "min..max", "calls/s", "ratio");
    }

    static void print_row(const row& r) {
        std::string ratio = r.ratio ? fixed(*r.ratio, 2) + "x " + r.ratio_to : "";
        const auto& m = r.measured;
        if (m.p50_us)
            std::printf("%-34s %3zu %5zu %12s %-22s %8s %9s  %s\n", r.name.c_str(), r.concurrency,
                        r.connections, with_commas(m.calls_per_second.median).c_str(),
                        range(m.calls_per_second).c_str(), fixed(m.p50_us->median, 1).c_str(),
                        fixed(m.p99_us->median, 1).c_str(), ratio.c_str());
        else
            std::printf("%-34s %3zu %15s %-18s %12s  %s\n", r.name.c_str(), r.concurrency,
                        with_commas(m.ns_per_call.median).c_str(), range(m.ns_per_call).c_str(),
                        with_commas(m.calls_per_second.median).c_str(), ratio.c_str());
        std::fflush(stdout);
    }

    std::vector<row> rows_;
    std::vector<std::string> notes_;
};

// ---------------------------------------------------------------------------------------
// Set-up helpers.

// A temporary directory for the SQLite files, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "asio-soci-bench-XXXXXX");
        if (!mkdtemp(pattern.data()))
            throw std::runtime_error("cannot create a temporary directory");
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    // sqlite:////absolute/dir/name
    std::string sqlite_url(const std::string& name) const {
        return "sqlite:///" + (path_ / name).string();
    }

private:
    std::filesystem::path path_;
};

// Library log lines go to stderr, warnings and worse only, so stdout is the table.
std::shared_ptr<spdlog::logger> quiet_logger() {
    static auto logger = [] {
        auto l = std::make_shared<spdlog::logger>(
            "asio_soci_bench", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_level(spdlog::level::warn);
        return l;
    }();
    return logger;
}

// In autocommit mode, as the raw SOCI baselines are: no transaction around the calls.
asio_soci::session_factory make_factory(const std::string& url, std::size_t pool_size) {
    return asio_soci::make_session_factory(url, {.pool_size = pool_size,
                                                 .acquire_timeout = 60s,
                                                 .logger = quiet_logger(),
                                                 .autocommit = true});
}

// Leases `count` sessions up front (connecting them), outside any measurement.
std::vector<asio_soci::session> acquire_sessions(const asio_soci::session_factory& factory,
                                                 std::size_t count) {
    std::vector<std::future<asio_soci::session>> pending;
    for (std::size_t i = 0; i < count; ++i)
        pending.push_back(factory.async_acquire(asio::use_future));
    std::vector<asio_soci::session> sessions;
    for (auto& p : pending)
        sessions.push_back(p.get());
    return sessions;
}

// On the heap: SOCI 4.0's session is not movable.
std::unique_ptr<soci::session> open_raw_session(const std::string& url) {
    auto parsed = asio_soci::database_url::parse(url);
    if (parsed.backend() == asio_soci::backend::postgresql)
        return std::make_unique<soci::session>(soci::postgresql, parsed.soci_connect_string());
    auto sql = std::make_unique<soci::session>(soci::sqlite3, parsed.soci_connect_string());
    // The factory's settings. A connection opening a WAL file may briefly need a lock.
    *sql << "pragma busy_timeout = 5000";
    *sql << "pragma journal_mode = wal";  // persistent in the file
    return sql;
}

// A factory for no-op offloading: sqlite:// (in-memory, always exactly one connection)
// for one session; a file for several, since in-memory pools hold only one.
asio_soci::session_factory make_noop_factory(std::size_t pool_size, const temp_dir& dir) {
    if (pool_size == 1)
        return make_factory("sqlite://", pool_size);
    // Switched to WAL beforehand: several connections opening a new file at once and
    // each switching it to WAL can fail with "database is locked".
    std::string url = dir.sqlite_url("noop.db");
    open_raw_session(url);
    return make_factory(url, pool_size);
}

// Drops, creates and fills world(id, randomnumber) in one transaction.
void create_world_table(const std::string& url) {
    auto session = open_raw_session(url);
    soci::session& sql = *session;
    soci::transaction transaction(sql);
    sql << "drop table if exists world";
    sql << "create table world (id integer primary key, randomnumber integer not null)";
    std::vector<int> ids(world_rows), random_numbers(world_rows);
    std::minstd_rand rng{42};
    std::uniform_int_distribution<int> values(1, 10'000);
    for (int i = 0; i < world_rows; ++i) {
        ids[static_cast<std::size_t>(i)] = i + 1;
        random_numbers[static_cast<std::size_t>(i)] = values(rng);
    }
    sql << "insert into world (id, randomnumber) values (:id, :rn)", soci::use(ids),
        soci::use(random_numbers);
    transaction.commit();
}

// Per-coroutine (or per-thread) random ids, reproducible.
struct id_source {
    explicit id_source(std::size_t seed) : rng(static_cast<unsigned>(seed + 1)) {}
    int next() { return ids(rng); }
    std::minstd_rand rng;
    std::uniform_int_distribution<int> ids{1, world_rows};
};

// ---------------------------------------------------------------------------------------
// The benchmark plan.

struct plan {
    int repetitions = 5;
    bool quick = false;
    std::size_t offload_calls = 100'000;  // per measurement, over all coroutines
    std::size_t std_async_calls = 10'000;
    std::size_t acquire_cycles = 100'000;
    std::size_t queries = 50'000;
    std::vector<std::string> sections;  // empty: all

    bool runs(const std::string& section) const {
        return sections.empty() ||
               std::find(sections.begin(), sections.end(), section) != sections.end();
    }
};

// Ways of making the offload round trip, measured side by side.
enum class offload_kind { as_future, inline_call, raw_post, std_async };

// Per-coroutine call makers for each offload kind; `sessions` are shared round-robin.
struct offload_setup {
    std::vector<asio_soci::session>* sessions = nullptr;
    asio::thread_pool* pool = nullptr;

    auto as_future_call(std::size_t coroutine) {
        auto* s = &(*sessions)[coroutine % sessions->size()];
        return [s](std::size_t) {
            return asio_soci::as_future(*s, [](soci::session&) { return noop_work(); });
        };
    }
    auto raw_post_call(std::size_t) {
        return [p = pool](std::size_t) { return raw_post(*p, [] { return noop_work(); }); };
    }
    static auto inline_call(std::size_t) {
        return [](std::size_t) { return noop_work(); };
    }
    static auto std_async_call(std::size_t) {
        return [](std::size_t) { return std_async([] { return noop_work(); }); };
    }
};

run_result time_offload(offload_kind kind, offload_setup& setup, std::size_t coroutines,
                        std::size_t calls_each) {
    switch (kind) {
        case offload_kind::as_future:
            return time_coroutines(
                coroutines, calls_each, [&](std::size_t c) { return setup.as_future_call(c); },
                false);
        case offload_kind::raw_post:
            return time_coroutines(
                coroutines, calls_each, [&](std::size_t c) { return setup.raw_post_call(c); },
                false);
        case offload_kind::std_async:
            return time_coroutines(coroutines, calls_each, &offload_setup::std_async_call, false);
        case offload_kind::inline_call:
            break;
    }
    return time_coroutines(coroutines, calls_each, &offload_setup::inline_call, false);
}

void run_offload_section(const plan& p, report& out, const temp_dir& dir) {
    struct variant {
        offload_kind kind;
        const char* name;
    };
    // raw_post first: the others are compared with it.
    const variant variants[] = {{offload_kind::raw_post, "raw_post (thread_pool round trip)"},
                                {offload_kind::as_future, "offload as_future(noop)"},
                                {offload_kind::inline_call, "inline (no offload)"},
                                {offload_kind::std_async, "std::async + post back"}};
    for (std::size_t coroutines : {std::size_t{1}, std::size_t{64}}) {
        std::size_t workers = coroutines == 1 ? 1 : 4;
        auto factory = make_noop_factory(workers, dir);
        auto sessions = acquire_sessions(factory, workers);
        asio::thread_pool pool{workers};
        offload_setup setup{&sessions, &pool};
        for (const auto& v : variants) {
            std::size_t total =
                v.kind == offload_kind::std_async ? p.std_async_calls : p.offload_calls;
            std::size_t calls_each = std::max<std::size_t>(1, total / coroutines);
            figures f = measure(
                p.repetitions, [&] { return time_offload(v.kind, setup, coroutines, calls_each); });
            auto baseline = out.throughput("offload", variants[0].name, coroutines, 0);
            // ratio as time per call relative to raw_post: 1.08x = 8% slower
            std::optional<double> ratio = 1.0;  // the raw_post row itself
            if (baseline)
                ratio = *baseline / f.calls_per_second.median;
            out.add({"offload", v.name, coroutines, 0, f, ratio, "raw_post"});
        }
        pool.join();
    }
}

// One acquire + release cycle per call: the session is destroyed at once.
auto acquire_release_call(const asio_soci::session_factory& factory) {
    return [&factory](std::size_t) -> asio::awaitable<int> {
        asio_soci::session s = co_await factory.async_acquire();
        co_return s ? 1 : 0;
    };
}

void run_acquire_section(const plan& p, report& out, const temp_dir& dir) {
    constexpr std::size_t pool_size = 4;
    auto factory = make_noop_factory(pool_size, dir);
    acquire_sessions(factory, pool_size);  // opens every connection, then gives them back
    for (auto [coroutines, name] : {std::pair<std::size_t, const char*>{1, "acquire+release"},
                                    {64, "acquire+release (contended)"}}) {
        std::size_t calls_each = std::max<std::size_t>(1, p.acquire_cycles / coroutines);
        figures f = measure(p.repetitions, [&] {
            return time_coroutines(
                coroutines, calls_each, [&](std::size_t) { return acquire_release_call(factory); },
                false);
        });
        out.add({"pool acquire+release, pool_size 4", name, coroutines, pool_size, f, {}, ""});
    }
}

// The same query on raw SOCI sessions, one per thread, each thread doing its share:
// thread-per-connection throughput. threads == 1 is the synchronous per-query floor.
run_result time_raw_threads(const std::string& url, std::size_t threads, std::size_t queries) {
    std::vector<std::unique_ptr<soci::session>> sessions;
    for (std::size_t t = 0; t < threads; ++t)
        sessions.push_back(open_raw_session(url));
    std::size_t each = std::max<std::size_t>(1, queries / threads);
    std::vector<std::vector<double>> latencies(threads);
    std::vector<std::exception_ptr> failures(threads);
    std::latch start{static_cast<std::ptrdiff_t>(threads) + 1};
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            latencies[t].reserve(each);
            id_source ids{t};
            start.arrive_and_wait();
            try {
                for (std::size_t i = 0; i < each; ++i) {
                    auto started = bench_clock::now();
                    result_sink = select_random_number(*sessions[t], ids.next());
                    latencies[t].push_back(
                        std::chrono::duration<double, std::nano>(bench_clock::now() - started)
                            .count());
                }
            } catch (...) {
                failures[t] = std::current_exception();
            }
        });
    start.arrive_and_wait();
    auto started = bench_clock::now();
    for (auto& w : workers)
        w.join();
    run_result run;
    run.seconds = std::chrono::duration<double>(bench_clock::now() - started).count();
    run.calls = each * threads;
    for (auto& failure : failures)
        if (failure)
            std::rethrow_exception(failure);
    for (auto& l : latencies)
        run.latencies_ns.insert(run.latencies_ns.end(), l.begin(), l.end());
    return run;
}

void run_query_section(const plan& p, report& out, const std::string& database,
                       const std::string& url) {
    create_world_table(url);
    std::string section = "query " + database + ": select randomnumber from world where id = :id";
    const std::size_t pool_sizes[] = {4, 16};

    // Baselines first, as the as_future rows are compared with them.
    out.add({section,
             "raw soci, sync loop (1 thread)",
             1,
             1,
             measure(p.repetitions, [&] { return time_raw_threads(url, 1, p.queries); }),
             {},
             ""});
    for (std::size_t connections : pool_sizes)
        out.add(
            {section,
             "raw soci, thread per connection",
             connections,
             connections,
             measure(p.repetitions, [&] { return time_raw_threads(url, connections, p.queries); }),
             {},
             ""});

    for (std::size_t connections : pool_sizes) {
        auto factory = make_factory(url, connections);
        auto sessions = acquire_sessions(factory, connections);
        for (std::size_t coroutines : {std::size_t{1}, std::size_t{16}, std::size_t{64}}) {
            std::size_t calls_each = std::max<std::size_t>(1, p.queries / coroutines);
            // Coroutines share the leased sessions round-robin (calls on one session queue
            // on its strand), so all connections are busy once coroutines >= connections.
            auto make_call = [&](std::size_t coroutine) {
                auto* s = &sessions[coroutine % sessions.size()];
                return [s, ids = std::make_shared<id_source>(coroutine)](std::size_t) {
                    return asio_soci::as_future(*s, [id = ids->next()](soci::session& sql) {
                        return select_random_number(sql, id);
                    });
                };
            };
            auto baseline = out.throughput(section, "raw soci, thread per connection", connections,
                                           connections);
            auto add_row = [&](const char* name, const figures& f) {
                std::optional<double> ratio;
                if (baseline)
                    ratio = f.calls_per_second.median / *baseline;
                out.add({section, name, coroutines, connections, f, ratio, "raw threads q/s"});
            };
            add_row("as_future (shared sessions)", measure(p.repetitions, [&] {
                        return time_coroutines(coroutines, calls_each, make_call, true);
                    }));
            // The same coroutines on the factory's worker threads: each resumes on the
            // worker that ran its call and queues the next there, with no thread hand-off.
            if (coroutines > 1)
                add_row("as_future, coroutines on the workers", measure(p.repetitions, [&] {
                            return time_coroutines_on(factory.get_executor(), coroutines,
                                                      calls_each, make_call);
                        }));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Models: the typed get_by_key against the statement a user would write and keep.

struct world_row {
    int id = 0;
    int randomnumber = 0;
};

const asio_soci::table<world_row>& table_of(asio_soci::model<world_row>) {
    static const auto table =
        asio_soci::table<world_row>("world")
            .column("id", &world_row::id, asio_soci::sql::integer, {.primary_key = true})
            .column("randomnumber", &world_row::randomnumber, asio_soci::sql::integer);
    return table;
}

// The hand-written equivalent: prepared once per connection, bound to its members.
struct kept_world_select {
    explicit kept_world_select(soci::session& sql)
        : select((sql.prepare << "select id, randomnumber from world where id = :id", soci::use(id),
                  soci::into(row.id), soci::into(row.randomnumber))) {}
    int id = 0;
    world_row row;
    soci::statement select;
};

world_row kept_select(soci::session& sql, int id) {
    auto& q = asio_soci::connection_state<kept_world_select>(sql);
    q.id = id;
    q.select.execute(true);
    world_row found = q.row;
    while (q.select.fetch()) {  // to the end (SQLite)
    }
    return found;
}

void run_model_section(const plan& p, report& out, const std::string& database,
                       const std::string& url) {
    create_world_table(url);
    const std::string section = "models " + database + ": a world row by its key";
    constexpr std::size_t connections = 4, coroutines = 16;
    auto factory = make_factory(url, connections);
    auto sessions = acquire_sessions(factory, connections);
    const std::size_t calls_each = std::max<std::size_t>(1, p.queries / coroutines);
    auto time_with = [&](auto get) {
        return [&, get] {
            return time_coroutines(
                coroutines, calls_each,
                [&](std::size_t coroutine) {
                    auto* s = &sessions[coroutine % sessions.size()];
                    return [s, get, ids = std::make_shared<id_source>(coroutine)](std::size_t) {
                        return asio_soci::as_future(*s,
                                                    [get, id = ids->next()](soci::session& sql) {
                                                        return get(sql, id).randomnumber;
                                                    });
                    };
                },
                false);
        };
    };
    const auto [kept, typed] = measure_alternately(
        p.repetitions, time_with(&kept_select), time_with([](soci::session& sql, int id) {
            return *asio_soci::get_by_key<world_row>(sql, id);
        }));
    out.add({section, "hand-written kept statement", coroutines, connections, kept, {}, ""});
    out.add({section, "get_by_key<world_row>", coroutines, connections, typed,
             typed.calls_per_second.median / kept.calls_per_second.median, "kept statement q/s"});
}

// ---------------------------------------------------------------------------------------
// The zero-hop PostgreSQL API (asio_soci::pg): every call from one io thread.

// `command`, with its output; throws when it fails.
std::string run_command(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe)
        throw std::runtime_error("cannot run " + command);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
        output.append(buffer, n);
    if (::pclose(pipe) != 0)
        throw std::runtime_error("failed: " + command + "\n" + output);
    return output;
}

std::string shell_quoted(const std::string& text) {
    std::string quoted = "'";
    for (char c : text)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

// pgbench's select-only capacity (-S, prepared, `clients` connections, 2 threads), in
// queries/s; pgbench_accounts is created first (pgbench -i -s 1: 100,000 rows).
double pgbench_select_capacity(const std::string& url, std::size_t clients, int seconds) {
    const auto conninfo = shell_quoted(asio_soci::database_url::parse(url).soci_connect_string());
    run_command("pgbench -i -q -s 1 " + conninfo);
    const auto output = run_command("pgbench -S -M prepared -n -j 2 -c " + std::to_string(clients) +
                                    " -T " + std::to_string(seconds) + " " + conninfo);
    const auto at = output.find("tps = ");
    if (at == std::string::npos)
        throw std::runtime_error("pgbench printed no tps:\n" + output);
    return std::stod(output.substr(at + 6));
}

void run_zero_hop_section(const plan& p, report& out, const std::string& url) {
    const std::string section =
        "zero-hop PostgreSQL (asio_soci::pg), one io thread: primary-key lookups";
    const std::string query_section =
        "query PostgreSQL: select randomnumber from world where id = :id";
    create_world_table(url);  // (again, when section 3 ran: it also runs alone)
    constexpr std::size_t connections = 16;
    auto factory = make_factory(url, connections);
    auto sessions = acquire_sessions(factory, connections);

    // One lookup per call, as the raw threads do: compared with 16 of them.
    const auto raw =
        out.throughput(query_section, "raw soci, thread per connection", connections, connections);
    for (std::size_t coroutines : {std::size_t{16}, std::size_t{64}}) {
        auto make_call = [&](std::size_t coroutine) {
            auto* s = &sessions[coroutine % sessions.size()];
            return [s, ids = std::make_shared<id_source>(coroutine)](
                       std::size_t) -> asio::awaitable<int> {
                auto r = co_await asio_soci::pg::async_query(
                    *s, "select randomnumber from world where id = $1", ids->next());
                co_return r.front().get<int>(0);
            };
        };
        const std::size_t calls_each = std::max<std::size_t>(1, p.queries / coroutines);
        auto f = measure(p.repetitions,
                         [&] { return time_coroutines(coroutines, calls_each, make_call, true); });
        std::optional<double> ratio;
        if (raw)
            ratio = f.calls_per_second.median / *raw;
        out.add({section, "pg::async_query, world", coroutines, connections, f, ratio,
                 "16 raw threads q/s"});
    }

    // Pipelined: 16 lookups per call (pg::batch, one round trip), against pgbench -S on its
    // own table and query. Figures are queries/s.
    double capacity = 0;
    try {
        capacity = pgbench_select_capacity(url, connections, p.quick ? 2 : 5);
    } catch (const std::exception& e) {
        out.note(std::string("pgbench: skipped (") + e.what() + ")");
    }
    constexpr std::size_t batch_size = 16;
    auto make_batch_call = [&](std::size_t coroutine) {
        auto* s = &sessions[coroutine % sessions.size()];
        return [s, rng = std::make_shared<std::minstd_rand>(coroutine + 1)](
                   std::size_t) -> asio::awaitable<int> {
            asio_soci::pg::batch lookups;
            std::uniform_int_distribution<int> aids{1, 100'000};
            for (std::size_t i = 0; i < batch_size; ++i)
                lookups.add("select abalance from pgbench_accounts where aid = $1", aids(*rng));
            auto results = co_await asio_soci::pg::async_execute(*s, std::move(lookups));
            co_return results.back().front().get<int>(0);
        };
    };
    if (capacity > 0) {
        const std::size_t calls_each =
            std::max<std::size_t>(1, p.queries / connections / batch_size * 4);
        auto f = measure(p.repetitions, [&] {
            auto run = time_coroutines(connections, calls_each, make_batch_call, true);
            run.calls *= batch_size;  // queries, not calls
            return run;
        });
        out.add({section, "pg::async_execute, batches of 16", connections, connections, f,
                 f.calls_per_second.median / capacity, "pgbench -S q/s"});
        out.note(
            "batches of 16: queries/s on pgbench_accounts, latencies per batch; pgbench "
            "-S -M prepared -j 2 -c 16 (same run): " +
            with_commas(capacity) + " queries/s");
    }
}

// ---------------------------------------------------------------------------------------
// --case: one case, K = 1, N iterations, one summary line.

const std::map<std::string, std::string> case_descriptions = {
    {"offload_noop", "as_future of a no-op on an sqlite:// session, pool_size 1"},
    {"raw_post_noop", "hand-written post round trip to a 1-thread pool"},
    {"acquire_release", "async_acquire + release, pool_size 4 (SQLite file)"},
    {"inline_noop", "the no-op called on the io thread"},
    {"std_async_noop", "std::async per call, result posted back"},
};

template <class Call>
double time_case_loop(std::size_t iterations, Call call) {
    asio::io_context io{1};
    std::exception_ptr failure;
    spawn_all(
        io, 1, [&](std::size_t) { return call_loop(iterations, call, nullptr); }, failure);
    auto started = bench_clock::now();
    run_case_loop(io);
    double seconds = std::chrono::duration<double>(bench_clock::now() - started).count();
    if (failure)
        std::rethrow_exception(failure);
    return seconds;
}

void run_single_case(const std::string& name, std::size_t iterations) {
    temp_dir dir;
    double seconds = 0;
    if (name == "offload_noop" || name == "raw_post_noop" || name == "inline_noop" ||
        name == "std_async_noop") {
        auto factory = make_noop_factory(1, dir);
        auto sessions = acquire_sessions(factory, 1);
        asio::thread_pool pool{1};
        offload_setup setup{&sessions, &pool};
        if (name == "offload_noop")
            seconds = time_case_loop(iterations, setup.as_future_call(0));
        else if (name == "raw_post_noop")
            seconds = time_case_loop(iterations, setup.raw_post_call(0));
        else if (name == "inline_noop")
            seconds = time_case_loop(iterations, offload_setup::inline_call(0));
        else
            seconds = time_case_loop(iterations, offload_setup::std_async_call(0));
        pool.join();
    } else if (name == "acquire_release") {
        auto factory = make_noop_factory(4, dir);
        acquire_sessions(factory, 4);
        seconds = time_case_loop(iterations, acquire_release_call(factory));
    } else {
        throw std::invalid_argument("unknown case '" + name + "' (see --help)");
    }
    double n = static_cast<double>(iterations);
    std::cout << name << ": " << iterations << " iterations in " << fixed(seconds, 3) << " s, "
              << with_commas(seconds * 1e9 / n) << " ns/call, " << with_commas(n / seconds)
              << " calls/s\n";
}

// ---------------------------------------------------------------------------------------

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0)
        return "unknown host";
    return name;
}

void run_all(const plan& p, const std::optional<std::string>& postgresql_url,
             const std::string& json_path) {
    std::string title = std::string("asio-soci benchmarks (") + (p.quick ? "quick" : "full") +
                        ") on " + host_name() + ", " +
                        std::to_string(std::thread::hardware_concurrency()) + " CPUs, " +
                        std::to_string(p.repetitions) + " repetitions (median, min..max)";
    std::cout << title << '\n';
    report out;
    out.note(
        "ratio: offload = time per call / raw_post's (K=1: pool_size 1 on sqlite://, 1-thread "
        "pool; K=64: 4 sessions on a SQLite file, 4-thread pool); query = q/s / raw "
        "thread-per-connection q/s with the same number of connections");
    temp_dir dir;
    if (p.runs("offload"))
        run_offload_section(p, out, dir);
    if (p.runs("acquire"))
        run_acquire_section(p, out, dir);
    if (p.runs("query"))
        run_query_section(p, out, "SQLite", dir.sqlite_url("world.db"));
    if (p.runs("models"))
        run_model_section(p, out, "SQLite", dir.sqlite_url("world.db"));
    if (postgresql_url) {
        if (p.runs("query"))
            run_query_section(p, out, "PostgreSQL", *postgresql_url);
        if (p.runs("models"))
            run_model_section(p, out, "PostgreSQL", *postgresql_url);
        if (p.runs("zero-hop"))
            run_zero_hop_section(p, out, *postgresql_url);
    } else {
        std::cout << '\n';
        out.note("PostgreSQL: skipped (no URL)");
    }
    if (!json_path.empty())
        out.write_json(json_path, title);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "asio-soci benchmarks: as_future, the pool and real queries against hand-written "
        "Asio and raw SOCI baselines, measured in the same run.\n"
        "With --case NAME --iterations N, one case runs alone (K = 1) after its setup; the "
        "loop runs inside the function run_case_loop, so\n"
        "  valgrind --tool=callgrind --toggle-collect='run_case_loop*' asio_soci_bench "
        "--case offload_noop --iterations 20000\n"
        "counts the io thread's instructions of the loop only (worker threads run outside "
        "it: for every thread, subtract the totals of two runs with different N).\n"
        "Section 3 drops and recreates the table `world` in the PostgreSQL database, and "
        "section 4 the pgbench tables (pgbench -i), running pgbench from PATH."};
    plan p;
    std::string json_path, case_name, postgresql_url;
    std::size_t iterations = 100'000;
    app.add_flag("--quick", p.quick, "3 repetitions of small runs, a few seconds in all (CI)");
    app.add_option("--json", json_path, "Also write the figures as JSON to FILE");
    app.add_option("--section", p.sections, "Run only these sections (repeatable; default: all)")
        ->check(CLI::IsMember({"offload", "acquire", "query", "models", "zero-hop"}));
    std::string case_help = "Run only this case (K = 1), then print one line:";
    for (const auto& [name, description] : case_descriptions)
        case_help += "\n  " + name + ": " + description;
    app.add_option("--case", case_name, case_help)->check(CLI::IsMember([] {
        std::vector<std::string> names;
        for (const auto& entry : case_descriptions)
            names.push_back(entry.first);
        return names;
    }()));
    auto* iterations_option =
        app.add_option("--iterations", iterations, "Iterations of --case (default 100000)")
            ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000'000}));
    auto* repetitions_option =
        app.add_option("--repetitions", p.repetitions, "Repetitions per figure (default 5)")
            ->check(CLI::Range(1, 1000));
    app.add_option("--postgresql-url", postgresql_url,
                   "PostgreSQL URL for the query benchmarks (default: "
                   "$ASIO_SOCI_BENCH_POSTGRESQL_URL; none: skipped)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }

    try {
        if (!case_name.empty()) {
            run_single_case(case_name, iterations);
            return 0;
        }
        if (iterations_option->count())
            throw std::invalid_argument("--iterations needs --case");
        if (p.quick) {
            if (!repetitions_option->count())
                p.repetitions = 3;
            p.offload_calls = 4'000;
            p.std_async_calls = 400;
            p.acquire_cycles = 4'000;
            p.queries = 2'000;
        }
        std::optional<std::string> pg;
        if (!postgresql_url.empty())
            pg = postgresql_url;
        else if (const char* from_env = std::getenv("ASIO_SOCI_BENCH_POSTGRESQL_URL");
                 from_env && *from_env)
            pg = from_env;
        run_all(p, pg, json_path);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "asio_soci_bench: " << e.what() << '\n';
        return 1;
    }
}
