// The handler side of every asynchronous operation of the library: the operation object
// allocated with the handler's allocator, the handler kept with outstanding work on its
// executor, and the completion posted there (never run inline), guarded against a
// context that shuts down by the completion_registry.
#pragma once

#include <asio_soci/detail/completion_registry.hpp>
#include <asio_soci/detail/tracked_executor.hpp>

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/system_error.hpp>
#include <asio/system_executor.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace asio_soci::detail {

template <class Handler>
using handler_allocator_t = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;

/// An operation object allocated with its handler's allocator; destroy() frees it.
template <class Op, class Handler>
struct op_allocation {
    using allocator =
        typename std::allocator_traits<handler_allocator_t<Handler>>::template rebind_alloc<Op>;

    template <class... Args>
    static Op* create(Handler& handler, Args&&... args) {
        allocator alloc(asio::get_associated_allocator(handler, asio::recycling_allocator<void>{}));
        Op* op = std::allocator_traits<allocator>::allocate(alloc, 1);
        try {
            return new (op) Op(alloc, std::forward<Args>(args)...);
        } catch (...) {
            std::allocator_traits<allocator>::deallocate(alloc, op, 1);
            throw;
        }
    }

    static void destroy(Op* op) noexcept {
        allocator alloc(op->allocator_);
        op->~Op();
        std::allocator_traits<allocator>::deallocate(alloc, op, 1);
    }
};

/// The handler side shared by every operation: the handler, outstanding work on its
/// executor, the operation's entry in the completion_registry of the executor's
/// context, and a post of the completion that owns the operation.
template <class Handler, class Fallback>
class handler_holder {
public:
    using executor = asio::associated_executor_t<Handler, Fallback>;

    handler_holder(Handler&& handler, const Fallback& fallback)
        : handler_(std::move(handler)),
          work_(asio::get_associated_executor(handler_, fallback)),
          registry_(registry_of(work_)) {}

    /// Registers the constructed operation, and connects its canceller to the
    /// handler's cancellation slot.
    template <class Canceller, class Op>
    void start(Op* op) {
        if (registry_)
            registry_->add(*op);
        auto slot = cancellation_slot();
        if (slot.is_connected())
            slot.template emplace<Canceller>(op);
    }

    auto cancellation_slot() const noexcept {
        return asio::get_associated_cancellation_slot(handler_);
    }

    /// Posts `finish(op)` to the handler's executor; if the executor drops it unrun,
    /// `drop(op)` runs instead (so a lease or a reference is never leaked). Posted, not
    /// deferred: a worker that runs a connection's queue must not hold completions back
    /// in its private queue while it goes on to the next job. While the executor's
    /// context shuts down, nothing is posted: its registry destroys the operation.
    template <class Op, class Finish, class Drop>
    void post_completion(Op* op, Finish finish, Drop drop) noexcept {
        struct owner {
            Op* op;
            Drop drop;
            owner(Op* o, Drop d) : op(o), drop(std::move(d)) {}
            owner(owner&& other) noexcept
                : op(std::exchange(other.op, nullptr)), drop(other.drop) {}
            ~owner() {
                if (op)
                    drop(op);
            }
        };
        auto post = [&] {
            work_.post([o = owner{op, std::move(drop)}, finish]() mutable {
                finish(std::exchange(o.op, nullptr));
            });
        };
        if (registry_)
            registry_->post_or_hold(*op, post);
        else
            post();
    }

    /// Ends `op` by Asio's rules: disconnects its canceller, frees the operation (and
    /// with it this holder), and only then calls the handler with `args`, values already
    /// moved out of the operation.
    template <class Op, class... Args>
    void free_then_upcall(Op* op, Args... args) {
        cancellation_slot().clear();
        work_.reset();
        auto handler = std::move(handler_);
        op_allocation<Op, Handler>::destroy(op);
        std::move(handler)(std::move(args)...);
    }

    /// Frees `op` without an upcall (its executor dropped the completion unrun): the
    /// handler goes, and its slot no longer points at the operation.
    template <class Op>
    void free_without_upcall(Op* op) noexcept {
        cancellation_slot().clear();
        op_allocation<Op, Handler>::destroy(op);
    }

private:
    // An executor without an execution context to ask (use_future's) has no shutdown
    // to guard against.
    static completion_registry* registry_of(const tracked_executor<executor>& work) {
        auto* context = work.context();
        return context ? &completion_registry::of(*context) : nullptr;
    }

    Handler handler_;
    tracked_executor<executor> work_;
    completion_registry* registry_;
};

/// Completes `handler` with `error` (and a default result), without running anything:
/// for operations that cannot start, or (with a null error) have nothing to do. Posted to the
/// handler's associated executor, never run inline.
template <class R, class Handler>
void post_failure(Handler handler, std::exception_ptr error) {
    auto executor = asio::get_associated_executor(handler, asio::system_executor{});
    asio::post(executor, [h = std::move(handler), error]() mutable {
        if constexpr (std::is_void_v<R>)
            std::move(h)(error);
        else
            std::move(h)(error, R{});
    });
}

inline std::exception_ptr operation_aborted() {
    return std::make_exception_ptr(asio::system_error(asio::error::operation_aborted));
}

}  // namespace asio_soci::detail
