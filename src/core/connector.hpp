// connector: opens and closes the pool's connections, and keeps the back-off between
// failed attempts, so that a database that is down is not hammered and a request
// learns at once why it cannot connect.
#pragma once

#include "../drivers/native_connection.hpp"
#include "connection_slot.hpp"
#include "pool_counters.hpp"

#include <asio_soci/database_url.hpp>
#include <asio_soci/pool_options.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace asio_soci::detail {

class connector {
public:
    /// Keeps references to the pool's own members, which outlive it.
    connector(const database_url& url, const pool_options& options, spdlog::logger& logger,
              pool_counters& counters, std::size_t pool_size);

    /// Opens the slot's connection and runs on_connect. Blocks: call on the slot's strand.
    /// Throws connection_error (the message names the database, never the password) or
    /// on_connect's exception; a failed connect starts or doubles the back-off.
    void open(connection_slot& slot);
    /// Closes the slot's connection, if open. `why` is logged and counted as a discard;
    /// null for a routine close (the pool's end).
    void close(connection_slot& slot, const char* why) noexcept;
    /// Why no connection may be opened now (the back-off after a failed attempt), if so.
    std::optional<std::string> refusal();
    /// When the back-off allows the next attempt.
    clock::time_point next_attempt();
    backend kind() const noexcept { return settings_.kind; }

private:
    // From 50 ms, doubling, to 1 s (so a database that comes back is used again within
    // about a second).
    static constexpr std::chrono::milliseconds min_backoff{50};
    static constexpr std::chrono::milliseconds max_backoff{1000};

    const database_url& url_;
    const pool_options& options_;
    spdlog::logger& logger_;
    pool_counters& counters_;
    const std::size_t pool_size_;
    const connect_settings settings_;

    std::mutex mutex_;
    std::chrono::milliseconds backoff_{0};  // guarded by mutex_
    clock::time_point next_attempt_{};      // guarded by mutex_
    std::string last_failure_;              // guarded by mutex_
};

}  // namespace asio_soci::detail
