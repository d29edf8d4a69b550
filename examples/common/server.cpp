#include "server.hpp"

#include <asio/post.hpp>
#include <asio/signal_set.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace example {

void add_server_options(CLI::App& app, server_options& options, std::string default_url) {
    options.database_url = std::move(default_url);
    app.add_option("--database-url", options.database_url,
                   "Database URL (sqlite:///file.db, postgresql://user@host/db)")
        ->capture_default_str();
    app.add_option("--address", options.address, "Address to listen on")->capture_default_str();
    app.add_option("--port", options.port, "Port to listen on (0: any free port)")
        ->capture_default_str();
    app.add_option("--pool-size", options.pool_size, "Database connections at most")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("--acquire-timeout-ms", options.acquire_timeout_ms,
                   "How long a request waits for a free connection before a 503")
        ->check(CLI::Range(1L, 3600L * 1000))
        ->capture_default_str();
    app.add_option("--max-waiting", options.max_waiting,
                   "Requests that may wait for a connection at once; more get a 503 at once "
                   "(0: no limit)")
        ->capture_default_str();
    app.add_option("--wait-for-database", options.wait_for_database_s,
                   "Seconds to keep trying at start-up while the database cannot be reached "
                   "(0: exit at once)")
        ->check(CLI::Range(0L, 86400L))
        ->capture_default_str();
}

asio_soci::pool_options pool_options(const server_options& options) {
    return {.pool_size = options.pool_size,
            .acquire_timeout = std::chrono::milliseconds{options.acquire_timeout_ms},
            .max_waiting = options.max_waiting};
}

std::string sqlite_url_next_to_executable(std::string_view file_name) {
    auto executable = std::filesystem::read_symlink("/proc/self/exe");
    return "sqlite:///" + (executable.parent_path() / file_name).string();
}

asio_soci::migration_set migrations_for(asio_soci::backend dialect,
                                        asio_soci::migration_set postgresql,
                                        asio_soci::migration_set sqlite) {
    switch (dialect) {
        case asio_soci::backend::postgresql:
            return postgresql;
        case asio_soci::backend::sqlite3:
            return sqlite;
        case asio_soci::backend::mysql:
            break;
    }
    throw std::invalid_argument("the examples have migrations for PostgreSQL and SQLite only");
}

void upgrade_schema(const asio_soci::session_factory& factory,
                    const asio_soci::migration_set& migrations, const server_options& options,
                    const std::string& version_table) {
    const auto applied = asio_soci::upgrade_to_head(
        factory, migrations,
        {.version_table = version_table,
         .wait_for_database = std::chrono::seconds{options.wait_for_database_s}});
    if (applied.empty())
        spdlog::info("schema ({}) up to date at revision {}", version_table, migrations.head());
    else
        spdlog::info("schema ({}): applied {} migration(s), now at revision {}", version_table,
                     applied.size(), migrations.head());
}

void log_to_stderr() {
    spdlog::set_default_logger(spdlog::stderr_color_mt("server"));
}

void announce_listening(std::string_view scheme, const asio::ip::tcp::endpoint& endpoint) {
    std::cout << "listening on " << scheme << "://" << endpoint.address().to_string() << ':'
              << endpoint.port() << std::endl;
    spdlog::info("listening on {}://{}:{}", scheme, endpoint.address().to_string(),
                 endpoint.port());
}

void in_flight::finish() {
    if (count_.fetch_sub(1) != 1)
        return;
    std::vector<std::function<void()>> ready;
    {
        // Under the lock that on_idle() holds while it decides: a callback is either run
        // by on_idle() or queued before this takes the queue.
        std::lock_guard lock{mutex_};
        ready.swap(idle_callbacks_);
    }
    for (auto& fn : ready)
        fn();
}

void in_flight::on_idle(std::function<void()> fn) {
    {
        std::lock_guard lock{mutex_};
        if (count_.load() != 0) {
            idle_callbacks_.push_back(std::move(fn));
            return;
        }
    }
    fn();
}

void stop_on_signal(asio::io_context& io, in_flight& requests,
                    std::function<void(std::function<void()> then)> stop_accepting) {
    auto signals = std::make_shared<asio::signal_set>(io, SIGINT, SIGTERM);
    signals->async_wait([&io, &requests, signals, stop_accepting = std::move(stop_accepting)](
                            const std::error_code& error, int signal) {
        if (error)
            return;
        spdlog::info("signal {}: stopping, {} request(s) in flight", signal, requests.count());
        stop_accepting([&io, &requests] {
            requests.on_idle([&io] {
                // Posted, so that the last responses, already queued for writing on the
                // io_context, go out before it stops.
                asio::post(io, [&io] {
                    spdlog::info("stopped");
                    io.stop();
                });
            });
        });
    });
}

}  // namespace example
