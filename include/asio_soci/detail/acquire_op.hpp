// acquire_op: session_factory::async_acquire()'s operation, which waits in the pool's
// FIFO for a connection. Templated on the session type, which it creates when the pool
// grants the lease.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/handler_holder.hpp>

#include <asio/cancellation_type.hpp>

#include <exception>
#include <memory>
#include <utility>

namespace asio_soci::detail {

/// async_acquire's operation: waits in the pool's FIFO for a connection.
template <class Session, class Handler, class Fallback>
class acquire_op final : public acquire_waiter, public completion_target {
    using allocation = op_allocation<acquire_op, Handler>;

public:
    acquire_op(typename allocation::allocator alloc, Handler&& handler, const Fallback& fallback,
               std::shared_ptr<pool> owner)
        : allocator_(alloc), holder_(std::move(handler), fallback), pool_(std::move(owner)) {}

    static void start(Handler&& handler, const Fallback& fallback, std::shared_ptr<pool> owner) {
        auto* op = allocation::create(handler, std::move(handler), fallback, std::move(owner));
        op->holder_.template start<canceller>(op);
        acquire(*op->pool_, *op);
    }

    void granted(connection_slot& slot) override {
        session_ = access::make_session<Session>(pool_, slot);
        complete();
    }

    void failed(std::exception_ptr error) override {
        error_ = std::move(error);
        complete();
    }

    void cancel_for_shutdown() noexcept override { cancel_acquire(*pool_, *this); }

    void discard() noexcept override { holder_.free_without_upcall(this); }

private:
    friend allocation;

    struct canceller {
        acquire_op* op;
        void operator()(asio::cancellation_type type) const noexcept {
            if (type != asio::cancellation_type::none)
                cancel_acquire(*op->pool_, *op);
        }
    };

    void complete() noexcept {
        // Dropped unrun (its executor shut down): the lease goes back with the operation.
        holder_.post_completion(
            this, [](acquire_op* op) { op->finish(); }, [](acquire_op* op) { op->discard(); });
    }

    void finish() {
        // Dropped here, on the caller's thread, after the upcall (see function_op).
        [[maybe_unused]] auto pool_reference = keep_through_upcall(std::move(pool_));
        holder_.free_then_upcall(this, std::move(error_), std::move(session_));
    }

    typename allocation::allocator allocator_;
    handler_holder<Handler, Fallback> holder_;
    std::shared_ptr<pool> pool_;
    Session session_;
    std::exception_ptr error_;
};

/// async_acquire()'s initiation.
template <class Session>
struct initiate_acquire {
    template <class Handler>
    void operator()(Handler handler, std::shared_ptr<pool> owner) const {
        if (!owner) {
            post_failure<Session>(std::move(handler), empty_factory());
            return;
        }
        auto fallback = executor_of(*owner);
        acquire_op<Session, Handler, worker_executor>::start(std::move(handler), fallback,
                                                             std::move(owner));
    }
};

}  // namespace asio_soci::detail
