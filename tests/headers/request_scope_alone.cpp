// request_scope.hpp on its own: a request's session, committed and given back.
// Compiled, not run.
#include <asio_soci/request_scope.hpp>

asio::awaitable<void> commit_a_request(asio_soci::session_factory factory) {
    asio_soci::request_scope scope{std::move(factory)};
    asio_soci::session& s = co_await scope.session();
    co_await s.async_commit();
    scope.release();
}
