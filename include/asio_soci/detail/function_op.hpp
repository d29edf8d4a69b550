// function_op: as_future()'s operation, the templated half that holds the user's handler
// and function; the compiled pool (src/core/) runs it.
#pragma once

#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/detail/offload_operation.hpp>
#include <asio_soci/detail/offload_traits.hpp>

#include <asio/cancellation_type.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace asio_soci::detail {

/// as_future's operation: runs `fn` on a connection's strand. With Base =
/// session_call_operation it runs on a leased session; with Base = one_shot_operation
/// it acquires first and gives the connection back after.
template <class Base, class Handler, class Fn, class Fallback>
class function_op final : public Base, public completion_target {
    using traits = offload_traits<Fn>;
    using result = typename traits::result;
    using allocation = op_allocation<function_op, Handler>;
    static constexpr bool one_shot = std::is_same_v<Base, one_shot_operation>;
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
            this->fail(std::current_exception());
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
        [[maybe_unused]] auto pool_reference = take_pool_reference();
        holder_.free_without_upcall(this);
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
        // The caller's thread, not a worker, drops the pool reference (a pool cannot
        // join its workers from one of them): after the upcall, as the last thing
        // (keep_through_upcall).
        [[maybe_unused]] auto pool_reference = take_pool_reference();
        auto error = aborted ? operation_aborted() : this->take_error();
        if constexpr (std::is_void_v<result>)
            holder_.free_then_upcall(this, std::move(error));
        else
            holder_.free_then_upcall(this, std::move(error),
                                     (!aborted && result_) ? std::move(*result_) : result{});
    }

    auto take_pool_reference() noexcept {
        if constexpr (one_shot)
            return keep_through_upcall(std::move(target_));
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
