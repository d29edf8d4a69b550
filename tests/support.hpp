// Shared helpers of the tests: the database under test, and running coroutines.
#pragma once

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/migrations.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace test {

/// The database the current test run targets (ASIO_SOCI_TEST_BACKEND), empty and private
/// to the instance: a fresh SQLite file, or a fresh schema in the PostgreSQL database
/// named by ASIO_SOCI_TEST_POSTGRESQL_URL, first on the search_path of url(). Both go
/// when the instance goes.
class database {
public:
    database();
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    bool is_postgresql() const { return postgresql_; }
    const std::string& url() const { return url_; }
    /// url() with one more query parameter (a value that needs no percent-encoding).
    std::string url_with(const std::string& key, const std::string& value) const;
    /// A table name unique to this instance (for several tables of one kind).
    std::string table(const std::string& prefix);
    /// Creates a table `name(id integer primary key, name varchar(100) unique)`.
    std::string create_table(const std::string& prefix);
    /// A statement that runs for a minute unless the database is asked to stop it.
    std::string slow_statement() const;
    /// Runs a query synchronously on a connection of its own and returns one integer.
    long long scalar(const std::string& query);
    void execute(const std::string& statement);
    /// A raw SOCI connection of the test's own, outside any pool.
    std::unique_ptr<soci::session> connect() const;

private:
    bool postgresql_ = false;
    std::string url_;
    std::string file_;    // SQLite
    std::string schema_;  // PostgreSQL
};

/// A migrations directory of the test's own, removed at the end.
class migration_dir {
public:
    migration_dir();
    ~migration_dir();
    migration_dir(const migration_dir&) = delete;
    migration_dir& operator=(const migration_dir&) = delete;

    void write(const std::string& name, const std::string& content) const;
    void remove(const std::string& name) const;
    asio_soci::migration_set load() const;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// A logger for a pool or migrator under test, and a future that becomes ready the first
/// time a message containing `text` is logged through it: a way to wait for an event
/// that the library only logs (a retry, a wait).
struct log_watch {
    explicit log_watch(std::string text);
    std::shared_ptr<spdlog::logger> logger;
    std::shared_future<void> seen;
};

/// The name of the backend under test, for skip messages and section names.
std::string backend_name();

/// True when `e` holds asio::system_error(operation_aborted).
bool is_aborted(const std::exception_ptr& e);

/// Runs `aw` on `io` until it completes, and returns its result or rethrows.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> aw) {
    auto result = asio::co_spawn(io, std::move(aw), asio::use_future);
    io.restart();
    io.run();
    return result.get();
}

/// Spawns `count` coroutines, make(0) ... make(count - 1), on `io`, runs it until they
/// have all ended, and returns how many ended with an exception.
template <class MakeCoroutine>
int run_concurrently(asio::io_context& io, int count, MakeCoroutine make) {
    int failures = 0;
    for (int i = 0; i < count; ++i)
        asio::co_spawn(io, make(i), [&](std::exception_ptr e) { failures += e != nullptr; });
    io.restart();
    io.run();
    return failures;
}

/// Completes once `flag` is set (by another thread), checking every millisecond: a
/// way to wait for an event in a race such as `co_await (call() || wait_until(f))`,
/// which then cancels `call()` at a known point rather than after a guessed delay.
asio::awaitable<void> wait_until(const std::atomic<bool>& flag);

/// PostgreSQL: ends backend `pid` (pg_terminate_backend) from a thread of its own, once
/// that backend runs a statement containing pg_sleep; get() waits for it to have done so.
std::future<void> terminate_backend_once_sleeping(database& db, int pid);

/// Starts an acquisition from `factory`, lets it queue, calls `unblock`, and returns
/// whether `flag` was already set when the acquisition succeeded: proves that a
/// connection is not handed on before the work that `unblock` releases has finished.
bool next_acquisition_sees(asio::io_context& io, const asio_soci::session_factory& factory,
                           const std::atomic<bool>& flag, const std::function<void()>& unblock);

}  // namespace test
