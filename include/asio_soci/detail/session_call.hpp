// The session form of as_future() and the session's transaction-control calls: the
// initiation that puts a function_op on a leased connection's strand.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/function_op.hpp>
#include <asio_soci/detail/offload_operation.hpp>
#include <asio_soci/detail/offload_traits.hpp>
#include <asio_soci/errors.hpp>

#include <asio/async_result.hpp>

#include <exception>
#include <utility>

namespace asio_soci::detail {

/// What a session call is: the user's function (autobegins unless the factory is in
/// autocommit mode; a terminal cancellation interrupts it), or a transaction-control
/// call (never autobegins; once started, runs to its real outcome).
enum class session_call { user, transaction_control };

/// The initiation. The session is read when the operation starts (for a deferred one:
/// when it is launched, not when it is made), so a session released in between cannot
/// lend its next owner's connection.
struct initiate_session_call {
    template <class Handler, class Session, class Function>
    void operator()(Handler handler, Session* s, Function function, session_call kind) const {
        connection_slot* slot = access::slot_of(*s);
        if (!slot) {
            post_failure<typename offload_traits<Function>::result>(
                std::move(handler), std::make_exception_ptr(invalid_session(
                                        "as_future: the session holds no connection")));
            return;
        }
        using op = function_op<session_call_operation, Handler, Function, worker_executor>;
        auto& owner = *access::pool_of(*s);
        const bool user = kind == session_call::user;
        auto* started = op::create(std::move(handler), std::move(function), executor_of(owner),
                                   slot, user, user && !autocommit(owner));
        submit(*slot, *started);
    }
};

/// Runs `fn(soci::session&)` on the session's connection (see as_future()).
template <class Session, class Fn, class CompletionToken>
auto async_session_call(Session& s, Fn&& fn, CompletionToken&& token, session_call kind) {
    using traits = offload_traits<Fn>;
    check_offload_function<Fn>();
    if constexpr (traits::invocable) {
        return asio::async_initiate<CompletionToken, typename traits::signature>(
            initiate_session_call{}, token, &s, typename traits::function(std::forward<Fn>(fn)),
            kind);
    }
}

}  // namespace asio_soci::detail
