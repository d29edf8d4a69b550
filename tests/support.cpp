#include "support.hpp"

#include <spdlog/sinks/base_sink.h>

#include <asio/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace test {

namespace {

std::atomic<int> counter{0};

std::string unique_suffix() {
    return std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

}  // namespace

std::string backend_name() {
    const char* backend = std::getenv("ASIO_SOCI_TEST_BACKEND");
    return backend ? backend : "sqlite";
}

database::database() {
    if (backend_name() == "postgresql") {
        const char* url = std::getenv("ASIO_SOCI_TEST_POSTGRESQL_URL");
        if (!url || !*url)
            throw std::runtime_error("ASIO_SOCI_TEST_POSTGRESQL_URL is not set");
        postgresql_ = true;
        url_ = url;
        schema_ = "test_" + unique_suffix();
        execute("create schema " + schema_);
        // Unqualified names resolve in, and new tables go to, the test's own schema.
        url_ = url_with("options", "-csearch_path%3D" + schema_);
    } else {
        file_ =
            (std::filesystem::temp_directory_path() / ("asio_soci_test_" + unique_suffix() + ".db"))
                .string();
        url_ = "sqlite:///" + file_;
    }
}

database::~database() {
    if (postgresql_) {
        try {
            execute("drop schema if exists " + schema_ + " cascade");
        } catch (...) {
        }
    } else {
        for (const char* suffix : {"", "-wal", "-shm", "-journal"})
            std::remove((file_ + suffix).c_str());
    }
}

std::string database::url_with(const std::string& key, const std::string& value) const {
    return url_ + (url_.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

std::string database::slow_statement() const {
    return postgresql_ ? "select pg_sleep(60)"
                       : "with recursive c(x) as (select 1 union all select x + 1 from c "
                         "limit 2000000000) select count(*) from c";
}

std::string database::table(const std::string& prefix) {
    return prefix + "_" + unique_suffix();
}

std::string database::create_table(const std::string& prefix) {
    auto name = table(prefix);
    execute("create table " + name + " (id integer primary key, name varchar(100) unique)");
    return name;
}

std::unique_ptr<soci::session> database::connect() const {
    auto url = asio_soci::database_url::parse(url_);
    if (postgresql_)
        return std::make_unique<soci::session>(soci::postgresql, url.soci_connect_string());
    return std::make_unique<soci::session>(soci::sqlite3, url.soci_connect_string());
}

long long database::scalar(const std::string& query) {
    auto sql = connect();
    long long value = 0;
    *sql << query, soci::into(value);
    return value;
}

void database::execute(const std::string& statement) {
    *connect() << statement;
}

bool is_aborted(const std::exception_ptr& e) {
    try {
        if (e)
            std::rethrow_exception(e);
    } catch (const asio::system_error& error) {
        return error.code() == asio::error::operation_aborted;
    } catch (...) {
    }
    return false;
}

asio::awaitable<void> wait_until(const std::atomic<bool>& flag) {
    asio::steady_timer timer{co_await asio::this_coro::executor};
    while (!flag) {
        timer.expires_after(std::chrono::milliseconds{1});
        co_await timer.async_wait(asio::use_awaitable);
    }
}

bool next_acquisition_sees(asio::io_context& io, const asio_soci::session_factory& factory,
                           const std::atomic<bool>& flag, const std::function<void()>& unblock) {
    auto acquire = [&]() -> asio::awaitable<bool> {
        auto s = co_await factory.async_acquire();
        co_return flag.load();
    };
    auto seen = asio::co_spawn(io, acquire(), asio::use_future);
    io.restart();
    io.poll();  // the acquisition is queued now
    unblock();
    io.run();
    return seen.get();
}

migration_dir::migration_dir()
    : path_(std::filesystem::temp_directory_path() / ("asio_soci_migrations_" + unique_suffix())) {
    std::filesystem::create_directories(path_);
}

migration_dir::~migration_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void migration_dir::write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
}

void migration_dir::remove(const std::string& name) const {
    std::filesystem::remove(path_ / name);
}

asio_soci::migration_set migration_dir::load() const {
    return asio_soci::migration_set::from_directory(path_);
}

namespace {

class first_match_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit first_match_sink(std::string text) : text_(std::move(text)) {}
    std::shared_future<void> seen() const { return seen_; }

protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        const std::string_view payload{message.payload.data(), message.payload.size()};
        if (!matched_ && payload.find(text_) != std::string_view::npos) {
            matched_ = true;
            match_.set_value();
        }
    }
    void flush_() override {}

private:
    const std::string text_;
    std::promise<void> match_;
    std::shared_future<void> seen_{match_.get_future()};
    bool matched_ = false;  // guarded by base_sink's mutex
};

}  // namespace

log_watch::log_watch(std::string text) {
    auto sink = std::make_shared<first_match_sink>(std::move(text));
    seen = sink->seen();
    logger = std::make_shared<spdlog::logger>("watched", std::move(sink));
    logger->set_level(spdlog::level::debug);
}

std::future<void> terminate_backend_once_sleeping(database& db, int pid) {
    return std::async(std::launch::async, [&db, pid] {
        const auto backend = std::to_string(pid);
        while (db.scalar("select count(*) from pg_stat_activity where pid = " + backend +
                         " and query like '%pg_sleep%'") == 0)
            std::this_thread::yield();
        db.scalar("select count(*) from (select pg_terminate_backend(" + backend + ")) t");
    });
}

}  // namespace test
