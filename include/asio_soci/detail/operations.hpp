// The templated halves of the asynchronous operations: they hold the user's handler
// and function, and complete on the handler's associated executor. The state machines
// that drive them are compiled, in src/pool.cpp.
#pragma once

#include <asio_soci/detail/completion_registry.hpp>
#include <asio_soci/detail/core.hpp>

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/system_error.hpp>
#include <asio/system_executor.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace soci {
class session;
}

namespace asio_soci::detail {

template <class R>
struct offload_signature {
    using type = void(std::exception_ptr, R);
};
template <>
struct offload_signature<void> {
    using type = void(std::exception_ptr);
};

/// What as_future() needs to know about a user function.
template <class Fn>
struct offload_traits {
    using function = std::decay_t<Fn>;
    static constexpr bool invocable = std::is_invocable_v<function&, soci::session&>;
    using result = std::decay_t<typename std::conditional_t<
        invocable, std::invoke_result<function&, soci::session&>, std::type_identity<void>>::type>;
    using signature = typename offload_signature<result>::type;
};

template <class Fn>
constexpr void check_offload_function() {
    using traits = offload_traits<Fn>;
    static_assert(traits::invocable,
                  "asio_soci::as_future: the function must be callable as fn(soci::session&) "
                  "(or as fn(soci::session&, args...) with the arguments given after it). "
                  "Pass a callable (e.g. [](soci::session& sql) { ... }), not the result of "
                  "calling one.");
    static_assert(std::is_void_v<typename traits::result> ||
                      std::is_default_constructible_v<typename traits::result>,
                  "asio_soci::as_future: the function's result must be default-constructible "
                  "(the completion signature is void(std::exception_ptr, T)); wrap it in "
                  "std::optional.");
}

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
    using work_executor = std::decay_t<decltype(asio::prefer(
        std::declval<executor>(), asio::execution::outstanding_work.tracked))>;

    handler_holder(Handler&& handler, const Fallback& fallback)
        : handler_(std::move(handler)),
          work_(asio::prefer(asio::get_associated_executor(handler_, fallback),
                             asio::execution::outstanding_work.tracked)),
          registry_(registry_of(*work_)) {}

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
            asio::post(*work_, [o = owner{op, std::move(drop)}, finish]() mutable {
                finish(std::exchange(o.op, nullptr));
            });
        };
        if (registry_)
            registry_->post_or_hold(*op, post);
        else
            post();
    }

    /// Moves the handler out and lets the executor's outstanding work go.
    Handler take() noexcept {
        work_.reset();
        return std::move(handler_);
    }

private:
    // An executor without an execution context to ask (use_future's) has no shutdown
    // to guard against.
    static completion_registry* registry_of(const work_executor& executor) {
        if constexpr (asio::can_query_v<const work_executor&, asio::execution::context_t>)
            return &completion_registry::of(asio::query(executor, asio::execution::context));
        else
            return nullptr;
    }

    Handler handler_;
    std::optional<work_executor> work_;
    completion_registry* registry_;
};

/// Completes `handler` with `error` (and a default result), without running anything:
/// for operations that cannot start. Posted to the handler's associated executor, never
/// run inline.
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

/// as_future's operation: runs `fn` on a connection's strand. With Base = offload_base
/// it runs on a leased session; with Base = one_shot_base it acquires first and gives
/// the connection back after.
template <class Base, class Handler, class Fn, class Fallback>
class function_op final : public Base, public completion_target {
    using traits = offload_traits<Fn>;
    using result = typename traits::result;
    using allocation = op_allocation<function_op, Handler>;
    static constexpr bool one_shot = std::is_same_v<Base, one_shot_base>;
    // The one-shot form keeps the pool alive until it has given its connection back.
    using target_type = std::conditional_t<one_shot, std::shared_ptr<pool>, connection_slot*>;

public:
    /// `interruptible`: a terminal cancellation while fn runs asks the database to stop
    /// it (user functions); otherwise fn, once started, runs to its real outcome
    /// (transaction control: a COMMIT is never reported aborted after it has started).
    template <class... BaseArgs>
    function_op(typename allocation::allocator alloc, Handler&& handler, Fn&& fn,
                const Fallback& fallback, target_type target, bool interruptible,
                BaseArgs&&... base_args)
        : Base(std::forward<BaseArgs>(base_args)...),
          allocator_(alloc),
          holder_(std::move(handler), fallback),
          fn_(std::forward<Fn>(fn)),
          target_(std::move(target)),
          interruptible_(interruptible) {}

