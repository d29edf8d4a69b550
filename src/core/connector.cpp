#include "connector.hpp"

#include <asio_soci/errors.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace asio_soci::detail {

namespace {

// The file a SQLite URL names, as the process resolves it (a relative path is taken from
// the working directory), for messages.
std::string absolute_sqlite_path(const database_url& url) {
    std::error_code ec;
    auto path = std::filesystem::absolute(url.database(), ec);
    return ec ? url.database() : path.lexically_normal().string();
}

}  // namespace

connector::connector(const database_url& url, const pool_options& options, spdlog::logger& logger,
                     pool_counters& counters, std::size_t pool_size)
    : url_(url),
      options_(options),
      logger_(logger),
      counters_(counters),
      pool_size_(pool_size),
      settings_(make_connect_settings(url, options.acquire_timeout)) {
    initialize_backend_statics(settings_.kind);
}

void connector::open(connection_slot& slot) {
    auto sql = std::make_unique<soci::session>();
    try {
        slot.native.open(*sql, settings_, logger_);
    } catch (const std::exception& e) {
        slot.native.close();
        pool_counters::count(counters_.connect_failures);
        std::string reason = log_message(std::runtime_error(url_.redact(e.what())), true);
        if (url_.backend() == backend::sqlite3 && !url_.is_sqlite_memory())
            reason += " (file " + absolute_sqlite_path(url_) + ")";
        {
            std::lock_guard lock{mutex_};
            backoff_ = std::clamp(backoff_ * 2, min_backoff, max_backoff);
            next_attempt_ = clock::now() + backoff_;
            last_failure_ = reason;
        }
        logger_.warn("asio_soci: cannot connect to {}: {}", url_.to_string(), reason);
        throw connection_error("cannot connect to " + url_.to_string() + ": " + reason);
    }
    {
        std::lock_guard lock{mutex_};
        backoff_ = std::chrono::milliseconds::zero();
    }
    if (options_.on_connect) {
        try {
            options_.on_connect(*sql);
        } catch (...) {
            slot.native.close();
            pool_counters::count(counters_.connect_failures);
            logger_.warn("asio_soci: on_connect failed for a new connection to {}",
                         url_.to_string());
            throw;
        }
    }
    slot.sql = std::move(sql);
    // A slot that had a connection before replaces one (broken, expired, idle too long).
    const bool replacing = slot.opened_at != clock::time_point{};
    slot.opened_at = clock::now();
    const auto open = counters_.open.fetch_add(1, std::memory_order_relaxed) + 1;
    pool_counters::count(counters_.connects);
    logger_.info("asio_soci: {} a connection to {} ({} of {} open)",
                 replacing ? "reconnected: opened" : "opened", url_.to_string(), open, pool_size_);
}

void connector::close(connection_slot& slot, const char* why) noexcept {
    if (!slot.sql)
        return;
    slot.states.clear();  // statements first: they need their session
    slot.native.close();
    slot.sql.reset();
    counters_.open.fetch_sub(1, std::memory_order_relaxed);
    if (why) {
        pool_counters::count(counters_.discarded);
        logger_.info("asio_soci: closed a connection to {}: {}", url_.to_string(), why);
    } else {
        logger_.debug("asio_soci: closed a connection to {}", url_.to_string());
    }
}

std::optional<std::string> connector::refusal() {
    std::lock_guard lock{mutex_};
    const auto now = clock::now();
    if (now >= next_attempt_)
        return std::nullopt;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
    return "cannot connect to " + url_.to_string() + ": " + last_failure_ + " (next attempt in " +
           std::to_string(wait.count() + 1) + " ms)";
}

clock::time_point connector::next_attempt() {
    std::lock_guard lock{mutex_};
    return next_attempt_;
}

}  // namespace asio_soci::detail
