// pg_socket_registration: a PostgreSQL connection's socket as one I/O context's reactor
// knows it, kept from one zero-hop call to the next. Registering a descriptor per call
// costs five system calls (dup, ioctl, epoll_ctl add and del, close): more than the
// call's own send and receive.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <memory>
#include <mutex>
#include <optional>

namespace asio_soci::detail {

class native_connection;
struct pg_socket_context;  // what a context's registrations share: see pg_socket.cpp

class pg_socket_registration {
public:
    /// The registration of `connection`'s socket with `io`'s execution context: the
    /// connection's own when it was made there, otherwise a new one that replaces it.
    /// Null when that context is shutting down. Only from the connection's user.
    static std::shared_ptr<pg_socket_registration> of(native_connection& connection,
                                                      const asio::any_io_executor& io);

    pg_socket_registration(std::shared_ptr<pg_socket_context> context,
                           asio::posix::stream_descriptor socket);
    ~pg_socket_registration();
    pg_socket_registration(const pg_socket_registration&) = delete;
    pg_socket_registration& operator=(const pg_socket_registration&) = delete;

    /// Runs `use(asio::posix::stream_descriptor&)` unless the context has shut down (its
    /// reactor forgot the socket); false then.
    template <class Use>
    bool use(Use&& use) {
        std::lock_guard lock{mutex_};
        if (!socket_)
            return false;
        use(*socket_);
        return true;
    }

private:
    friend struct pg_socket_context;
    void release() noexcept;

    const std::shared_ptr<pg_socket_context> context_;
    std::mutex mutex_;  // the socket: its user against the context's shutdown
    std::optional<asio::posix::stream_descriptor> socket_;
};

}  // namespace asio_soci::detail