    /// Allocates the operation, registers it and connects its canceller.
    template <class... BaseArgs>
    static function_op* create(Handler&& handler, Fn&& fn, const Fallback& fallback,
                               target_type target, bool interruptible, BaseArgs&&... base_args) {
        auto* op = allocation::create(handler, std::move(handler), std::forward<Fn>(fn), fallback,
                                      std::move(target), interruptible,
                                      std::forward<BaseArgs>(base_args)...);
        op->holder_.template start<canceller>(op);
        return op;
    }

    void execute(soci::session& sql) noexcept override {
        try {
            if constexpr (std::is_void_v<result>)
                std::invoke(fn_, sql);
            else
                result_.emplace(std::invoke(fn_, sql));
        } catch (...) {
            this->error_ = std::current_exception();
        }
    }

    void complete(bool aborted) noexcept override {
        holder_.post_completion(
            this, [aborted](function_op* op) { op->finish(aborted); },
            [](function_op* op) { op->discard(); });
    }

    void cancel_for_shutdown() noexcept override {
        canceller{this}(asio::cancellation_type::terminal);
    }

    // The executor dropped the completion unrun (it was shut down): the handler goes
    // without an upcall, and its slot no longer points here.
    void discard() noexcept override {
        holder_.cancellation_slot().clear();
        [[maybe_unused]] auto pool_reference = take_pool_reference();
        allocation::destroy(this);
    }

private:
    friend allocation;

    struct canceller {
        function_op* op;
        void operator()(asio::cancellation_type type) const noexcept {
            constexpr auto honoured = asio::cancellation_type::terminal |
                                      asio::cancellation_type::partial |
                                      asio::cancellation_type::total;
            if ((type & honoured) == asio::cancellation_type::none)
                return;
            const bool interrupt =
                op->interruptible_ &&
                (type & asio::cancellation_type::terminal) != asio::cancellation_type::none;
            if constexpr (one_shot)
                cancel_one_shot(*op->target_, *op, interrupt);
            else
                cancel_offload(*op->target_, *op, interrupt);
        }
    };

    void finish(bool aborted) {
        holder_.cancellation_slot().clear();
        // The caller's thread, not a worker, drops the pool reference (a pool cannot
        // join its workers from one of them): after the upcall, as the last thing.
        [[maybe_unused]] auto pool_reference = take_pool_reference();
        auto handler = holder_.take();
        auto error = aborted ? operation_aborted() : std::move(this->error_);
        if constexpr (std::is_void_v<result>) {
            allocation::destroy(this);  // Asio's rule: free the operation before the upcall
            std::move(handler)(error);
        } else {
            result value = (!aborted && result_) ? std::move(*result_) : result{};
            allocation::destroy(this);
            std::move(handler)(error, std::move(value));
        }
    }

    auto take_pool_reference() noexcept {
        if constexpr (one_shot)
            return std::move(target_);
        else
            return nullptr;
    }

    typename allocation::allocator allocator_;
    handler_holder<Handler, Fallback> holder_;
    typename traits::function fn_;
    target_type target_;
    const bool interruptible_;
    std::conditional_t<std::is_void_v<result>, bool, std::optional<result>> result_{};
};

}  // namespace asio_soci::detail
