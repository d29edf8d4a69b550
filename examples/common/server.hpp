// What every example server shares: command-line options, logging, the "listening on"
// line, and a clean stop on SIGINT/SIGTERM. Framework-neutral (no RESTinio here).
#pragma once

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/migrations.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace example {

/// The options every example server takes.
struct server_options {
    std::string database_url;
    std::string address = "127.0.0.1";
    unsigned short port = 8888;
    std::size_t pool_size = 5;
    long acquire_timeout_ms = 30000;
    std::size_t max_waiting = 0;
    long wait_for_database_s = 60;
};

/// Adds --database-url (defaulting to `default_url`), --address, --port, --pool-size,
/// --acquire-timeout-ms, --max-waiting and --wait-for-database to `app`.
void add_server_options(CLI::App& app, server_options& options, std::string default_url);

/// The pool options the command line asked for.
asio_soci::pool_options pool_options(const server_options& options);

/// `sqlite:///<directory of the running executable>/<file_name>`.
std::string sqlite_url_next_to_executable(std::string_view file_name);

/// `postgresql` or `sqlite`, the set written for `dialect` (where the SQL differs, e.g.
/// in how a database-assigned id is declared); std::invalid_argument for MySQL.
asio_soci::migration_set migrations_for(asio_soci::backend dialect,
                                        asio_soci::migration_set postgresql,
                                        asio_soci::migration_set sqlite);

/// Applies the pending `migrations` to the database of `factory` (version table
/// `version_table`) and logs what it did, waiting up to --wait-for-database for a
/// database that is not up yet. Blocks: call it before the io_context runs.
void upgrade_schema(const asio_soci::session_factory& factory,
                    const asio_soci::migration_set& migrations, const server_options& options,
                    const std::string& version_table = "asio_soci_migrations");

/// Sends spdlog's default logger to stderr, so that stdout carries only the
/// "listening on" line that tests (and scripts) read.
void log_to_stderr();

/// Prints "listening on SCHEME://ADDR:PORT" to stdout, flushed, and logs it.
void announce_listening(std::string_view scheme, const asio::ip::tcp::endpoint& endpoint);

/// Counts the requests in flight on a server, so that a stop lets them finish. Safe to
/// use from several threads (a server may run its io_context on several).
class in_flight {
public:
    void start() { count_.fetch_add(1); }
    void finish();
    std::size_t count() const { return count_.load(); }
    /// Calls `fn` once nothing is in flight (at once when nothing is).
    void on_idle(std::function<void()> fn);

private:
    std::atomic<std::size_t> count_{0};
    std::mutex mutex_;
    std::vector<std::function<void()>> idle_callbacks_;  // guarded by mutex_
};

/// On SIGINT or SIGTERM: calls `stop_accepting(then)`, which calls `then` once no new
/// request can arrive; then lets the requests in flight finish (their sessions go back
/// to the pool) and stops `io`, whose run() then returns in every thread running it.
void stop_on_signal(asio::io_context& io, in_flight& requests,
                    std::function<void(std::function<void()> then)> stop_accepting);

}  // namespace example
