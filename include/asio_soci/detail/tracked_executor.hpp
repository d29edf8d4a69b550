// tracked_executor: a handler's executor with outstanding work, the way an operation of
// this library holds it while the database works, and posts its completion there.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>

#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace asio_soci::detail {

template <class Executor>
using tracked_t = std::decay_t<decltype(asio::prefer(std::declval<Executor>(),
                                                     asio::execution::outstanding_work.tracked))>;

/// Keeps the io_context (or other execution context) of `Executor` from running out of
/// work until reset(), and posts to it. An any_io_executor around an io_context's own
/// executor (what co_spawn(io, ...) gives) is unwrapped, as Asio's own handler_work does:
/// the type-erased prefer, query, require and execute cost more than the rest of an
/// operation's hand-off.
template <class Executor>
class tracked_executor {
    using io_executor = asio::io_context::executor_type;

public:
    explicit tracked_executor(const Executor& executor) {
        if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
            // Asio 1.22's target<T>() casts without checking the type: ask target_type().
            if (executor.target_type() == typeid(io_executor)) {
                io_.emplace(asio::prefer(*executor.template target<io_executor>(),
                                         asio::execution::outstanding_work.tracked));
                return;
            }
        }
        work_.emplace(asio::prefer(executor, asio::execution::outstanding_work.tracked));
    }

    /// The execution context, or null for an executor that cannot name one (use_future's).
    asio::execution_context* context() const noexcept {
        if (io_)
            return &io_->context();
        if constexpr (asio::can_query_v<const tracked_t<Executor>&, asio::execution::context_t>)
            return &asio::query(*work_, asio::execution::context);
        else
            return nullptr;
    }

    template <class Function>
    void post(Function&& function) {
        if (io_)
            asio::post(*io_, std::forward<Function>(function));
        else
            asio::post(*work_, std::forward<Function>(function));
    }

    void reset() noexcept {
        io_.reset();
        work_.reset();
    }

private:
    // Exactly one is engaged until reset(); io_ only for an unwrapped any_io_executor.
    std::optional<tracked_t<io_executor>> io_;
    std::optional<tracked_t<Executor>> work_;
};

}  // namespace asio_soci::detail
