// session.hpp on its own is enough to end a session's transactions: async_begin/commit/
// rollback are defined where they are declared (issue 13). Compiled, not run.
#include <asio_soci/session.hpp>

#include <asio/awaitable.hpp>
#include <asio/use_future.hpp>

asio::awaitable<void> end_transactions(asio_soci::session& s) {
    co_await s.async_begin();
    co_await s.async_commit();
    co_await s.async_rollback(asio::use_awaitable);
    s.async_commit(asio::use_future).get();
    s.release();
}
