#include "pg_socket.hpp"

#include "native_connection.hpp"

#include <asio/execution/context.hpp>
#include <asio/execution_context.hpp>
#include <asio/query.hpp>

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <utility>
#include <vector>

namespace asio_soci::detail {

/// One execution context's registrations, shared by them and the context's service.
struct pg_socket_context {
    explicit pg_socket_context(asio::execution_context& c) : context(&c) {}

    /// Its reactor forgets every socket: the context shuts down.
    void shut_down() noexcept {
        std::lock_guard lock{mutex};
        open.store(false, std::memory_order_release);
        for (auto* registration : registrations)
            registration->release();
        registrations.clear();
    }

    asio::execution_context* const context;
    std::mutex mutex;  // taken before a registration's
    std::atomic<bool> open{true};
    std::vector<pg_socket_registration*> registrations;  // guarded by mutex
};

namespace {

/// A service of each context that zero-hop calls wait on. Its shutdown comes while the
/// context's reactor exists, which a connection's next use or close may not.
class pg_socket_service final : public asio::execution_context::service {
public:
    using key_type = pg_socket_service;
    static inline asio::execution_context::id id;

    explicit pg_socket_service(asio::execution_context& context)
        : asio::execution_context::service(context),
          shared_(std::make_shared<pg_socket_context>(context)) {}
    // A service made while its context was already shutting down gets no shutdown() call.
    ~pg_socket_service() override { shared_->shut_down(); }

    const std::shared_ptr<pg_socket_context>& shared() const noexcept { return shared_; }

private:
    void shutdown() override { shared_->shut_down(); }

    std::shared_ptr<pg_socket_context> shared_;
};

}  // namespace

std::shared_ptr<pg_socket_registration> pg_socket_registration::of(
    native_connection& connection, const asio::any_io_executor& io) {
    auto& context = asio::query(io, asio::execution::context);
    auto& current = connection.pg_socket();
    // A context at the address of a destroyed one has a new service, whose state is open.
    if (current && current->context_->context == &context &&
        current->context_->open.load(std::memory_order_acquire))
        return current;
    current.reset();

    auto shared = asio::use_service<pg_socket_service>(context).shared();
    // A descriptor of our own (a dup): libpq may close its socket when the connection
    // fails, and that number must not be reused while the reactor knows it.
    const int fd = ::dup(PQsocket(connection.postgresql_handle()));
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "pg: dup");
    std::optional<asio::posix::stream_descriptor> socket;
    try {
        socket.emplace(io, fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    std::lock_guard lock{shared->mutex};
    if (!shared->open.load(std::memory_order_relaxed))
        return nullptr;
    current = std::make_shared<pg_socket_registration>(shared, std::move(*socket));
    shared->registrations.push_back(current.get());
    return current;
}

pg_socket_registration::pg_socket_registration(std::shared_ptr<pg_socket_context> context,
                                               asio::posix::stream_descriptor socket)
    : context_(std::move(context)), socket_(std::move(socket)) {}

pg_socket_registration::~pg_socket_registration() {
    std::lock_guard lock{context_->mutex};  // the context cannot shut down meanwhile
    std::erase(context_->registrations, this);
    socket_.reset();
}

void pg_socket_registration::release() noexcept {
    std::lock_guard lock{mutex_};
    socket_.reset();
}

}  // namespace asio_soci::detail
