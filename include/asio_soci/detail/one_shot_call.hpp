// The one-shot form as_future(factory, fn): the initiation that queues a function_op,
// which acquires its own connection, in the pool's FIFO.
#pragma once

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/function_op.hpp>
#include <asio_soci/detail/offload_operation.hpp>
#include <asio_soci/detail/offload_traits.hpp>
#include <asio_soci/retry_policy.hpp>

#include <asio/async_result.hpp>

#include <memory>
#include <utility>

namespace asio_soci::detail {

struct initiate_one_shot {
    template <class Handler, class Function>
    void operator()(Handler handler, std::shared_ptr<pool> owner, Function function,
                    retry_policy retry) const {
        if (auto refusal = one_shot_refusal(owner.get(), retry)) {
            post_failure<typename offload_traits<Function>::result>(std::move(handler),
                                                                    std::move(refusal));
            return;
        }
        using op = function_op<one_shot_operation, Handler, Function, worker_executor>;
        auto& target = *owner;
        auto* started = op::create(std::move(handler), std::move(function), executor_of(target),
                                   std::move(owner), true, retry);
        acquire(target, *started);
    }
};

/// Runs `fn` as a unit of work on a connection of `owner` (see as_future()).
template <class Fn, class CompletionToken>
auto async_one_shot(std::shared_ptr<pool> owner, Fn&& fn, const retry_policy& retry,
                    CompletionToken&& token) {
    using traits = offload_traits<Fn>;
    check_offload_function<Fn>();
    if constexpr (traits::invocable) {
        return asio::async_initiate<CompletionToken, typename traits::signature>(
            initiate_one_shot{}, token, std::move(owner),
            typename traits::function(std::forward<Fn>(fn)), retry);
    }
}

}  // namespace asio_soci::detail
